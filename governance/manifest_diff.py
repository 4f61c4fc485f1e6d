"""What changed between two manifest versions, in the words a risk reviewer uses.

A text diff says which lines moved; a reviewer asks which use case, grant, principal or reviewer
changed. Both versions are compared as parsed TOML (not as validated models, so a version kept
in the history from an older mopsgate, or one that was refused, still compares): named tables
by name, rules by id, everything else by key. The text diff is there too for the details.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping

# The manifest's tables of named entries, in the order a reviewer reads them.
NAMED = ("use_cases", "principals", "reviewers", "connectors", "approvals", "pii")
_SINGULAR = {
    "use_cases": "use case",
    "principals": "principal",
    "reviewers": "reviewer",
    "connectors": "connector",
    "approvals": "approval policy",
    "pii": "PII fields of",
    "rules": "rule",
}


def parse(text: str) -> dict[str, object] | None:
    """The TOML as data, or None when it does not even parse."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _changed_keys(old: object, new: object) -> list[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return []


def _compare(kind: str, old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    out: list[str] = []
    label = _SINGULAR[kind]
    for name in sorted(set(old) | set(new)):
        if name not in old:
            out.append(f"added {label} {name}")
        elif name not in new:
            out.append(f"removed {label} {name}")
        elif old[name] != new[name]:
            keys = _changed_keys(old[name], new[name])
            detail = f" ({', '.join(keys)})" if keys else ""
            out.append(f"changed {label} {name}{detail}")
    return out


def _rules(data: Mapping[str, object]) -> dict[str, object]:
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        return {}
    return {str(r.get("id", f"#{i}")): r for i, r in enumerate(rules) if isinstance(r, dict)}


def manifest_changes(old_text: str | None, new_text: str) -> list[str]:
    """One line per use case, principal, reviewer, connector, approval policy or rule added,
    removed or changed; ``["first version recorded"]`` without an old text."""
    if old_text is None:
        return ["first version recorded"]
    old, new = parse(old_text), parse(new_text)
    if old is None or new is None:
        return ["not comparable: a version is not valid TOML"]
    out: list[str] = []
    for kind in NAMED:
        a, b = old.get(kind, {}), new.get(kind, {})
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += _compare(kind, a, b)
    out += _compare("rules", _rules(old), _rules(new))
    for key in sorted(set(old) | set(new)):
        if key not in (*NAMED, "rules") and old.get(key) != new.get(key):
            out.append(f"changed {key}")
    return out or ["no change in content (formatting or comments only)"]


def text_diff(old_text: str, new_text: str, old_name: str, new_name: str) -> list[str]:
    return list(
        difflib.unified_diff(
            old_text.splitlines(), new_text.splitlines(), old_name, new_name, lineterm=""
        )
    )
