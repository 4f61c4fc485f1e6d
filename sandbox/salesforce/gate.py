"""What Salesforce checks before a REST call runs, in its order, and the header it stamps.

Unknown API versions are 404; then the session (401 ``INVALID_SESSION_ID``), injected faults, the
org's rolling 24-hour allocation (403 ``REQUEST_LIMIT_EXCEEDED``) and the write fault. Token and
version calls do not count against the allocation, as in Salesforce. Every API answer carries
``Sforce-Limit-Info``.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response

from mopsgate.sandbox.emulator_base import Access, EmulatorCore, request_line
from mopsgate.sandbox.salesforce.errors import not_found, sf_error


class SalesforceChecks:
    def __init__(self, core: EmulatorCore, versions: Sequence[str]) -> None:
        self.core = core
        self.versions = tuple(versions)

    def refuse(self, request: Request, access: Access, write: bool) -> Response | None:
        if access is Access.TOKEN:
            return None
        version = request.path_params.get("version")
        if version is not None and version.removeprefix("v") not in self.versions:
            return not_found()
        core, faults = self.core, self.core.faults
        if core.token_state(request.headers.get("authorization")) != "ok":
            return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if faults.take_rate_limit():
            return sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if faults.take_server_error(request_line(request)):
            return sf_error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
        if access is Access.API and not core.window.hit():
            return sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if write and core.write_should_fail():
            return sf_error(
                500,
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please "
                "include this ErrorId if you contact support: 0-0 (-1)",
            )
        return None

    def stamp(self, request: Request, response: Response) -> None:
        window = self.core.window
        response.headers["Sforce-Limit-Info"] = f"api-usage={window.used()}/{window.max_calls}"
