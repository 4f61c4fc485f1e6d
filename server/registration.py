"""Turns ToolSpecs into MCP tools.

The registered function is a shell: its signature is generated from the spec's input model so
the SDK publishes the right input schema, but it runs only with the arguments and context the
pipeline has already validated and decided on. Called any other way it refuses.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from mopsgate.connectors.errors import ConfigError, VendorError
from mopsgate.governance.errors import GovernanceError
from mopsgate.governance.risk import annotations_for
from mopsgate.server.errors import error_text, from_vendor, internal_error
from mopsgate.server.pipeline import ACTIVE_CALL
from mopsgate.tools.spec import ToolSpec


def _signature(spec: ToolSpec[Any, Any]) -> inspect.Signature:
    params = []
    for name, info in spec.input_model.model_fields.items():
        default = (
            inspect.Parameter.empty
            if info.is_required()
            else info.get_default(call_default_factory=True)
        )
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[
                    (
                        info.annotation,
                        *info.metadata,
                        Field(
                            description=info.description,
                            json_schema_extra=info.json_schema_extra,
                        ),
                    )
                ],
            )
        )
    return inspect.Signature(params, return_annotation=spec.output_model)


def make_tool_function(spec: ToolSpec[Any, Any]) -> Any:
    async def tool(**_kwargs: Any) -> Any:
        active = ACTIVE_CALL.get()
        if active is None or active.spec is not spec:
            raise ToolError("[not_permitted] this tool only runs through the governed pipeline.")
        try:
            return await spec.handler(active.ctx, active.args)
        except GovernanceError as exc:
            active.error = exc
        except (VendorError, ConfigError) as exc:
            active.error = from_vendor(exc)
        except Exception as exc:
            active.error = internal_error(spec.name, exc)
        raise ToolError(error_text(active.error))

    tool.__name__ = spec.name
    tool.__doc__ = spec.description
    tool.__signature__ = _signature(spec)  # type: ignore[attr-defined]
    return tool


def register_tools(server: MCPServer, specs: dict[str, ToolSpec[Any, Any]]) -> None:
    for spec in specs.values():
        server.add_tool(
            make_tool_function(spec),
            name=spec.name,
            title=spec.title,
            description=spec.description,
            annotations=ToolAnnotations(**annotations_for(spec.risk)),
            structured_output=True,
        )
