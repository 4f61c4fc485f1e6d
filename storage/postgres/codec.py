"""How values go into PostgreSQL's types: JSON documents as ``jsonb`` (values JSON cannot
hold, such as a vendor's datetime in an after-image, as their text, as on SQLite); timestamps
are ``timestamptz`` and travel as aware datetimes (sessions run in UTC)."""

from __future__ import annotations

import json
from functools import partial

from psycopg.types.json import Jsonb

_dumps = partial(json.dumps, ensure_ascii=False, sort_keys=True, default=str)


def jsonb(value: object) -> Jsonb:
    return Jsonb(value, dumps=_dumps)
