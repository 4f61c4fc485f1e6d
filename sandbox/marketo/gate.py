"""What Marketo checks before a REST call runs, in the order Marketo applies them: the rate
window and the concurrency cap (606, 615), the access token (600, 601, 602), the daily quota
(607), injected gateway errors (HTTP 502) and the write fault (611). Identity calls are free of
all of it. Marketo answers these with HTTP 200 and ``success:false``, and stamps nothing."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from mopsgate.sandbox.emulator_base import Access, DailyQuota, EmulatorCore, request_line
from mopsgate.sandbox.marketo.wire import Envelope


class MarketoChecks:
    def __init__(self, core: EmulatorCore, quota: DailyQuota, envelope: Envelope) -> None:
        self.core = core
        self.quota = quota
        self.envelope = envelope

    def refuse(self, request: Request, access: Access, write: bool) -> Response | None:
        if access is Access.TOKEN:
            return None
        core, fail = self.core, self.envelope.failure
        if not core.window.hit() or core.faults.take_rate_limit():
            return fail("606", "Max rate limit '100' exceeded with in '20' secs")
        if core.over_concurrency():
            return fail("615", "Concurrent access limit reached")
        verdict = core.token_state(request.headers.get("authorization"))
        if verdict == "missing":
            return fail("600", "Access token not specified")
        if verdict != "ok":
            code, text = ("602", "expired") if verdict == "expired" else ("601", "invalid")
            return fail(code, f"Access token {text}")
        if not self.quota.take():
            return fail("607", "Daily quota reached")
        if core.faults.take_server_error(request_line(request)):
            return PlainTextResponse("<html>502 Bad Gateway</html>", status_code=502)
        if write and core.write_should_fail():
            return fail("611", "System error")
        return None

    def stamp(self, request: Request, response: Response) -> None:
        return None
