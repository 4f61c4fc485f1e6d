"""The governance error tree.

Every refusal the core makes is one of these. Each carries a stable ``code`` (machine readable,
recorded in the audit log), a message saying what was wrong and a ``hint`` saying what to do next.
The server turns them into MCP tool errors in exactly one place (``server/errors.py``).
"""

from __future__ import annotations

from typing import Any


class GovernanceError(Exception):
    code = "error"

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        rule_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.rule_id = rule_id
        self.details = details or {}

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


class ManifestError(GovernanceError):
    code = "manifest_invalid"


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
