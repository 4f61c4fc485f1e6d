"""Hygiene for untrusted text coming out of a CRM on its way to the model.

Anyone who can fill in a web form can write into a lead's "Description". Characters a human
reviewer cannot see — zero-width joiners, bidi overrides that reorder what is displayed, Unicode
tag characters that smuggle ASCII instructions invisibly, terminal control codes — are how prompt
injection hides. We remove them, cap the length so one huge field cannot crowd out the context,
and report what we did so the tool result can say so. The text itself stays data: nothing here
parses, evaluates or follows it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import JsonValue

DEFAULT_MAX_LEN = 2000
_MAX_DEPTH = 32


def _build_table(*, variation_selectors: bool) -> dict[int, None]:
    ranges = [
        (0x00, 0x08),  # C0 controls before \t
        (0x0B, 0x1F),  # C0 controls after \n (incl. \r, ESC)
        (0x7F, 0x9F),  # DEL and C1 controls
        (0x200B, 0x200F),  # zero-width space/joiners, LRM, RLM
        (0x202A, 0x202E),  # bidi embeddings and overrides
        (0x2060, 0x2064),  # word joiner, invisible operators
        (0x2066, 0x2069),  # bidi isolates
        (0xE0000, 0xE007F),  # Unicode tag characters
    ]
    singles = [0x00AD, 0x061C, 0x180E, 0xFEFF, 0xFFF9, 0xFFFA, 0xFFFB]
    if variation_selectors:
        ranges += [(0xFE00, 0xFE0F), (0xE0100, 0xE01EF)]
    table: dict[int, None] = {cp: None for cp in singles}
    for low, high in ranges:
        table.update(dict.fromkeys(range(low, high + 1)))
    return table


_TABLE = _build_table(variation_selectors=False)
_TABLE_VS = _build_table(variation_selectors=True)


@dataclass(frozen=True)
class CleanResult:
    text: str
    stripped: int
    truncated: bool


@dataclass(frozen=True)
class Notice:
    """Tells the caller (and, through the tool result, the model) that a field was altered."""

    field: str
    stripped: int
    truncated: bool

    @property
    def message(self) -> str:
        parts = []
        if self.stripped:
            parts.append(f"removed {self.stripped} invisible or control character(s)")
        if self.truncated:
            parts.append("truncated")
        return f"{self.field}: {' and '.join(parts)}"


def clean_text(
    value: str, max_len: int = DEFAULT_MAX_LEN, *, strip_variation_selectors: bool = False
) -> CleanResult:
    """Strip invisible/control characters (keeping \\n and \\t) and cap the length with a
    visible marker, so the model can tell the text was cut rather than ending there."""
    cleaned = value.translate(_TABLE_VS if strip_variation_selectors else _TABLE)
    stripped = len(value) - len(cleaned)
    if max_len >= 0 and len(cleaned) > max_len:
        cut = len(cleaned) - max_len
        return CleanResult(f"{cleaned[:max_len]}…[truncated {cut} chars]", stripped, True)
    return CleanResult(cleaned, stripped, False)


def clean_record(
    record: Mapping[str, JsonValue], max_len: int = DEFAULT_MAX_LEN
) -> tuple[dict[str, JsonValue], list[Notice]]:
    """Clean every string in a (possibly nested) record; notices use dotted field paths such as
    ``address.street`` or ``tags[2]``."""
    notices: list[Notice] = []
    cleaned = _clean_mapping(record, "", max_len, notices, 0)
    return cleaned, notices


def _clean_mapping(
    record: Mapping[str, JsonValue], prefix: str, max_len: int, notices: list[Notice], depth: int
) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {}
    for key, value in record.items():
        name = clean_text(str(key), 256).text
        path = f"{prefix}.{name}" if prefix else name
        out[name] = _clean_value(value, path, max_len, notices, depth + 1)
    return out


def _clean_value(
    value: JsonValue, path: str, max_len: int, notices: list[Notice], depth: int
) -> JsonValue:
    if isinstance(value, str):
        result = clean_text(value, max_len)
        if result.stripped or result.truncated:
            notices.append(Notice(path, result.stripped, result.truncated))
        return result.text
    if depth >= _MAX_DEPTH and isinstance(value, Mapping | list | tuple):
        notices.append(Notice(path, 0, True))
        return "[nested too deeply]"
    if isinstance(value, Mapping):
        return _clean_mapping(value, path, max_len, notices, depth)
    if isinstance(value, list | tuple):
        return [
            _clean_value(item, f"{path}[{i}]", max_len, notices, depth + 1)
            for i, item in enumerate(value)
        ]
    return value


# Text written to steer an AI rather than to describe a person: role prefixes, "ignore the
# instructions", tool calls and approvals asked for in a CRM field. A heuristic that only marks
# the audit row (catalogue I-01): it is never a control, because the text is data whatever it
# says and the floor and the manifest decide what may happen.
_INJECTION = re.compile(
    r"(?i)(?:^|[\s<!\-\[(>])(?:system|assistant|developer)\s*:"
    r"|\b(?:ignore|disregard|forget)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|all)\b"
    r"[^.\n]{0,20}\b(?:instructions?|prompts?|rules)\b"
    r"|\byou are now\b"
    r"|\b(?:call|run|invoke|use)\s+(?:the\s+)?(?:tool\s+)?"
    r"(?:propose|apply|update|delete|approve|export)_?\w*"
    r"|\bapprove this change\b"
)


def injection_suspect(text: str) -> bool:
    """True when ``text`` reads like instructions to an AI (see ``_INJECTION``)."""
    return bool(_INJECTION.search(text[: DEFAULT_MAX_LEN * 2]))
