"""One typed error tree for all vendors.

Each client maps its vendor's envelopes (Marketo's HTTP-200 ``success:false``, HubSpot's
``{status,message,category}``, Salesforce's ``[{message,errorCode,fields}]``) onto these in one
function, so the retry policy and the governance layer never look at vendor payloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mopsgate.crm.redact import MAX_MESSAGE, mask_text


@dataclass
class RecordError:
    ref: str
    code: str
    message: str

    def __post_init__(self) -> None:
        self.message = mask_text(self.message, MAX_MESSAGE)


class VendorError(Exception):
    """Base of everything a vendor call can fail with; ``message`` is the vendor's own words,
    with addresses, phone numbers and credentials masked (catalogue L-11): a validation error
    that echoes ``jane@acme.com`` reaches the assistant, the change outcome and the audit log
    as ``j***@acme.com``."""

    retryable = False

    def __init__(
        self,
        vendor: str,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        record_errors: list[RecordError] | None = None,
    ) -> None:
        message = mask_text(message, MAX_MESSAGE)
        super().__init__(f"{vendor}: {message}" + (f" ({code})" if code else ""))
        self.vendor = vendor
        self.message = message
        self.http_status = http_status
        self.code = code
        self.retry_after = retry_after
        self.record_errors = record_errors or []


class AuthError(VendorError):
    """Credentials refused; re-authenticating will not help."""


class TokenExpired(VendorError):
    """The access token expired or was revoked; the client re-authenticates once and retries."""

    retryable = True


class RateLimitError(VendorError):
    """A short-window limit (Marketo 606/615, HubSpot 429); retried after a wait."""

    retryable = True


class QuotaExceeded(VendorError):
    """A daily allocation is spent (Marketo 607, Salesforce REQUEST_LIMIT_EXCEEDED); not retried."""


class ServerError(VendorError):
    """5xx or a vendor 'try again' code; retried when the request is safe to repeat."""

    retryable = True


class InvalidRequest(VendorError):
    """The vendor rejected the input (400, unknown field, wrong type)."""


class NotFoundError(VendorError):
    pass


class Forbidden(VendorError):
    """The integration user lacks the vendor-side permission (field-level security etc.)."""


class Conflict(VendorError):
    pass


class MalformedResponse(VendorError):
    """The body was not what the vendor documents (HTML from a proxy, truncated JSON...)."""


class TransportFailure(VendorError):
    """Connection refused, DNS, TLS or timeout: no HTTP answer at all."""

    retryable = True


class NotSupportedByVendor(VendorError):
    """The operation has no equivalent in this vendor's API."""

    def __init__(self, vendor: str, operation: str, why: str = "") -> None:
        message = f"{operation} is not supported by {vendor}" + (f": {why}" if why else "")
        super().__init__(vendor, message, code="not_supported")
        self.operation = operation


@dataclass
class ConfigError(Exception):
    """A production connector is missing configuration; names the variable to set."""

    connector: str
    variable: str
    hint: str = field(default="")

    def __str__(self) -> str:
        return (
            f"connector {self.connector!r} is in production but {self.variable} is not set; "
            f"set it in the environment or .env{(' (' + self.hint + ')') if self.hint else ''}"
        )


@dataclass
class HostNotAllowed(ConfigError):
    """A production connector was about to call a host outside its allowlist (catalogue I-12):
    the request is not sent, so neither the credentials nor the data reach it."""

    host: str = ""

    def __str__(self) -> str:
        return (
            f"connector {self.connector!r} may not call {self.host or 'an unnamed host'}: it is "
            f"not one of the vendor's documented hosts nor listed in {self.variable}"
            f"{(' (' + self.hint + ')') if self.hint else ''}"
        )
