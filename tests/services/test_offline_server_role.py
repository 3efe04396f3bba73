"""Offline mode's server side as the station role sees it (migration 0013, PostgreSQL).

The role reads change_seq of its own conference and cannot set it; a check-in leaves it
alone (and stays a HOT update); a LISTENing station hears a refund or a new badge at once
and no scan at all (stations learn of scans through their sync); offline conflicts go in
only through station_offline_conflict(), which holds the role to its conference and fills
the server's parts itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from station.db import make_session_factory
from station.services import CheckInService, RedemptionService
from station.services.errors import FullyRedeemed
from station.services.results import StationContext
from station.services.store import ConflictReport
from tests.builders import ConferenceBuilder
from tests.services.test_station_role import StationRole, station_role  # noqa: F401 (fixture)

pytestmark = pytest.mark.postgres

CLIENT_AT = datetime(2026, 5, 14, 11, 30, tzinfo=UTC)

CONFLICT = (
    "SELECT station_offline_conflict(:conference, :attendee, :kind, 'redeem', 'CODE', :line, "
    ":client_id, :client_at, 'Meal B', NULL, 'fully_redeemed', 'Already redeemed')"
)


@pytest.fixture
def world(
    station_role: StationRole,  # noqa: F811
) -> Iterator[tuple[Engine, Engine, ConferenceBuilder, ConferenceBuilder]]:
    admin, station = station_role.admin, station_role.station
    conf = ConferenceBuilder(make_session_factory(admin))
    conf.addon("lunch")
    elsewhere = ConferenceBuilder(make_session_factory(admin), slug="elsewhere")
    elsewhere.addon("lunch")
    station_role.grant(conf.slug)
    yield admin, station, conf, elsewhere


def _rows(engine: Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with engine.begin() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def test_the_role_reads_change_seq_of_its_conference_only(
    world: tuple[Engine, Engine, ConferenceBuilder, ConferenceBuilder],
) -> None:
    admin, station, conf, elsewhere = world
    mine = conf.attendee(addons={"lunch": 1})
    elsewhere.attendee(addons={"lunch": 1})
    for table in ("attendee", "person", '"order"', "order_line_item"):
        seen = _rows(station, f"SELECT id, change_seq FROM {table}")
        everything = _rows(admin, f"SELECT id, change_seq FROM {table}")
        assert seen and all(int(str(seq)) > 0 for _id, seq in seen), table
        assert len(everything) > len(seen), table  # the other conference's rows are not there
    [(attendee_seq,)] = _rows(
        station, "SELECT change_seq FROM attendee WHERE id = :id", id=mine.attendee_id
    )
    assert int(str(attendee_seq)) > 0
    assert _rows(station, "SELECT count(*) FROM ticket_type WHERE change_seq = 0") == [(0,)]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE attendee SET change_seq = 1",
        "UPDATE person SET change_seq = change_seq + 1000000",
        "SELECT nextval('station_change_seq')",
        "SELECT setval('station_change_seq', 1)",
    ],
)
def test_the_role_cannot_set_change_seq(
    world: tuple[Engine, Engine, ConferenceBuilder, ConferenceBuilder], statement: str
) -> None:
    _admin, station, conf, _elsewhere = world
    conf.attendee()
    with pytest.raises(ProgrammingError, match="permission denied"):
        _rows(station, statement)


def test_a_check_in_by_the_role_leaves_the_attendees_change_seq(
    world: tuple[Engine, Engine, ConferenceBuilder, ConferenceBuilder],
) -> None:
    """The update comes from station_check_in(), running as the owner: checked_in_at only."""
    admin, station, conf, _elsewhere = world
    built = conf.attendee()
    query = "SELECT change_seq FROM attendee WHERE id = :id"
    [(before,)] = _rows(station, query, id=built.attendee_id)
    CheckInService(make_session_factory(station)).check_in(
        StationContext(conf.slug, "Desk 1"), built.access_code
    )
    assert _rows(station, query, id=built.attendee_id) == [(before,)]
    assert _rows(admin, "SELECT count(*) FROM check_in") == [(1,)]


def test_a_check_in_is_a_hot_update(
    world: tuple[Engine, Engine, ConferenceBuilder, ConferenceBuilder],
) -> None:
    """No indexed column changes (change_seq included), so no index of attendee is written:
    the counters of this transaction say the update was HOT."""
    admin, _station, conf, _elsewhere = world
    built = conf.attendee()
    # This backend's counts not yet sent to the statistics, so the same transaction's
    # difference is the check-in's alone.
    counts = text(
        "SELECT pg_stat_get_xact_tuples_updated('attendee'::regclass), "
        "pg_stat_get_xact_tuples_hot_updated('attendee'::regclass)"
    )
    with admin.begin() as conn:
        updated, hot = conn.execute(counts).one()
        [outcome] = conn.execute(
            text(
                "SELECT outcome FROM station_check_in(:attendee, :conference, true, 'ok', "
                ":client_id, now(), 'Desk 1', NULL, '', :code)"
            ),
            {
                "attendee": built.attendee_id,
                "conference": conf.conference_id,
                "client_id": uuid.uuid4(),
                "code": built.access_code,
            },
        ).one()
        updated_after, hot_after = conn.execute(counts).one()
    assert (outcome, updated_after - updated, hot_after - hot) == ("ok", 1, 1)


def _heard(listener: psycopg.Connection[Any], pid: int, count: int = 1) -> list[str]:
    """The first ``count`` payloads notified by the backend ``pid`` (fewer after 5 s)."""
    heard: list[str] = []
    # Other test runs on this server may notify too: only that connection counts.
    for note in listener.notifies(timeout=5):
        if note.pid == pid:
            heard.append(note.payload)
            if len(heard) == count:
                break
    return heard


def test_a_listening_station_hears_a_refund_and_a_new_badge(
    station_role: StationRole,  # noqa: F811
    world: tuple[Engine, Engine, ConferenceBuilder, ConferenceBuilder],
) -> None:
    admin, _station, conf, _elsewhere = world
    built = conf.attendee(addons={"lunch": 1})
    with admin.connect() as conn:
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        with psycopg.connect(station_role.plain_url(), autocommit=True) as listener:
            listener.execute("LISTEN station_changes")
            conn.execute(
                text("UPDATE \"order\" SET status = 'refunded' WHERE id = :id"),
                {"id": built.order_id},
            )
            conn.commit()
            assert _heard(listener, pid) == [str(conf.conference_id)]
            person = conn.execute(
                text(
                    "INSERT INTO person (username, first_name, last_name, email) "
                    "VALUES ('newbadge', 'New', 'Badge', '') RETURNING id"
                )
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO attendee (person_id, conference_id, access_code, created_at, "
                    "updated_at) VALUES (:person, :conference, 'NEWBADGE1', now(), now())"
                ),
                {"person": person, "conference": conf.conference_id},
            )
            conn.commit()
            # Each distinct payload once per transaction: the person's '' came first.
            assert _heard(listener, pid, 2) == ["", str(conf.conference_id)]


def test_a_listening_station_hears_no_scan(
    station_role: StationRole,  # noqa: F811
    world: tuple[Engine, Engine, ConferenceBuilder, ConferenceBuilder],
) -> None:
    """A notification at commit takes a database-wide lock: scans must not send one.
    Notifications arrive in commit order, so the admin's note after the scans comes
    first if the scans sent none."""
    admin, station, conf, _elsewhere = world
    built = conf.attendee(addons={"lunch": 1})
    sessions = make_session_factory(station)
    ctx = StationContext(conf.slug, "Meal A")
    with admin.connect() as conn:
        admin_pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        with psycopg.connect(station_role.plain_url(), autocommit=True) as listener:
            listener.execute("LISTEN station_changes")
            CheckInService(sessions).check_in(ctx, built.access_code)
            RedemptionService(sessions).redeem_product(ctx, built.access_code, product="lunch")
            with pytest.raises(FullyRedeemed):
                RedemptionService(sessions).redeem_product(ctx, built.access_code, product="lunch")
            report = ConflictReport(
                client_id=uuid.uuid4(), kind="overspend", action="redeem",
                code=built.access_code, attendee_id=built.attendee_id,
                line_item_id=built.line_items["lunch"], staff_id=None, client_at=CLIENT_AT,
                reason="fully_redeemed", message="Already redeemed",
            )  # fmt: skip
            assert RedemptionService(sessions).record_conflict(ctx, report) is True
            # Every connection of the role that scanned (the listener's own aside).
            scanners = {
                int(str(pid))
                for (pid,) in _rows(
                    admin,
                    "SELECT pid FROM pg_stat_activity WHERE usename = :role AND pid <> :listener",
                    role=station_role.name,
                    listener=listener.info.backend_pid,
                )
            }
            conn.execute(text("UPDATE addon SET name = 'Lunch' WHERE slug = 'lunch'"))
            conn.commit()
            heard: list[int] = []
            for note in listener.notifies(timeout=5):
                heard.append(note.pid)
                if note.pid == admin_pid:
                    break
    assert scanners and admin_pid in heard and not scanners & set(heard)
    assert _rows(admin, "SELECT count(*) FROM check_in") == [(1,)]
    assert _rows(admin, "SELECT count(*) FROM product_redemption") == [(1,)]
    assert _rows(admin, "SELECT count(*) FROM offline_conflict") == [(1,)]


def test_the_role_records_a_conflict_once_through_the_function(
    world: tuple[Engine, Engine, ConferenceBuilder, ConferenceBuilder],
) -> None:
    admin, station, conf, _elsewhere = world
    built = conf.attendee(addons={"lunch": 1})
    sessions = make_session_factory(station)
    given = RedemptionService(sessions).redeem_product(
        StationContext(conf.slug, "Meal A"), built.access_code, product="lunch"
    )
    report = ConflictReport(
        client_id=uuid.uuid4(), kind="overspend", action="redeem", code=built.access_code,
        attendee_id=built.attendee_id, line_item_id=built.line_items["lunch"], staff_id=None,
        client_at=CLIENT_AT, reason="fully_redeemed", message="Already redeemed",
    )  # fmt: skip
    service = RedemptionService(sessions)
    meal_b = StationContext(conf.slug, "Meal B")
    assert service.record_conflict(meal_b, report) is True
    assert service.record_conflict(meal_b, report) is False
    [(station_name, other, other_at, client_at, received_at, now)] = _rows(
        admin,
        "SELECT station, other_station, other_at, client_at, received_at, now() "
        "FROM offline_conflict",
    )
    assert (station_name, other, other_at) == ("Meal B", "Meal A", given.redeemed_at)
    assert client_at == CLIENT_AT
    assert isinstance(received_at, datetime) and isinstance(now, datetime)
    assert now - timedelta(minutes=1) < received_at <= now
    # The role sees its conference's conflicts (row-level security, like the other records).
    assert _rows(station, "SELECT count(*) FROM offline_conflict") == [(1,)]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO offline_conflict (client_id, conference_id, kind, action, code, station, "
        "client_at, received_at, reason, message) VALUES (gen_random_uuid(), 1, 'conflict', "
        "'checkin', 'X', 'x', now(), '1999-01-01', 'unpaid', '')",
        "UPDATE offline_conflict SET other_station = 'nobody'",
        "DELETE FROM offline_conflict",
        "TRUNCATE offline_conflict",
        "SELECT nextval('offline_conflict_id_seq')",
    ],
    ids=["insert", "update", "delete", "truncate", "nextval"],
)
def test_no_direct_write_to_conflicts(
    world: tuple[Engine, Engine, ConferenceBuilder, ConferenceBuilder], statement: str
) -> None:
    admin, station, conf, _elsewhere = world
    built = conf.attendee()
    _rows(admin, CONFLICT.replace(":line", "NULL"), conference=conf.conference_id,
          attendee=built.attendee_id, kind="conflict", client_id=uuid.uuid4(),
          client_at=CLIENT_AT)  # fmt: skip
    with pytest.raises(ProgrammingError, match="permission denied"):
        _rows(station, statement)
    assert _rows(admin, "SELECT count(*), min(other_station) FROM offline_conflict") == [(1, None)]


@pytest.mark.parametrize(
    "case",
    ["another conference's attendee", "another conference", "someone else's line",
     "no such kind", "no such attendee"],
)  # fmt: skip
def test_forged_conflicts_are_refused(
    world: tuple[Engine, Engine, ConferenceBuilder, ConferenceBuilder], case: str
) -> None:
    admin, station, conf, elsewhere = world
    mine = conf.attendee(addons={"lunch": 1})
    other = conf.attendee(addons={"lunch": 1})
    stranger = elsewhere.attendee(addons={"lunch": 1})
    conference, attendee, line, kind, match = {
        "another conference's attendee": (conf.conference_id, stranger.attendee_id, None,
                                          "conflict", "not in conference"),
        "another conference": (elsewhere.conference_id, stranger.attendee_id, None, "conflict",
                               "only for its own conference"),
        "someone else's line": (conf.conference_id, mine.attendee_id,
                                other.line_items["lunch"], "overspend", "not on an order"),
        "no such kind": (conf.conference_id, mine.attendee_id, None, "refund", "no conflict kind"),
        "no such attendee": (conf.conference_id, 999_999, None, "conflict", "not in conference"),
    }[case]  # fmt: skip
    with pytest.raises(IntegrityError, match=match):
        _rows(station, CONFLICT, conference=conference, attendee=attendee, line=line, kind=kind,
              client_id=uuid.uuid4(), client_at=CLIENT_AT)  # fmt: skip
    assert _rows(admin, "SELECT count(*) FROM offline_conflict") == [(0,)]
