"""Client-side SOQL builder: the only way the Salesforce client writes a query.

Values always pass through ``soql_quote`` (or ``soql_like_contains`` for LIKE), which escapes
every character SOQL treats specially inside a string literal; field and object names must be in
the catalogue (``connectors.salesforce.fields``) and never come from tool input. Conditions are
``Clause`` objects that only this module makes, so raw text cannot be ANDed into a query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from mopsgate.connectors.salesforce import fields as cat

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_LIKE_ESCAPES = {**_ESCAPES, "%": "\\%", "_": "\\_"}
_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})

Scalar = str | bool | int | float | datetime | date | None


def _escape(value: str, table: dict[str, str]) -> str:
    return "".join(table.get(ch, ch) for ch in value)


def soql_quote(value: str) -> str:
    """A SOQL string literal whose content is exactly ``value``."""
    return "'" + _escape(value, _ESCAPES) + "'"


def soql_like_contains(value: str) -> str:
    """A LIKE pattern matching any text that contains ``value`` literally (% and _ escaped)."""
    return "'%" + _escape(value, _LIKE_ESCAPES) + "%'"


def soql_literal(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return soql_quote(str(value))


@dataclass(frozen=True)
class Clause:
    text: str


class Select:
    def __init__(self, obj: str, fields: Sequence[str]) -> None:
        if obj not in cat.all_objects():
            raise ValueError(f"unknown Salesforce object {obj!r}")
        self.obj = obj
        self._fields = [self.field(f) for f in fields]
        self._where: list[Clause] = []
        self._order: list[str] = []
        self._group: list[str] = []
        self._limit: int | None = None

    def field(self, name: str) -> str:
        head, _, rest = name.partition(".")
        if rest:
            rel = cat.RELATIONSHIPS.get(self.obj, {}).get(head)
            if rel is None or not cat.has_field(rel[1], rest):
                raise ValueError(f"{name!r} is not a relationship field of {self.obj}")
            return name
        if not cat.has_field(self.obj, name):
            raise ValueError(f"{name!r} is not a field of {self.obj}")
        return name

    # conditions -----------------------------------------------------------------------------
    def cmp(self, field: str, op: str, value: Scalar) -> Clause:
        if op not in _OPS:
            raise ValueError(f"unsupported operator {op!r}")
        return Clause(f"{self.field(field)} {op} {soql_literal(value)}")

    def eq(self, field: str, value: Scalar) -> Clause:
        return self.cmp(field, "=", value)

    def like_contains(self, field: str, value: str) -> Clause:
        return Clause(f"{self.field(field)} LIKE {soql_like_contains(value)}")

    def in_(self, field: str, values: Iterable[Scalar], negate: bool = False) -> Clause:
        items = [soql_literal(v) for v in values]
        if not items:
            raise ValueError("IN needs at least one value")
        op = "NOT IN" if negate else "IN"
        return Clause(f"{self.field(field)} {op} ({', '.join(items)})")

    def in_select(self, field: str, sub: Select) -> Clause:
        return Clause(f"{self.field(field)} IN ({sub.render()})")

    @staticmethod
    def any_of(*clauses: Clause) -> Clause:
        return (
            clauses[0]
            if len(clauses) == 1
            else Clause("(" + " OR ".join(c.text for c in clauses) + ")")
        )

    @staticmethod
    def all_of(*clauses: Clause) -> Clause:
        return (
            clauses[0]
            if len(clauses) == 1
            else Clause("(" + " AND ".join(c.text for c in clauses) + ")")
        )

    # shape ----------------------------------------------------------------------------------
    def where(self, *clauses: Clause) -> Select:
        for c in clauses:
            if not isinstance(c, Clause):
                raise TypeError("where() takes Clause objects made by this builder")
            self._where.append(c)
        return self

    def order_by(self, field: str, desc: bool = False) -> Select:
        self._order.append(self.field(field) + (" DESC" if desc else ""))
        return self

    def count_by(self, field: str, alias: str) -> Select:
        """``SELECT field, COUNT(Id) alias ... GROUP BY field`` for roll-ups."""
        if not alias.isidentifier():
            raise ValueError("alias must be an identifier")
        self._fields = [self.field(field), f"COUNT(Id) {alias}"]
        self._group = [self.field(field)]
        return self

    def limit(self, n: int) -> Select:
        self._limit = int(n)
        return self

    def render(self) -> str:
        # Names are catalogue-checked and every value went through soql_quote.
        parts = [f"SELECT {', '.join(self._fields)} FROM {self.obj}"]  # noqa: S608
        if self._where:
            parts.append("WHERE " + " AND ".join(c.text for c in self._where))
        if self._group:
            parts.append("GROUP BY " + ", ".join(self._group))
        if self._order:
            parts.append("ORDER BY " + ", ".join(self._order))
        if self._limit is not None:
            parts.append(f"LIMIT {self._limit}")
        return " ".join(parts)
