"""The JSON Schema of the permission manifest, generated from the validator's own models.

Admins edit ``permissions.toml`` in an editor; TOML language servers (taplo / Even Better TOML)
read a ``#:schema`` directive and then validate and complete while the admin types. Generating
the schema from the same pydantic models the loader validates with (descriptions included) means
the editor and ``mopsgate manifest check`` can never disagree about the shape of the file. The
cross-reference checks (unknown tools, floors, owners) stay the loader's: a schema cannot see them.
"""

from __future__ import annotations

import json

from pydantic import JsonValue
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from mopsgate.governance.manifest_model import Manifest

DIALECT = "https://json-schema.org/draft/2020-12/schema"
FILE_NAME = "permissions.schema.json"
DIRECTIVE = f"#:schema ./{FILE_NAME}"


class _TomlSchema(GenerateJsonSchema):
    """TOML has no null: an optional key is simply left out, so ``X | None`` is shown as ``X``
    (otherwise editors would offer ``null`` as a completion that can never parse)."""

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
