"""A tool result goes to the SDK in its wire form: exactly what the protocol's own result model
would have been dumped to, for an answer and for a refusal."""

from __future__ import annotations

import json

import pydantic_core
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from mopsgate.governance.errors import NotPermitted
from mopsgate.server.errors import error_text
from mopsgate.server.pipeline import Answered, Refused
from mopsgate.server.surface import to_call_result


class Out(BaseModel):
    ref: str


def wire(result: CallToolResult) -> str:
    return json.dumps(result.model_dump(by_alias=True, mode="json", exclude_none=True))


def test_an_answer_is_sent_as_the_protocol_model_would_send_it() -> None:
    data = {"ref": "marketo:lead:1", "fields": {"title": None, "city": "Zürich"}, "tags": [None]}
    text = pydantic_core.to_json(data, indent=2).decode()
    model = CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)
    assert json.dumps(to_call_result(Answered(Out(ref="marketo:lead:1"), data))) == wire(model)


def test_a_refusal_is_sent_as_the_protocol_model_would_send_it() -> None:
    error = NotPermitted("get_person is not permitted", hint="Ask for a grant.", rule_id="r1")
    text = error_text(error)
    model = CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
    assert json.dumps(to_call_result(Refused(error))) == wire(model)
