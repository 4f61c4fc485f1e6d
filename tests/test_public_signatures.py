"""No ``Any`` in the public signatures of governance/ and tools/ (issue #9, acceptance).

``Any`` switches type checking off for every caller: a value typed ``Any`` can be passed where
anything is expected and nothing warns. The core and the tools are what the rest of the house
calls, so their public functions and methods (``__init__`` included, so a dataclass's fields
count) say what they take and return. The hints are resolved, not read as text, so ``Any``
hidden in an alias (``Row = tuple[Any, ...]``) is found too. Pydantic model fields are data
schemas, not signatures, and are not checked here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, get_args, get_origin, get_type_hints

import pytest

from tests.support import any_sample

PACKAGES = ("mopsgate.governance", "mopsgate.tools")
CHECKED_DUNDERS = ("__init__", "__call__")


def mentions_any(hint: object, seen: frozenset[int] = frozenset()) -> bool:
    """Whether ``Any`` appears anywhere in a resolved hint, through aliases and generics."""
    if hint is Any:
        return True
    if id(hint) in seen:  # recursive aliases (pydantic's JsonValue) refer to themselves
        return False
    seen |= {id(hint)}
    parts = [getattr(hint, "__value__", None), get_origin(hint), *get_args(hint)]
    return any(mentions_any(p, seen) for p in parts if p is not None)


def _functions(cls: type) -> Iterator[tuple[str, Callable[..., object]]]:
    for name, member in list(vars(cls).items()):
        if name.startswith("_") and name not in CHECKED_DUNDERS:
            continue
        if isinstance(member, classmethod | staticmethod):
            member = member.__func__
        elif isinstance(member, property):
            member = member.fget
        if inspect.isfunction(member) and member.__module__ == cls.__module__:
            yield name, member


def public_callables(module: ModuleType) -> Iterator[tuple[str, Callable[..., object]]]:
    """The module's own public functions, and the public methods of its own public classes."""
    for name, obj in list(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            for method, fn in _functions(obj):
                yield f"{name}.{method}", fn


def typing_only_names(module: ModuleType) -> dict[str, object]:
    """The names a module imports under ``if TYPE_CHECKING:`` (to keep an import off a path
    that does not need it), imported here as the type checker sees them, so a hint naming one
    resolves."""
    names: dict[str, object] = {}
    for node in ast.parse(inspect.getsource(module)).body:
        if not (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"):
            continue
        for imp in node.body:
            if isinstance(imp, ast.ImportFrom) and imp.module and not imp.level:
                source = importlib.import_module(imp.module)
                names.update({a.asname or a.name: getattr(source, a.name) for a in imp.names})
    return names


def problems_in(module: ModuleType) -> list[str]:
    found = []
    typing_only = typing_only_names(module)
    for name, fn in public_callables(module):
        where = f"{module.__name__}.{name}"
        try:
            hints = get_type_hints(fn, localns=typing_only, include_extras=True)
        except Exception as exc:  # a hint the checker cannot resolve is not known to be clean
            found.append(f"{where}: cannot resolve its annotations ({exc})")
            continue
        found += [f"{where} ({arg})" for arg, hint in hints.items() if mentions_any(hint)]
    return found


def modules() -> list[ModuleType]:
    out = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        names = [m.name for m in pkgutil.iter_modules(pkg.__path__)]
        out += [importlib.import_module(f"{package}.{name}") for name in names]
    return out


def test_the_checker_finds_any_directly_in_aliases_and_in_methods() -> None:
    """The check itself can fail: Any as a parameter, inside an alias and generics, on a method
    (and a private method is left alone)."""
    assert sorted(problems_in(any_sample)) == [
        "tests.support.any_sample.Box.get (return)",
        "tests.support.any_sample.aliased (rows)",
        "tests.support.any_sample.plain (x)",
    ]


@pytest.mark.parametrize("module", modules(), ids=lambda m: m.__name__.removeprefix("mopsgate."))
def test_no_public_signature_mentions_any(module: ModuleType) -> None:
    assert problems_in(module) == []
