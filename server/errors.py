"""The one place failures become the typed refusals a caller is told.

Text follows one shape so an assistant can act on it: ``[code] what was wrong. What to do: …
(rule <id>)``. Nothing from an unexpected exception (tracebacks, upstream bodies, secrets)
ever reaches the client: those become a generic internal error, logged to stderr.
"""

from __future__ import annotations

import logging

from mopsgate.crm.errors import (
    AuthError,
    ConfigError,
    Forbidden,
    InvalidRequest,
    NotFoundError,
    NotSupportedByVendor,
    QuotaExceeded,
    RateLimitError,
    VendorError,
)
from mopsgate.governance.errors import (
    GovernanceError,
    InvalidInput,
    NotFound,
    NotSupported,
    RateLimited,
    UpstreamAuthFailed,
    UpstreamFailure,
    UpstreamForbidden,
)

log = logging.getLogger("mopsgate.errors")


def from_vendor(exc: VendorError | ConfigError) -> GovernanceError:
    """Vendor failures keep the vendor's own message; the hint says what the user can do."""
    if isinstance(exc, ConfigError):  # e.g. a reload switched a connector to production
        return UpstreamFailure(
            f"{exc}.",
            hint="Nothing was sent. Ask the platform owner to "
            "configure the connector or switch it back to sandbox.",
        )
    if isinstance(exc, NotSupportedByVendor):
        return NotSupported(exc.message, hint="Use another connector or tool for this.")
    details = {"vendor_code": exc.code, "http_status": exc.http_status}
    if isinstance(exc, InvalidRequest):
        # The vendor (or the client, before sending) refused what the arguments asked for: an
        # owner name where an id goes, a malformed value. That is the caller's to fix, not
        # the platform owner's, so it is said as an input error.
        return InvalidInput(
            f"{exc.vendor} refused the input: {exc.message}",
            hint="Fix the argument it names (ids, not names: read them from a read tool) and "
            "call again; nothing was changed.",
            details=details,
        )
    if isinstance(exc, NotFoundError):
        return NotFound(
            f"{exc.vendor} has no such record: {exc.message}",
            hint="Use a reference returned by a read tool; nothing was changed.",
            details=details,
        )
    if isinstance(exc, (RateLimitError, QuotaExceeded)):
        wait = exc.retry_after
        return RateLimited(
            f"{exc.vendor} refused the call: {exc.message}"
            + (f" (it asks to retry after {wait:.0f} s)" if wait is not None else ""),
            hint="Wait and try again later; the vendor's API budget is spent.",
            details={"retry_after": wait} if wait is not None else {},
        )
    if isinstance(exc, AuthError):
        return UpstreamAuthFailed(
            f"{exc.vendor} refused mopsgate's credentials: {exc.message}",
            hint="Nothing was sent or changed, and calls will fail alike until the platform "
            "owner re-authorises the connector (a revoked or expired refresh token, or a "
            "wrong client secret).",
            details=details,
        )
    if isinstance(exc, Forbidden):
        return UpstreamForbidden(
            f"{exc.vendor} refused it with its own permissions: {exc.message}",
            hint="The manifest allows this but the CRM's integration user may not (field-level "
            "security, profile or scopes). Nothing was changed by mopsgate; ask the CRM admin "
            "to grant it, or the manifest owner to stop allowing it.",
            details=details,
        )
    return UpstreamFailure(
        f"{exc.vendor} returned an error: {exc.message}",
        hint="Check the record references and try again; if it persists, "
        "ask the platform owner to check the connector.",
        details=details,
    )


def error_text(exc: GovernanceError) -> str:
    text = f"[{exc.code}] {exc.message}"
    if exc.hint:
        text += f" What to do: {exc.hint}"
    if exc.rule_id:
        text += f" (rule {exc.rule_id})"
    return text


def internal_error(tool: str, exc: BaseException) -> GovernanceError:
    log.error("tool %s failed unexpectedly", tool, exc_info=exc)
    return GovernanceError(
        f"{tool} failed with an internal error ({type(exc).__name__}).",
        hint="Nothing was changed. Report it to the platform owner; the "
        "server log has the details.",
    )
