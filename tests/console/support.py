"""A review console on a free port for tests, with real proposals to review.

Changes are proposed the way an assistant proposes them (the MCP tools over an in-memory
client), against the same sandbox emulators the console reads names from. Reviewers' passkeys
are software keys (``tests.support.reviewers.SoftPasskey``) declared in the manifest before the
console starts: HTTP-level tests sign with them directly; browser tests load them into
Chromium's virtual authenticator, so the browser performs the real WebAuthn ceremony.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from mcp import Client
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from mopsgate.server.app import Runtime, build_runtime, build_server
from mopsgate.server.console.app import build_console_app
from mopsgate.server.console.desk import ConsoleDesk
from mopsgate.server.console.passkeys import user_handle
from mopsgate.server.console.web import ConsoleConfig
from mopsgate.server.settings import Settings
from tests.conftest import text_of
from tests.server.loopback import serving
from tests.support.reviewers import SoftPasskey

REASON = "The user asked for this in the weekly MOPs sync"


@dataclass
class Site:
    base: str  # http://localhost:PORT, the console's origin
    settings: Settings
    runtime: Runtime
    desk: ConsoleDesk
    passkeys: dict[str, SoftPasskey] = field(default_factory=dict)


def passkey_for(reviewer: str) -> SoftPasskey:
    """A distinct software passkey per reviewer, the same on every run."""
    seed = sum(map(ord, reviewer)) * 7919 + 1
    return SoftPasskey(credential_id=f"test-passkey-{reviewer}".encode(), seed=seed)


def declare_passkeys(settings: Settings, reviewers: tuple[str, ...]) -> dict[str, SoftPasskey]:
    keys = {name: passkey_for(name) for name in reviewers}
    with settings.manifest_path.open("a", encoding="utf-8") as fh:
        for name, key in keys.items():
            fh.write(key.table(name))
    return keys


@contextmanager
def console_site(
    settings: Settings,
    reviewers: tuple[str, ...] = ("mops-lead", "compliance"),
    extra_manifest: str = "",
) -> Iterator[Site]:
    """A console on a free port over ``settings``, with passkeys declared for ``reviewers``
    (and ``extra_manifest`` appended) before anything is proposed."""
    if extra_manifest:
        with settings.manifest_path.open("a", encoding="utf-8") as fh:
            fh.write(extra_manifest)
    keys = declare_passkeys(settings, reviewers)
    runtime = build_runtime(settings, env={})
    desk = ConsoleDesk.build(settings, env={})

    def app(sock: socket.socket) -> Any:
        origin = f"http://localhost:{sock.getsockname()[1]}"
        return build_console_app(
            desk, ConsoleConfig(origin=origin), bound=("127.0.0.1", sock.getsockname()[1])
        )

    with serving(app, lifespan="on") as base:
        yield Site(base.replace("127.0.0.1", "localhost"), settings, runtime, desk, keys)


def propose(
    runtime: Runtime, tool: str, principal: str = "assistant", **args: Any
) -> dict[str, Any]:
    """Call a propose_* tool as an assistant would; its structured result."""

    async def go() -> dict[str, Any]:
        server = build_server(runtime, transport="memory", resolve_principal=lambda _c: principal)
        async with Client(server) as client:
            result = await client.call_tool(tool, {"reason": REASON, **args})
        assert not result.is_error, text_of(result)
        out: dict[str, Any] = result.structured_content
        return out

    # A thread of its own: a browser test's Playwright (sync API) owns this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


class Reviewer:
    """A reviewer's browserless session: the same requests the console's script makes, signed
    with the reviewer's software passkey."""

    def __init__(self, site: Site, passkey: SoftPasskey) -> None:
        self.site = site
        self.passkey = passkey
        self.http = httpx.Client(base_url=site.base, headers={"Origin": site.base})
        self.csrf = ""

    def close(self) -> None:
        self.http.close()

    def page(self, path: str) -> httpx.Response:
        response = self.http.get(path)
        found = re.search(r'<meta name="csrf-token" content="([^"]+)"', response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post_json(self, path: str, body: object) -> httpx.Response:
        return self.http.post(path, json=body, headers={"X-CSRF-Token": self.csrf})

    def assertion(self, options: dict[str, Any], handle: bytes | None = None) -> dict[str, Any]:
        challenge = base64url_to_bytes(options["challenge"])
        response: dict[str, Any] = self.passkey.assert_(challenge, "localhost", self.site.base)
        if handle is not None:
            response["userHandle"] = bytes_to_base64url(handle)
        return {
            "id": self.passkey.id,
            "rawId": self.passkey.id,
            "type": "public-key",
            "response": response,
        }

    def log_in(self, reviewer: str) -> httpx.Response:
        self.page("/login")
        options = self.post_json("/login/options", {}).json()
        done = self.post_json("/login/verify", self.assertion(options, user_handle(reviewer)))
        self.page("/queue")
        return done

    def decide(
        self, change_id: str, decision: str, note: str = "", **checks: str
    ) -> httpx.Response:
        self.page(f"/changes/{change_id}")
        form = {"csrf": self.csrf, "decision": decision, "note": note}
        form |= {f"check-{k.replace('_', '-')}": v for k, v in checks.items()}
        base = f"/changes/{change_id}/decide"
        options = self.http.post(f"{base}/options", data=form, headers={"X-CSRF-Token": self.csrf})
        if options.status_code != 200:
            return options
        return self.post_json(f"{base}/verify", self.assertion(options.json()))
