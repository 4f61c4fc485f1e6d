"""The JSON Schema of the permission manifest, generated from the validator's own models.

Admins edit ``permissions.toml`` in an editor; TOML language servers (taplo / Even Better TOML)
read a ``#:schema`` directive and then validate and complete while the admin types. Generating
the schema from the same pydantic models the loader validates with (descriptions included) means
the editor and ``mopsgate manifest check`` can never disagree about the shape of the file. The
cross-reference checks (unknown tools, floors, owners) stay the loader's: a schema cannot see them.
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
from functools import cache
from typing import Any

from pydantic import BaseModel, JsonValue
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from mopsgate.governance.manifest_model import Manifest

DIALECT = "https://json-schema.org/draft/2020-12/schema"
FILE_NAME = "permissions.schema.json"
DIRECTIVE = f"#:schema ./{FILE_NAME}"


@cache
def _module_classes(module: str) -> dict[str, ast.ClassDef]:
    tree = ast.parse(inspect.getsource(sys.modules[module]))
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def _own_attribute_docs(cls: type[Any]) -> dict[str, str]:
    node = _module_classes(cls.__module__).get(cls.__name__)
    docs: dict[str, str] = {}
    if node is None:
        return docs
    for before, after in zip(node.body, node.body[1:], strict=False):
        if (
            isinstance(before, ast.AnnAssign)
            and isinstance(before.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[before.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _attribute_docs(cls: type[BaseModel]) -> dict[str, str]:
    """The string under each field's annotation (its documentation), by field name, from the
    class that declares the field: the models keep their field descriptions there instead of in
    ``Field(description=...)``."""
    docs: dict[str, str] = {}
    for name in cls.model_fields:
        owner = next((c for c in cls.__mro__ if name in inspect.get_annotations(c)), None)
        doc = _own_attribute_docs(owner).get(name) if owner is not None else None
        if doc is not None:
            docs[name] = doc
    return docs


class _TomlSchema(GenerateJsonSchema):
    """TOML has no null: an optional key is simply left out, so ``X | None`` is shown as ``X``
    (otherwise editors would offer ``null`` as a completion that can never parse)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._models: list[type[BaseModel]] = []

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        self._models.append(schema["cls"])
        try:
            return super().model_schema(schema)
        finally:
            self._models.pop()

    def model_fields_schema(self, schema: core_schema.ModelFieldsSchema) -> JsonSchemaValue:
        """A field without a description of its own is described by its attribute docstring,
        where pydantic's ``use_attribute_docstrings`` would have put it."""
        model = self._models[-1] if self._models else None
        docs = _attribute_docs(model) if model is not None else {}
        fields = dict(schema["fields"])
        for name, doc in docs.items():
            field = fields.get(name)
            if field is None or model is None or model.model_fields[name].description is not None:
                continue
            metadata: dict[str, Any] = dict(field.get("metadata") or {})
            updates = dict(metadata.get("pydantic_js_updates") or {})
            title = {"title": updates.pop("title")} if "title" in updates else {}
            metadata["pydantic_js_updates"] = {**title, "description": doc, **updates}
            fields[name] = {**field, "metadata": metadata}
        return super().model_fields_schema({**schema, "fields": fields})

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        """A table keyed by identifiers: pydantic says ``patternProperties``, which lets any
        other key through; ``propertyNames`` refuses a look-alike key as the loader does."""
        out = super().dict_schema(schema)
        patterns = out.pop("patternProperties", None)
        if isinstance(patterns, dict) and len(patterns) == 1:
            ((pattern, value),) = patterns.items()
            out["propertyNames"] = {"pattern": pattern}
            out["additionalProperties"] = value
        elif patterns is not None:
            out["patternProperties"] = patterns
        return out

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        out = super().default_schema(schema)
        if out.get("default", 0) is None:
            del out["default"]
        return out


def manifest_schema() -> dict[str, JsonValue]:
    body = Manifest.model_json_schema(schema_generator=_TomlSchema)
    body.pop("title", None)
    return {"$schema": DIALECT, "title": "mopsgate permission manifest", **body}


def manifest_schema_text() -> str:
    """The schema as committed: stable key order, two-space indent, trailing newline."""
    return json.dumps(manifest_schema(), indent=2, ensure_ascii=False) + "\n"
