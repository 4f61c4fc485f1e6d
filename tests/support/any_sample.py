"""Signatures the no-``Any`` check must catch (and one it must pass): its own test's input."""

from __future__ import annotations

from typing import Any

Row = tuple[Any, ...]


def plain(x: Any) -> int:
    return 0


def aliased(rows: list[Row]) -> None:
    return None


def clean(x: int | None, y: dict[str, list[str]]) -> object:
    return x


class Box:
    def get(self) -> dict[str, Any]:
        return {}

    def _private(self) -> Any:
        return None
