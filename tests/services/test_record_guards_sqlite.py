"""SQLite keeps the scan records' invariants too, as triggers (migration 0007).

There are no roles on SQLite, so these guard against a buggy or hand-made write:
records are append-only outside an explicit maintenance transaction, and an insert
must name an attendee of its conference with an active order, and a line of that
attendee's own order with a unit left.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from station.db import record_maintenance
from station.domain import OrderStatus
from tests.builders import ConferenceBuilder

if TYPE_CHECKING:  # imported by name, pytest would collect it as a test class
    from tests.conftest import TestDatabase

_REDEEM = (
    "INSERT INTO product_redemption (client_id, attendee_id, order_line_item_id, conference_id, "
    "redeemed_at, station, note) VALUES (:client, :attendee, :line, :conference, :at, 'F', '')"
)
_CHECK_IN = (
    "INSERT INTO check_in (client_id, attendee_id, conference_id, checked_in_at, station, note) "
    "VALUES (:client, :attendee, :conference, :at, 'F', '')"
)
_AT = datetime(2026, 6, 1, tzinfo=UTC).replace(tzinfo=None)
_numbers = iter(range(1, 10**6))


def _client() -> str:
    return f"{next(_numbers):032x}"


def _refused(db: TestDatabase, statement: str, **params: object) -> str:
    with pytest.raises(IntegrityError) as refused, db.engine.begin() as conn:
        conn.execute(text(statement), {"client": _client(), "at": _AT, **params})
    return str(refused.value.orig)


def _run(db: TestDatabase, statement: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(statement), {"client": _client(), "at": _AT, **params})


def test_a_line_is_never_redeemed_past_its_quantity(sqlite_database: TestDatabase) -> None:
    conf = ConferenceBuilder(sqlite_database.sessions)
    built = conf.attendee(addons={"lunch": 1})
    params = {"attendee": built.attendee_id, "line": built.line_items["lunch"],
              "conference": conf.conference_id}  # fmt: skip
    _run(sqlite_database, _REDEEM, **params)
    assert "used up" in _refused(sqlite_database, _REDEEM, **params)


def test_a_redemption_needs_a_line_of_the_attendees_own_order(
    sqlite_database: TestDatabase,
) -> None:
    conf = ConferenceBuilder(sqlite_database.sessions)
    mine, theirs = conf.attendee(), conf.attendee(addons={"lunch": 1})
    message = _refused(sqlite_database, _REDEEM, attendee=mine.attendee_id,
                       line=theirs.line_items["lunch"], conference=conf.conference_id)  # fmt: skip
    assert "not an add-on of the attendee" in message


def test_no_record_for_another_conferences_attendee(sqlite_database: TestDatabase) -> None:
    here = ConferenceBuilder(sqlite_database.sessions)
    theirs = ConferenceBuilder(sqlite_database.sessions, slug="elsewhere").attendee()
    message = _refused(sqlite_database, _CHECK_IN, attendee=theirs.attendee_id,
                       conference=here.conference_id)  # fmt: skip
    assert "not in this conference" in message


def test_no_redemption_on_an_inactive_order(sqlite_database: TestDatabase) -> None:
    conf = ConferenceBuilder(sqlite_database.sessions)
    built = conf.attendee(status=OrderStatus.REFUNDED, addons={"lunch": 1})
    message = _refused(sqlite_database, _REDEEM, attendee=built.attendee_id,
                       line=built.line_items["lunch"], conference=conf.conference_id)  # fmt: skip
    assert "no active order" in message


def test_a_check_in_sets_the_first_check_in_time_once(sqlite_database: TestDatabase) -> None:
    conf = ConferenceBuilder(sqlite_database.sessions)
    built = conf.attendee()
    for _ in range(2):
        _run(sqlite_database, _CHECK_IN, attendee=built.attendee_id, conference=conf.conference_id)
    with sqlite_database.engine.connect() as conn:
        first = conn.scalar(text("SELECT checked_in_at FROM attendee"))
    assert first is not None


@pytest.mark.parametrize("statement", ["UPDATE check_in SET station = 'x'", "DELETE FROM check_in"])
def test_records_are_append_only_outside_maintenance(
    sqlite_database: TestDatabase, statement: str
) -> None:
    conf = ConferenceBuilder(sqlite_database.sessions)
    built = conf.attendee()
    _run(sqlite_database, _CHECK_IN, attendee=built.attendee_id, conference=conf.conference_id)
    assert "append-only" in _refused(sqlite_database, statement)
    with sqlite_database.engine.begin() as conn, record_maintenance(conn):
        conn.execute(text(statement))
    # The guards are back once the maintenance transaction is over.
    _run(sqlite_database, _CHECK_IN, attendee=built.attendee_id, conference=conf.conference_id)
    assert "append-only" in _refused(sqlite_database, "DELETE FROM check_in")
