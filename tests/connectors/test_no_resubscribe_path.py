"""There is no way back from an opt-out, and no way to create people (catalogue C-06, C-05).

Static checks over what could do it: the tool catalogue offers no tool that subscribes, opts
in, creates or imports people, and no vendor client holds an endpoint or a value that
subscribes anyone (HubSpot's ``…/subscribe`` and v4 ``SUBSCRIBED`` status writes, a Marketo or
Salesforce opt-out written as false). Only the literal text of the source is read: a path that
is not written down cannot be called.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mopsgate.tools.registry import all_specs

CONNECTORS = Path(__file__).resolve().parents[2] / "connectors"
# "subscribe" in any case, unless part of "unsubscribe" (or of "subscribed" / "subscriber",
# the consent verdict and a lifecycle stage, which are read, never written)
SUBSCRIBE = re.compile(r"(?<!un)subscribe(?![dr])", re.IGNORECASE)
OPT_OUT_FIELDS = ("unsubscribed", "hs_email_optout", "HasOptedOutOfEmail")


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_tool_subscribes_opts_in_creates_or_imports():
    names = set(all_specs())
    assert "propose_opt_out" in names  # the one consent tool, and it only opts out
    assert not [n for n in names if re.search(r"subscri|opt_in|optin|create|import", n)]


def test_no_vendor_client_names_a_subscribe_endpoint():
    found = [
        f"{path.relative_to(CONNECTORS)}:{line}: {text!r}"
        for path in sorted(CONNECTORS.rglob("*.py"))
        for line, text in _strings(path)
        if SUBSCRIBE.search(text) or text in ("SUBSCRIBED", "OPT_IN", "opt-in")
    ]
    assert found == []
    # the check can fail: it sees the one unsubscribe endpoint, and would see a subscribe one
    paths = _strings(CONNECTORS / "hubspot" / "paths.py")
    assert any("unsubscribe-all" in text for _, text in paths)
    assert SUBSCRIBE.search("/communication-preferences/v3/subscribe")
    assert not SUBSCRIBE.search("/statuses/batch/unsubscribe-all")


def test_opt_out_writes_only_ever_set_true():
    """Every place a vendor client writes an opt-out field sets it to true: a dict display
    ``{"unsubscribed": True}`` or a keyword; never a variable that could carry false."""
    writes = []
    for path in sorted(CONNECTORS.glob("*/writes.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value in OPT_OUT_FIELDS:
                        writes.append((path.parent.name, ast.unparse(value)))
    # HubSpot opts out through its unsubscribe-all endpoint only (see the test above)
    assert {vendor for vendor, _ in writes} == {"marketo", "salesforce"}
    assert all(value == "True" for _, value in writes), writes
