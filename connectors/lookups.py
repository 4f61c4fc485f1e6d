"""Cutting a list of lookup values into vendor calls that fit both of the vendor's limits: how
many values one call takes, and how long its URL may be (Marketo refuses a URI over 8 KB with
414; a Salesforce query travels in the URL too). Used by the compliance floor's lookup of
every record sharing an email address, whose values are far longer than record ids."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

# What the values of one GET may take once URL-encoded: well inside an 8 KB URI, leaving room
# for the path, the field list and the other parameters.
URL_VALUES_BUDGET = 5000


def url_sized_chunks(
    values: Iterable[str], max_values: int, budget: int = URL_VALUES_BUDGET
) -> list[list[str]]:
    """``values`` (duplicates dropped, order kept) in chunks of at most ``max_values`` whose
    URL-encoded length, separators included, stays within ``budget``. A value too long for
    any chunk still gets one of its own: the vendor then says what it refuses."""
    out: list[list[str]] = []
    chunk: list[str] = []
    used = 0
    for value in dict.fromkeys(values):
        size = len(quote(value, safe="")) + 3  # the separator, encoded
        if chunk and (len(chunk) >= max_values or used + size > budget):
            out.append(chunk)
            chunk, used = [], 0
        chunk.append(value)
        used += size
    if chunk:
        out.append(chunk)
    return out
