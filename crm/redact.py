"""Masking of personal data and credentials inside free text, for every layer.

Vendor error messages echo what they refused (an address, a phone number, sometimes a token),
and they travel up every path: to the assistant, into change outcomes and into the audit log.
``crm.errors`` masks them where they are made, with the same functions the governance layer
(``governance.pii``) uses on arguments and records, so one definition of "masked" holds.
"""

from __future__ import annotations

import hashlib
import json
import re

MASK = "***"
# A vendor's message is for a human to read, not a payload: long ones are cut.
MAX_MESSAGE = 1000

# Bounded repetitions keep the scan linear on hostile multi-megabyte strings.
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,8}[A-Za-z]{2,24}"
)
_PHONE_RE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().-]{5,22}\d(?!\w)")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_BEARER_RE = re.compile(r"(?i)\b(bearer|basic)\s+(?=[\w.~+/=-]{0,64}\d)[\w.~+/=-]{16,}")


def _safe(value: str) -> str:
    """Lone surrogates cannot be stored in SQLite; replacing them keeps a hostile argument from
    turning an ordinary refusal into an audit failure."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def fingerprint(value: object) -> str:
    """A short, non-reversible stand-in for a secret, still useful for correlation."""
    if isinstance(value, str):
        raw = _safe(value).encode("utf-8")
    else:
        raw = json.dumps(value, sort_keys=True, default=str).encode("utf-8", "replace")
    return "sha256:" + hashlib.sha256(raw).hexdigest()[:8]


def mask_email(value: str) -> str:
    local, sep, domain = value.strip().rpartition("@")
    if not sep or not local:
        return mask_name(value)
    return f"{local[0]}{MASK}@{domain}"


def mask_phone(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) <= 4:
        return MASK
    return f"{MASK}-{digits[-4:]}"


def mask_name(value: str) -> str:
    value = value.strip()
    return f"{value[0]}{MASK}" if value else ""


def _looks_like_phone(candidate: str) -> bool:
    digits = sum(ch.isdigit() for ch in candidate)
    if _DATE_RE.search(candidate):
        return False
    if candidate.startswith("+"):
        return 7 <= digits <= 15
    has_separator = any(not ch.isdigit() for ch in candidate)
    return has_separator and 10 <= digits <= 15


def mask_text(value: str, max_len: int | None = None) -> str:
    """Mask e-mail addresses, phone numbers and bearer credentials inside free text; with
    ``max_len``, first cut the text (with a visible marker) so the scan and the row stay small."""
    if max_len is not None and len(value) > max_len:
        value = f"{value[:max_len]}…[truncated {len(value) - max_len} chars]"
    value = _safe(value)
    if "@" in value:
        value = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), value)
    value = _BEARER_RE.sub(lambda m: f"{m.group(1)} {fingerprint(m.group(0))}", value)
    value = _JWT_RE.sub(lambda m: fingerprint(m.group(0)), value)
    return _PHONE_RE.sub(
        lambda m: mask_phone(m.group(0)) if _looks_like_phone(m.group(0)) else m.group(0), value
    )
