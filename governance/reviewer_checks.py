"""Manifest checks for reviewers' credentials and approval checklists.

One key declared for two reviewers would let either sign as the other, and a key declared twice
for one reviewer is a paste mistake that hides which label is right; both are errors. A
checklist item id used twice in one risk class would make one answer stand for two questions.
"""

from __future__ import annotations

from collections.abc import Callable

from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.public_keys import ed25519_fingerprint, passkey_fingerprint

Loc = tuple[str | int, ...]
Add = Callable[[Loc, str, str | None], None]


def check_reviewers(m: Manifest, add: Add) -> None:
    seen: dict[str, str] = {}  # fingerprint or passkey id -> where it was first declared

    def once(token: str, loc: Loc, what: str, needle: str) -> None:
        where = ".".join(str(p) for p in loc)
        if token in seen:
            add(loc, f"{where}: this {what} is already declared at {seen[token]}", needle)
        else:
            seen[token] = where

    for name, rv in m.reviewers.items():
        for i, key in enumerate(rv.keys):
            loc: Loc = ("reviewers", name, "keys", i)
            once(ed25519_fingerprint(key.public_key), loc, "key", key.public_key)
        for i, pk in enumerate(rv.passkeys):
            loc = ("reviewers", name, "passkeys", i)
            once(passkey_fingerprint(pk.public_key), loc, "passkey public key", pk.public_key)
            once(f"id:{pk.id}", loc, "passkey id", pk.id)
    for risk, pol in m.approvals.items():
        ids: set[str] = set()
        for i, item in enumerate(pol.checklist):
            if item.id in ids:
                add(
                    ("approvals", str(risk), "checklist", i),
                    f"approvals.{risk}.checklist: item id {item.id!r} is used twice",
                    item.id,
                )
            ids.add(item.id)
