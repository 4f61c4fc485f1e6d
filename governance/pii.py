"""PII masking and secret redaction.

Two audiences: read tools mask the PII fields the manifest names before a record reaches the
model, and the audit writer runs :func:`mask_arguments` over everything it stores, because the
audit log is kept for years and copied to auditors — it must prove *what happened* without
becoming a second copy of the CRM's personal data or a store of credentials.

Masking is deliberately lossy and deterministic-looking ("j***@acme.com") so a human can still
tell calls apart; secrets are reduced to a short sha256 prefix so two calls with the same token
can be correlated without the token being recoverable.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

from pydantic import JsonValue

from mopsgate.crm.redact import _safe
from mopsgate.crm.redact import fingerprint as fingerprint
from mopsgate.crm.redact import mask_email as mask_email
from mopsgate.crm.redact import mask_name as mask_name
from mopsgate.crm.redact import mask_phone as mask_phone
from mopsgate.crm.redact import mask_text as mask_text

MaskKind = Literal["email", "phone", "name", "secret", "text"]

MAX_DEPTH = 32
MAX_STR_LEN = 4096

_SECRET_KEY_PARTS = (
    "token",
    "secret",
    "password",
    "passwd",
    "authorization",
    "apikey",
    "cookie",
    "credential",
    "privatekey",
    "signature",
)
_PII_KEY_PARTS = ("email", "phone", "mobile", "fax", "street", "address", "postal", "zipcode")
_NAME_KEYS = {"firstname", "lastname", "middlename", "fullname", "givenname", "familyname"}
_PII_KEYS = {"zip", "ssn", "dob", "birthdate", "dateofbirth", "taxid", "city"}


def _norm_key(key: str) -> str:
    return "".join(ch for ch in key.lower() if ch.isalnum())


@lru_cache(maxsize=4096)  # field names repeat on every call; the answer depends on the name only
def kind_for_field(field_name: str) -> MaskKind | None:
    """Guess how to mask a field from its name; ``None`` means it is not PII by name."""
    key = _norm_key(field_name)
    if not key:
        return None
    if any(part in key for part in _SECRET_KEY_PARTS):
        return "secret"
    if "email" in key:
        return "email"
    if any(part in key for part in ("phone", "mobile", "fax")):
        return "phone"
    if key in _NAME_KEYS:
        return "name"
    if key in _PII_KEYS or any(part in key for part in _PII_KEY_PARTS):
        return "text"
    return None


def mask_value(field_name: str, value: object, kind: MaskKind | None = None) -> object:
    """Mask one value. ``kind`` wins; otherwise it is inferred from the field name and, failing
    that, from the value itself (anything named as PII but of unknown shape is still masked)."""
    if value is None:
        return None
    kind = kind or kind_for_field(field_name) or "text"
    if kind == "secret":
        return fingerprint(value)
    if isinstance(value, Mapping | list | tuple | set):
        return mask_arguments(value)
    text = _safe(value if isinstance(value, str) else str(value))
    if kind == "email":
        return mask_email(text)
    if kind == "phone":
        return mask_phone(text)
    return mask_name(text)


def mask_record(record: Mapping[str, object], pii_fields: set[str]) -> dict[str, object]:
    """Mask the named PII fields (case-insensitive names), leaving every other field as is."""
    wanted = {_norm_key(name) for name in pii_fields}
    return {
        key: mask_value(key, value) if _norm_key(key) in wanted else value
        for key, value in record.items()
    }


@lru_cache(maxsize=4096)  # argument names repeat on every call; mask_text is a pure function
def _mask_key(key: str) -> str:
    return mask_text(key, 200)


def mask_arguments(obj: object, *, max_str_len: int = MAX_STR_LEN, _depth: int = 0) -> JsonValue:
    """Recursively make ``obj`` safe to persist: PII-named keys masked, secret-named keys reduced
    to a fingerprint, e-mails and phone numbers masked wherever they appear, over-long strings cut
    and anything that is not plain JSON turned into text. Never raises on odd input."""
    if obj is None or isinstance(obj, bool | int):
        return obj
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else str(obj)
    if isinstance(obj, str):
        return mask_text(obj, max_str_len)
    if isinstance(obj, bytes | bytearray | memoryview):
        return f"<{len(obj)} bytes>"
    if _depth >= MAX_DEPTH:
        return "[nested too deeply]"
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            name = _mask_key(key if isinstance(key, str) else str(key))
            kind = kind_for_field(name)
            if kind is not None and value is not None and not isinstance(value, bool):
                out[name] = (
                    fingerprint(value)
                    if kind == "secret"
                    else _mask_named(name, value, kind, max_str_len, _depth)
                )
            else:
                out[name] = mask_arguments(value, max_str_len=max_str_len, _depth=_depth + 1)
        return out
    if isinstance(obj, list | tuple | set | frozenset):
        items = sorted(obj, key=repr) if isinstance(obj, set | frozenset) else obj
        return [mask_arguments(v, max_str_len=max_str_len, _depth=_depth + 1) for v in items]
    return mask_text(str(obj), max_str_len)


def _mask_named(name: str, value: object, kind: MaskKind, max_len: int, depth: int) -> Any:
    if depth >= MAX_DEPTH:
        return "[nested too deeply]"
    if isinstance(value, Mapping):
        return {
            mask_text(str(k), 200): _mask_named(name, v, kind, max_len, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_named(name, v, kind, max_len, depth + 1) for v in value]
    if isinstance(value, str) or (kind == "phone" and isinstance(value, int)):
        return mask_value(name, str(value)[:max_len], kind)
    return mask_arguments(value, max_str_len=max_len, _depth=depth + 1)
