"""PostgreSQL read statements run on the station's held connection (the counters).

Scans themselves go through the PostgreSQL store (``store_pg``), which reads
facts and calls the guarded functions of migration 0008.
"""

from __future__ import annotations

import re
from functools import cache

from sqlalchemy import TextClause
from sqlalchemy import text as _text

# Every parameter is cast, so a None or a string is never left for PostgreSQL to guess.
_PARAMETER_TYPES = {
    "conference": "text",
    "code": "text",
    "refused_code": "text",
    "refusals": "jsonb",
    "not_found_message": "text",
    "client_id": "uuid",
    "now": "timestamptz",
    "station": "text",
    "staff_id": "integer",
    "note": "text",
    "kind": "text",
    "product": "text",
    "addon": "text",
    "line_item_id": "integer",
    "attendee_id": "integer",
    "action": "text",
    "reason": "text",
    "message": "text",
    "conference_id": "integer",
    "day_start": "timestamptz",
    "day_end": "timestamptz",
}
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)\b")
_COMMENT = re.compile(r"--[^\n]*")


@cache
def for_psycopg(statement: TextClause) -> str:
    """The statement as psycopg takes it (``%(name)s`` parameters), compiled once."""
    from sqlalchemy.dialects.postgresql.psycopg import dialect

    return str(statement.compile(dialect=dialect()))  # type: ignore[no-untyped-call]


def text(sql: str) -> TextClause:
    """A statement whose ``:name`` parameters are each cast to their declared type.

    Comments and runs of white space go: psycopg caches the parsing of a query
    only up to 4 KB, and the check-in statement is just under that once compact.
    """
    compact = " ".join(_COMMENT.sub("", sql).split())
    return _text(_PARAMETER.sub(lambda m: f"CAST(:{m[1]} AS {_PARAMETER_TYPES[m[1]]})", compact))


COUNTS: TextClause = text(
    """
SELECT (SELECT count(*) FROM scan_log s
         WHERE s.conference_id = :conference_id AND s.station = :station
           AND s.outcome = 'accepted'
           AND s.scanned_at >= :day_start AND s.scanned_at < :day_end) AS station_today,
       count(a.checked_in_at) AS conference_checked_in,
       count(*) AS conference_attendees
  FROM attendee a
 WHERE a.conference_id = :conference_id
"""
)
