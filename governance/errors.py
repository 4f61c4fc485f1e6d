"""The governance error tree.

Every refusal the core makes is one of these. Each carries a stable ``code`` (machine readable,
recorded in the audit log), a message saying what was wrong and a ``hint`` saying what to do next.
The server turns them into MCP tool errors in exactly one place (``server/errors.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue


class GovernanceError(Exception):
    code = "error"

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        rule_id: str | None = None,
        details: Mapping[str, JsonValue] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.rule_id = rule_id
        self.details: dict[str, JsonValue] = dict(details) if details else {}

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class NotPermitted(GovernanceError):
    """The manifest does not allow this principal to do this."""

    code = "not_permitted"


class UnknownPrincipal(NotPermitted):
    code = "unknown_principal"


class InvalidInput(GovernanceError):
    code = "invalid_input"


class NotFound(GovernanceError):
    code = "not_found"


class NotSupported(GovernanceError):
    code = "not_supported"


class RateLimited(GovernanceError):
    code = "rate_limited"


class FloorViolation(GovernanceError):
    """The compliance floor forbids this whatever the manifest says."""

    code = "compliance_floor"


class AuditUnavailable(GovernanceError):
    """The audit row could not be written durably, so the call must not proceed."""

    code = "audit_unavailable"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a manifest, at its position in the file."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class ManifestError(GovernanceError):
    """The manifest does not load; ``problems`` says everything wrong with it, in order."""

    code = "manifest_invalid"

    def __init__(self, message: str, *, hint: str = "", problems: Sequence[Problem] = ()) -> None:
        super().__init__(message, hint=hint)
        self.problems = list(problems)


class ChangeRefused(GovernanceError):
    """A lifecycle transition (approve, apply, cancel…) is refused."""

    code = "change_refused"


class StaleChange(ChangeRefused):
    code = "stale"


class Frozen(ChangeRefused):
    code = "frozen"


class TokenInvalid(ChangeRefused):
    code = "invalid_confirmation"


class UpstreamFailure(GovernanceError):
    """The vendor failed; the message is the vendor's, without secrets."""

    code = "upstream_error"


class UpstreamForbidden(UpstreamFailure):
    """The CRM's own permissions refused what the manifest allows (field-level security, a
    profile, missing scopes): complete mediation working, and a mismatch to report."""

    code = "upstream_forbidden"


class UpstreamAuthFailed(UpstreamFailure):
    """The vendor refused mopsgate's own credentials (a revoked or expired refresh token, a
    wrong client secret): no call can succeed until the platform owner re-authorises."""

    code = "upstream_auth_failed"
