"""An Authorization header that is not ``Bearer <token>`` is told what is wrong with it. A
valid token sent without the scheme (or as ``Token …``) was answered "This token is not one
mopsgate issued", sending the user to ask for a new token they did not need."""

from __future__ import annotations

import httpx
import pytest

from mopsgate.server.settings import Settings
from tests.server.test_http_auth import CALL
from tests.support.tokens import issue_token


def post(base: str, authorization: str) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream", "Authorization": authorization}
    return httpx.post(f"{base}/mcp", json=CALL, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("shape", "says"),
    [
        ("{token}", "holds no scheme: write 'Bearer ' before the token"),
        ("Token {token}", "uses the 'Token' scheme; mopsgate takes only 'Bearer <token>'"),
        ("Basic {token}", "uses the 'Basic' scheme"),
        ('x"y {token}', "uses another scheme"),
        ("Bearer", "says Bearer but carries no token"),
    ],
)
def test_a_malformed_header_says_how_to_write_it(
    http_base: str, settings: Settings, shape: str, says: str
) -> None:
    token = issue_token(settings, "assistant")
    response = post(http_base, shape.format(token=token))
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_request" and says in body["error_description"]
    assert "not one mopsgate issued" not in response.text
    assert token not in response.text and token not in response.headers["www-authenticate"]
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


def test_the_same_token_as_a_bearer_is_accepted(http_base: str, settings: Settings) -> None:
    token = issue_token(settings, "assistant")
    assert post(http_base, f"Bearer {token}").status_code != 401
    assert post(http_base, "Bearer mgt_guessed").json()["error"] == "invalid_token"
