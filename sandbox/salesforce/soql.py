"""Emulator-side SOQL: a tokenizer and recursive-descent parser for the subset the client sends.

Anything outside the subset is a ``MALFORMED_QUERY``, as in a real org, so a client that drifts
from what Salesforce accepts fails in tests rather than in production. The parse tree is kept
(``SalesforceEmulator.parsed_queries``) so the injection tests can prove a hostile search value
stayed one string literal. Name binding and evaluation live in ``soql_eval``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


class SoqlError(Exception):
    """A query the emulator refuses; ``code`` is the Salesforce errorCode to answer with."""

    def __init__(self, message: str, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Value:
    """A literal: kind is str, num, bool, null, date, datetime or dateliteral."""

    kind: str
    value: Any
    like: str | None = None  # regex source for LIKE (strings only; honours \% and \_)


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str  # = != < <= > >= LIKE
    value: Value


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Value, ...]
    negate: bool = False


@dataclass(frozen=True)
class InQuery:
    field: str
    query: Query
    negate: bool = False


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    parts: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    part: Expr


Expr = Comparison | InList | InQuery | BoolOp | Not


@dataclass(frozen=True)
class FieldItem:
    path: str


@dataclass(frozen=True)
class CountItem:
    field: str | None
    alias: str | None = None


@dataclass(frozen=True)
class OrderItem:
    field: str
    desc: bool = False
    nulls_first: bool = True


@dataclass(frozen=True)
class Query:
    items: tuple[FieldItem | CountItem, ...]
    obj: str
    where: Expr | None = None
    group_by: tuple[str, ...] = ()
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None

    @property
    def count_only(self) -> bool:
        return self.items == (CountItem(None),)

    @property
    def aggregate(self) -> bool:
        return bool(self.group_by) or any(isinstance(i, CountItem) for i in self.items)


KEYWORDS = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "NULL",
        "TRUE",
        "FALSE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
        "GROUP",
        "COUNT",
    ]
)
DATE_LITERALS = frozenset({"TODAY", "YESTERDAY", "TOMORROW", "LAST_N_DAYS", "NEXT_N_DAYS"})
_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2})"
    r"|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?::\d+)?)"
    r"|(?P<op>!=|<>|<=|>=|=|<|>)"
    r"|(?P<punct>[(),])"
)
_ESCAPES = {
    "'": "'",
    '"': '"',
    "\\": "\\",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "%": "%",
    "_": "_",
}


@dataclass(frozen=True)
class Token:
    kind: str  # kw ident str num date datetime op punct eof
    text: str
    value: Any = None


def _string(src: str, start: int) -> tuple[Token, int]:
    """Scan a quoted string from the opening quote; returns the token and the next index."""
    chars: list[str] = []
    pattern: list[str] = []
    i = start + 1
    while i < len(src):
        ch = src[i]
        if ch == "'":
            return Token(
                "str", src[start : i + 1], Value("str", "".join(chars), "".join(pattern))
            ), i + 1
        if ch == "\\":
            if i + 1 >= len(src) or src[i + 1] not in _ESCAPES:
                raise SoqlError(f"Invalid string literal escape at position {i}")
            ch = _ESCAPES[src[i + 1]]
            pattern.append(re.escape(ch))
            i += 2
        else:
            pattern.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
            i += 1
        chars.append(ch)
    raise SoqlError("unexpected end of query: unterminated string literal")


def tokenize(src: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(src):
        if src[i] == "'":
            tok, i = _string(src, i)
            tokens.append(tok)
            continue
        m = _TOKEN.match(src, i)
        if m is None:
            raise SoqlError(f"unexpected token: '{src[i : i + 10]}' at position {i}")
        kind, text = m.lastgroup or "", m.group()
        i = m.end()
        if kind == "ws":
            continue
        if kind == "ident" and text.upper() in KEYWORDS:
            tokens.append(Token("kw", text.upper()))
        else:
            tokens.append(Token(kind, text))
    tokens.append(Token("eof", ""))
    return tokens


def _literal(tok: Token) -> Value:
    if tok.kind == "str":
        assert isinstance(tok.value, Value)
        return tok.value
    if tok.kind == "num":
        return Value("num", float(tok.text))
    if tok.kind == "date":
        return Value("date", date.fromisoformat(tok.text))
    if tok.kind == "datetime":
        text = tok.text.replace("Z", "+00:00")
        if re.search(r"[+-]\d{4}$", text):
            text = text[:-2] + ":" + text[-2:]
        return Value("datetime", datetime.fromisoformat(text).astimezone(UTC))
    if tok.kind == "kw" and tok.text in ("TRUE", "FALSE"):
        return Value("bool", tok.text == "TRUE")
    if tok.kind == "kw" and tok.text == "NULL":
        return Value("null", None)
    if tok.kind == "ident":
        name, _, n = tok.text.upper().partition(":")
        if name in DATE_LITERALS and (bool(n) == name.endswith("_N_DAYS")):
            return Value("dateliteral", (name, int(n) if n else 0))
    raise SoqlError(f"unexpected token: '{tok.text}'")


def parse(src: str) -> Query:
    parser = _Parser(tokenize(src))
    query = parser.query()
    parser.expect("eof")
    return query


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.peek()
        self.pos += 1
        return tok

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        tok = self.peek()
        if tok.kind == kind and (text is None or tok.text == text):
            self.pos += 1
            return tok
        return None

    def expect(self, kind: str, text: str | None = None) -> Token:
        tok = self.accept(kind, text)
        if tok is None:
            bad = self.peek()
            raise SoqlError(
                f"unexpected token: '{bad.text or 'end of query'}'"
                + (f", expected {text or kind}" if (text or kind) else "")
            )
        return tok

    def query(self) -> Query:
        self.expect("kw", "SELECT")
        items = [self.item()]
        while self.accept("punct", ","):
            items.append(self.item())
        self.expect("kw", "FROM")
        obj = self.expect("ident").text
        where = self.condition() if self.accept("kw", "WHERE") else None
        group_by: list[str] = []
        if self.accept("kw", "GROUP"):
            self.expect("kw", "BY")
            group_by.append(self.expect("ident").text)
            while self.accept("punct", ","):
                group_by.append(self.expect("ident").text)
        order = self.order_by() if self.accept("kw", "ORDER") else ()
        limit = self.integer() if self.accept("kw", "LIMIT") else None
        offset = self.integer() if self.accept("kw", "OFFSET") else None
        return Query(tuple(items), obj, where, tuple(group_by), order, limit, offset)

    def item(self) -> FieldItem | CountItem:
        if self.accept("kw", "COUNT"):
            self.expect("punct", "(")
            field = None if self.peek().text == ")" else self.expect("ident").text
            self.expect("punct", ")")
            alias = self.accept("ident")
            return CountItem(field, alias.text if alias else None)
        return FieldItem(self.expect("ident").text)

    def integer(self) -> int:
        tok = self.expect("num")
        if not tok.text.isdigit():
            raise SoqlError(f"unexpected token: '{tok.text}', expected a non-negative integer")
        return int(tok.text)

    def order_by(self) -> tuple[OrderItem, ...]:
        self.expect("kw", "BY")
        out: list[OrderItem] = []
        while True:
            field = self.expect("ident").text
            desc = bool(self.accept("kw", "DESC"))
            if not desc:
                self.accept("kw", "ASC")
            nulls_first = not desc
            if self.accept("kw", "NULLS"):
                nulls_first = bool(self.accept("kw", "FIRST")) or not self.expect("kw", "LAST")
            out.append(OrderItem(field, desc, nulls_first))
            if not self.accept("punct", ","):
                return tuple(out)

    def condition(self) -> Expr:
        """SOQL refuses AND and OR mixed without parentheses; so does this parser."""
        parts = [self.unary()]
        op: str | None = None
        while self.peek().kind == "kw" and self.peek().text in ("AND", "OR"):
            tok = self.take()
            if op is not None and tok.text != op:
                raise SoqlError(
                    f"unexpected token: '{tok.text}' (use parentheses to mix AND and OR)"
                )
            op = tok.text
            parts.append(self.unary())
        return parts[0] if op is None else BoolOp(op, tuple(parts))

    def unary(self) -> Expr:
        if self.accept("kw", "NOT"):
            return Not(self.unary())
        if self.accept("punct", "("):
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.predicate()

    def predicate(self) -> Expr:
        field = self.expect("ident").text
        negate = bool(self.accept("kw", "NOT"))
        if negate or self.peek().text == "IN":
            self.expect("kw", "IN")
            return self.in_tail(field, negate)
        if self.accept("kw", "LIKE"):
            value = _literal(self.take())
            if value.kind != "str":
                raise SoqlError("LIKE needs a string literal")
            return Comparison(field, "LIKE", value)
        op = self.expect("op").text
        return Comparison(field, "!=" if op == "<>" else op, _literal(self.take()))

    def in_tail(self, field: str, negate: bool) -> Expr:
        self.expect("punct", "(")
        if self.peek().text == "SELECT":
            sub = self.query()
            self.expect("punct", ")")
            if len(sub.items) != 1 or not isinstance(sub.items[0], FieldItem):
                raise SoqlError("a semi-join sub-select must select exactly one field")
            return InQuery(field, sub, negate)
        values = [_literal(self.take())]
        while self.accept("punct", ","):
            values.append(_literal(self.take()))
        self.expect("punct", ")")
        return InList(field, tuple(values), negate)
