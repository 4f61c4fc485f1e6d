"""Manifest checks for ``[notifications]`` that the schema cannot make: a target that names a
reviewer the manifest does not declare would silently reach nobody."""

from __future__ import annotations

from collections.abc import Callable

from mopsgate.governance.manifest_model import Manifest

Loc = tuple[str | int, ...]
Add = Callable[[Loc, str, str | None], None]


def check_notifications(m: Manifest, add: Add) -> None:
    for name, target in m.notifications.targets.items():
        for reviewer in target.reviewers:
            if reviewer not in m.reviewers:
                known = ", ".join(sorted(m.reviewers)) or "none declared"
                add(
                    ("notifications", "targets", name, "reviewers"),
                    f"notifications.targets.{name}: unknown reviewer {reviewer!r} "
                    f"(reviewers: {known})",
                    reviewer,
                )
