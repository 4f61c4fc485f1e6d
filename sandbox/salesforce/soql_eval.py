"""Binds a parsed SOQL query to the object catalogue and evaluates it over emulator records.

Semantics follow Salesforce where the client depends on them: text comparisons and LIKE are
case-insensitive, ``!=`` and ``NOT IN`` include null rows, date literals are day ranges, and
AND/OR need parentheses to mix. Lookups by ``Id`` or by an indexed foreign key are answered from
dicts, so a 200-id batch read costs O(200) however large the org is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.sandbox.salesforce.soql import (
    BoolOp,
    Comparison,
    CountItem,
    Expr,
    FieldItem,
    InList,
    InQuery,
    Not,
    OrderItem,
    Query,
    SoqlError,
    Value,
)

Record = dict[str, Any]


class Source(Protocol):
    """What the evaluator needs from the emulator state."""

    def rows(self, obj: str) -> Iterable[Record]: ...

    def by_ids(self, obj: str, ids: Iterable[str]) -> list[Record]: ...

    def by_index(self, obj: str, field: str, value: str) -> list[Record] | None: ...

    def get(self, obj: str, rec: Record, path: str) -> Any: ...

    def now(self) -> datetime: ...


@dataclass
class Outcome:
    records: list[Record]  # raw records (plain query) or finished rows (aggregate)
    total: int
    aggregate: bool = False


# binding ------------------------------------------------------------------------------------
def _bind_path(obj: str, path: str) -> str:
    head, _, rest = path.partition(".")
    if rest:
        rels = {k.lower(): (k, v) for k, v in cat.RELATIONSHIPS.get(obj, {}).items()}
        rel = rels.get(head.lower())
        sub = cat.canonical_field(rel[1][1], rest) if rel and "." not in rest else None
        if rel is None or sub is None:
            raise SoqlError(f"No such column '{path}' on entity '{obj}'.", "INVALID_FIELD")
        return f"{rel[0]}.{sub}"
    name = cat.canonical_field(obj, path)
    if name is None:
        raise SoqlError(
            f"No such column '{path}' on entity '{obj}'. If you are attempting to "
            "use a custom field, be sure to append the '__c' after the custom "
            "field name.",
            "INVALID_FIELD",
        )
    return name


def _bind_expr(obj: str, expr: Expr) -> Expr:
    if isinstance(expr, Comparison):
        return replace(expr, field=_bind_path(obj, expr.field))
    if isinstance(expr, InList):
        return replace(expr, field=_bind_path(obj, expr.field))
    if isinstance(expr, InQuery):
        return replace(expr, field=_bind_path(obj, expr.field), query=bind(expr.query))
    if isinstance(expr, Not):
        return Not(_bind_expr(obj, expr.part))
    return BoolOp(expr.op, tuple(_bind_expr(obj, p) for p in expr.parts))


def bind(query: Query) -> Query:
    """Resolve names case-insensitively to their canonical spelling, or refuse the query."""
    obj = cat.canonical_object(query.obj)
    if obj is None:
        raise SoqlError(f"sObject type '{query.obj}' is not supported.", "INVALID_TYPE")
    items: list[FieldItem | CountItem] = []
    for item in query.items:
        if isinstance(item, FieldItem):
            items.append(FieldItem(_bind_path(obj, item.path)))
        else:
            items.append(replace(item, field=item.field and _bind_path(obj, item.field)))
    group = tuple(_bind_path(obj, g) for g in query.group_by)
    bound = Query(
        tuple(items),
        obj,
        _bind_expr(obj, query.where) if query.where else None,
        group,
        tuple(replace(o, field=_bind_path(obj, o.field)) for o in query.order_by),
        query.limit,
        query.offset,
    )
    _check_aggregate(bound)
    return bound


def _check_aggregate(q: Query) -> None:
    if CountItem(None) in q.items and (len(q.items) > 1 or q.group_by):
        raise SoqlError("COUNT() must be the only element of the SELECT list")
    if q.aggregate:
        for item in q.items:
            if isinstance(item, FieldItem) and item.path not in q.group_by:
                raise SoqlError(f"Field must be grouped or aggregated: {item.path}")


# evaluation ---------------------------------------------------------------------------------
def execute(query: Query, src: Source) -> Outcome:
    ctx: dict[int, set[Any]] = {}
    obj = query.obj
    rows = [
        r
        for r in _candidates(query, src, ctx)
        if query.where is None or _match(query.where, obj, r, src, ctx)
    ]
    if query.count_only:
        return Outcome([], len(rows))
    if query.aggregate:
        agg = _aggregate(query, rows, src)
        agg = _sorted(agg, query.order_by, lambda r, f: r.get(f))
        return Outcome(_window(agg, query), len(agg), aggregate=True)
    rows = _sorted(rows, query.order_by, lambda r, f: src.get(obj, r, f))
    rows = _window(rows, query)
    return Outcome(rows, len(rows))


def _window(rows: list[Record], q: Query) -> list[Record]:
    start = q.offset or 0
    return rows[start : start + q.limit] if q.limit is not None else rows[start:]


def _candidates(q: Query, src: Source, ctx: dict[int, set[Any]]) -> Iterable[Record]:
    """The smallest row set an indexed conjunct allows; the full table when none does."""
    where = q.where
    conj: tuple[Expr, ...] = ()
    if isinstance(where, BoolOp) and where.op == "AND":
        conj = where.parts
    elif where is not None:
        conj = (where,)
    best: list[Record] | None = None
    for c in conj:
        found = _narrow(q.obj, c, src, ctx)
        if found is not None and (best is None or len(found) < len(best)):
            best = found
    return src.rows(q.obj) if best is None else best


def _lookup(obj: str, field: str, values: list[Any], src: Source) -> list[Record] | None:
    if field == "Id":
        return src.by_ids(obj, [v for v in values if isinstance(v, str)])
    out: dict[int, Record] = {}
    for v in values:
        if not isinstance(v, str):
            continue
        found = src.by_index(obj, field, v)
        if found is None:
            return None
        out.update((id(r), r) for r in found)
    return list(out.values())


def _narrow(obj: str, expr: Expr, src: Source, ctx: dict[int, set[Any]]) -> list[Record] | None:
    if isinstance(expr, Comparison) and expr.op == "=" and expr.value.kind == "str":
        return _lookup(obj, expr.field, [expr.value.value], src)
    if isinstance(expr, InList) and not expr.negate:
        return _lookup(obj, expr.field, [v.value for v in expr.values], src)
    if isinstance(expr, InQuery) and not expr.negate and expr.field == "Id":
        return src.by_ids(obj, _subquery(expr, src, ctx, casefold=False))
    if isinstance(expr, BoolOp) and expr.op == "OR":
        union: dict[int, Record] = {}
        for part in expr.parts:
            found = _narrow(obj, part, src, ctx)
            if found is None:
                return None
            union.update((id(r), r) for r in found)
        return list(union.values())
    return None


def _subquery(
    expr: InQuery, src: Source, ctx: dict[int, set[Any]], casefold: bool = True
) -> set[Any]:
    key = id(expr) * 2 + casefold
    if key not in ctx:
        item = expr.query.items[0]
        assert isinstance(item, FieldItem)
        out = execute(expr.query, src)
        values = {src.get(expr.query.obj, r, item.path) for r in out.records}
        ctx[key] = {_fold(v) for v in values} if casefold else values
    return ctx[key]


def _match(expr: Expr, obj: str, rec: Record, src: Source, ctx: dict[int, set[Any]]) -> bool:
    if isinstance(expr, BoolOp):
        parts = (_match(p, obj, rec, src, ctx) for p in expr.parts)
        return all(parts) if expr.op == "AND" else any(parts)
    if isinstance(expr, Not):
        return not _match(expr.part, obj, rec, src, ctx)
    value = src.get(obj, rec, expr.field)
    if isinstance(expr, Comparison):
        return compare(value, expr.op, expr.value, src.now())
    if isinstance(expr, InList):
        return _in_list(expr, value, src, ctx) != expr.negate
    hit = value is not None and _fold(value) in _subquery(expr, src, ctx)
    return hit != expr.negate


_SIMPLE = frozenset({"str", "num", "bool"})


def _in_list(expr: InList, value: Any, src: Source, ctx: dict[int, set[Any]]) -> bool:
    """Plain-value lists become a set once per query, so IN over 200 ids stays O(1) a row."""
    if value is None:
        return any(v.kind == "null" for v in expr.values)
    key = -id(expr)
    if key not in ctx:
        simple = all(v.kind in _SIMPLE for v in expr.values)
        ctx[key] = {_in_key(v.value) for v in expr.values} if simple else {_NOT_SIMPLE}
    keys = ctx[key]
    if _NOT_SIMPLE in keys:
        return any(compare(value, "=", v, src.now()) for v in expr.values)
    return _in_key(value) in keys


_NOT_SIMPLE = object()


def _in_key(v: Any) -> tuple[bool, Any]:
    if isinstance(v, bool):
        return (True, v)
    if isinstance(v, int | float):
        return (False, float(v))
    return (False, _fold(v))


def _fold(v: Any) -> Any:
    return v.casefold() if isinstance(v, str) else v


@lru_cache(maxsize=512)
def _like(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.DOTALL)


def compare(value: Any, op: str, lit: Value, now: datetime) -> bool:
    if lit.kind == "null":
        return value is None if op == "=" else value is not None if op == "!=" else False
    if op == "LIKE":
        return isinstance(value, str) and _like(lit.like or "").fullmatch(value) is not None
    if value is None:
        return op == "!="
    if lit.kind in ("date", "datetime", "dateliteral"):
        return _compare_time(value, op, lit, now)
    a, b = _fold(value), _fold(lit.value)
    if isinstance(a, bool) != isinstance(b, bool) or isinstance(a, str) != isinstance(b, str):
        return op == "!="
    return _ordered(a, op, b)


def _ordered(a: Any, op: str, b: Any) -> bool:
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    if op == ">=":
        return bool(a >= b)
    raise SoqlError(f"unexpected operator {op}")


def _compare_time(value: Any, op: str, lit: Value, now: datetime) -> bool:
    v = as_datetime(value)
    if v is None:
        return op == "!="
    lo, hi = _range(lit, now)
    inside = lo <= v < hi
    return {
        "=": inside,
        "!=": not inside,
        "<": v < lo,
        "<=": v < hi,
        ">": v >= hi,
        ">=": v >= lo,
    }.get(op, False)


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _range(lit: Value, now: datetime) -> tuple[datetime, datetime]:
    if lit.kind == "datetime":
        return lit.value, lit.value + timedelta(microseconds=1)
    if lit.kind == "date":
        return _midnight(lit.value), _midnight(lit.value) + timedelta(days=1)
    name, n = lit.value
    today = _midnight(now.astimezone(UTC).date())
    day = timedelta(days=1)
    spans = {
        "TODAY": (today, today + day),
        "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "LAST_N_DAYS": (today - n * day, today + day),
        "NEXT_N_DAYS": (today, today + (n + 1) * day),
    }
    return spans[name]


def as_datetime(value: Any) -> datetime | None:
    """Salesforce dates ('2024-06-03') and datetimes ('2024-06-03T08:12:44.000+0000')."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 10:
            return _midnight(date.fromisoformat(value))
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)
    except ValueError:
        return None


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, str):
        return (2, v.casefold())
    if isinstance(v, bool):
        return (1, int(v))
    return (1, v)


def _sorted(
    rows: list[Record], order: tuple[OrderItem, ...], get: Callable[[Record, str], Any]
) -> list[Record]:
    """Stable sorts from the last key to the first, nulls placed as ORDER BY asks."""
    for item in reversed(order):
        keyed = [(get(r, item.field), r) for r in rows]
        present = [kr for kr in keyed if kr[0] is not None]
        nulls = [kr[1] for kr in keyed if kr[0] is None]
        present.sort(key=lambda kr: _sort_key(kr[0]), reverse=item.desc)
        ordered = [kr[1] for kr in present]
        rows = nulls + ordered if item.nulls_first else ordered + nulls
    return rows


def _aggregate(q: Query, rows: list[Record], src: Source) -> list[Record]:
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for r in rows:
        groups.setdefault(tuple(src.get(q.obj, r, g) for g in q.group_by), []).append(r)
    if not q.group_by and not groups:
        groups[()] = []
    out: list[Record] = []
    for key, members in groups.items():
        row: Record = {"attributes": {"type": "AggregateResult"}}
        expr = 0
        for item in q.items:
            if isinstance(item, FieldItem):
                row[item.path] = key[q.group_by.index(item.path)]
                continue
            name = item.alias or f"expr{expr}"
            expr += 0 if item.alias else 1
            row[name] = sum(
                1
                for m in members
                if item.field is None or src.get(q.obj, m, item.field) is not None
            )
        out.append(row)
    return out
