"""The event rules' guards hold for a station role that forges its calls.

A station role may only call the guarded functions (migration 0008): here it calls them
itself, the way a stolen password and psql would, with premises that pass every other
check, and the database still refuses what the rules' invariants forbid. A day with
rules still runs through the services as that role.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, ProgrammingError

from station.db import make_session_factory
from station.models import AddOn, DoorCheck, ProductRedemption, RoomCount
from station.services import CheckInService, RedemptionService
from station.services.errors import Reason, RuleRefusal
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.services.test_station_role import StationRole, station_role

pytestmark = pytest.mark.postgres
__all__ = ["station_role"]  # the fixture, shared with the station role's own tests

REDEEM = text(
    "SELECT outcome FROM station_redeem_line(:attendee, :conference, :line, :used, 'ok', '', "
    ":client_id, now(), 'forged', NULL, '', 'CODE')"
)
ADMIT = text(
    "SELECT outcome FROM station_admit(:attendee, :conference, 'addon', :product, :direction, "
    ":seen, 'ok', :client_id, now(), 'forged', NULL, 'CODE')"
)


def call(conn: Connection, statement: Any, **params: object) -> str:
    return str(conn.execute(statement, {"client_id": uuid.uuid4(), **params}).scalar_one())


def set_addon(role: StationRole, addon: int, **columns: object) -> None:
    with role.admin.begin() as conn:
        conn.execute(update(AddOn).where(AddOn.id == addon).values(**columns))


def test_a_forged_redeem_over_the_daily_cap_is_refused(station_role: StationRole) -> None:
    conf = ConferenceBuilder(make_session_factory(station_role.admin))
    voucher = conf.addon("voucher", "Meal voucher")
    set_addon(station_role, voucher, daily_limit=1)
    person = conf.attendee(addons={"voucher": 3})
    line = person.line_items["voucher"]
    ids = {"attendee": person.attendee_id, "conference": conf.conference_id, "line": line}
    with station_role.station.begin() as conn:
        assert call(conn, REDEEM, used=0, **ids) == "ok"
        # The line's own premise holds (1 used of 3): only the day's cap refuses.
        assert call(conn, REDEEM, used=1, **ids) == "stale"
        # A clock of its own does not move a station role's day (station_now(), 0014).
        conn.execute(text("SET LOCAL station.clock_offset = '1 day'"))
        assert call(conn, REDEEM, used=1, **ids) == "stale"
        drift = conn.scalar(text("SELECT extract(epoch FROM station_now() - now())"))
        assert drift == 0
    with station_role.admin.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ProductRedemption)) == 1
        recorded = conn.scalar(select(ProductRedemption.redeemed_at))
    assert recorded is not None
    assert abs(recorded - datetime.now(UTC)) < timedelta(minutes=5)


def test_a_forged_clock_moves_nothing_the_role_records(station_role: StationRole) -> None:
    conf = ConferenceBuilder(make_session_factory(station_role.admin))
    conf.addon("voucher")
    person = conf.attendee(addons={"voucher": 2})
    with station_role.station.begin() as conn:
        conn.execute(text("SET LOCAL station.clock_offset = '-3 days'"))
        recorded = conn.execute(
            text(
                "SELECT recorded_at FROM station_redeem_line(:attendee, :conference, :line, 0, "
                "'ok', '', :client_id, now(), 'forged', NULL, '', 'CODE')"
            ),
            {
                "attendee": person.attendee_id,
                "conference": conf.conference_id,
                "line": person.line_items["voucher"],
                "client_id": uuid.uuid4(),
            },
        ).scalar_one()
    assert abs(recorded - datetime.now(UTC)) < timedelta(minutes=5)
    # The owner (tests, demos) may move the clock: the same setting is honoured there.
    with station_role.admin.begin() as conn:
        conn.execute(text("SET LOCAL station.clock_offset = '-3 days'"))
        drift = conn.scalar(text("SELECT extract(epoch FROM now() - station_now())"))
    assert drift == 3 * 86400


def test_a_forged_admission_over_capacity_is_refused(station_role: StationRole) -> None:
    conf = ConferenceBuilder(make_session_factory(station_role.admin))
    room = conf.addon("tutorial", "Tutorial A")
    set_addon(station_role, room, capacity=2)
    people = [conf.attendee(addons={"tutorial": 1}) for _ in range(3)]
    ids = {"conference": conf.conference_id, "product": room}
    with station_role.station.begin() as conn:
        for person in people[:2]:
            admitted = call(conn, ADMIT, attendee=person.attendee_id, direction="in", seen=0, **ids)
            assert admitted == "ok"
        third = people[2].attendee_id
        # The premise is right (no scan of the third here yet): the room is full.
        assert call(conn, ADMIT, attendee=third, direction="in", seen=0, **ids) == "stale"
        # Without a premise at all the capacity still holds.
        assert call(conn, ADMIT, attendee=third, direction="in", seen=None, **ids) == "stale"
        # Someone inside may scan in again (re-entry is the rule book's): not one more inside.
        first = people[0].attendee_id
        assert call(conn, ADMIT, attendee=first, direction="in", seen=1, **ids) == "ok"
        assert call(conn, ADMIT, attendee=first, direction="out", seen=2, **ids) == "ok"
        assert call(conn, ADMIT, attendee=third, direction="in", seen=0, **ids) == "ok"
    with station_role.admin.connect() as conn:
        entries = conn.scalar(
            select(func.count()).select_from(DoorCheck).where(DoorCheck.direction == "in")
        )
    assert entries == 4


def test_a_forged_direction_is_refused(station_role: StationRole) -> None:
    conf = ConferenceBuilder(make_session_factory(station_role.admin))
    room = conf.addon("tutorial")
    person = conf.attendee(addons={"tutorial": 1})
    with (
        pytest.raises(DBAPIError, match="no door direction"),
        station_role.station.begin() as conn,
    ):
        call(conn, ADMIT, attendee=person.attendee_id, conference=conf.conference_id,
             product=room, direction="sideways", seen=0)  # fmt: skip


def test_a_role_clears_no_door_of_another_conference(station_role: StationRole) -> None:
    admin_sessions = make_session_factory(station_role.admin)
    other = ConferenceBuilder(admin_sessions, slug="other-con")
    room = other.addon("tutorial")
    boss = other.staff("Bo", "1234", supervisor=True)
    with (
        pytest.raises(DBAPIError, match="clears doors only in its own conference"),
        station_role.station.begin() as conn,
    ):
        conn.execute(
            text(
                "SELECT * FROM station_door_clear(:conference, 'addon', :product, :client_id, "
                "now(), 'forged', :staff, 'whatever')"
            ),
            {"conference": other.conference_id, "product": room, "client_id": uuid.uuid4(),
             "staff": boss},
        )  # fmt: skip


def test_a_role_clears_its_own_door_only_with_a_supervisor_pin(station_role: StationRole) -> None:
    conf = ConferenceBuilder(make_session_factory(station_role.admin))
    room = conf.addon("tutorial")
    clerk = conf.staff("Cy", "1111")
    with (
        pytest.raises(DBAPIError, match="not a supervisor with that PIN"),
        station_role.station.begin() as conn,
    ):
        conn.execute(
            text(
                "SELECT * FROM station_door_clear(:conference, 'addon', :product, :client_id, "
                "now(), 'forged', :staff, 'forged-hash')"
            ),
            {"conference": conf.conference_id, "product": room, "client_id": uuid.uuid4(),
             "staff": clerk},
        )  # fmt: skip


def test_a_day_with_rules_runs_as_the_station_role(station_role: StationRole) -> None:
    conf = ConferenceBuilder(make_session_factory(station_role.admin))
    voucher = conf.addon("voucher", "Meal voucher")
    room = conf.addon("tutorial", "Tutorial A")
    set_addon(station_role, voucher, daily_limit=1)
    set_addon(station_role, room, capacity=1, reentry="after_exit")
    ada = conf.attendee(addons={"voucher": 3, "tutorial": 1})
    bob = conf.attendee(addons={"tutorial": 1})
    sessions = make_session_factory(station_role.station)
    meals, door = RedemptionService(sessions), CheckInService(sessions)
    ctx = StationContext(conf.slug, "Lunch 1")

    assert meals.redeem_product(ctx, ada.access_code, product="voucher").redeemed == 1
    with pytest.raises(RuleRefusal) as refused:
        meals.redeem_product(ctx, ada.access_code, product="voucher")
    assert refused.value.reason is Reason.DAILY_LIMIT

    assert door.record_door_check(ctx, ada.access_code, product="addon:tutorial").inside == 1
    with pytest.raises(RuleRefusal) as full:
        door.record_door_check(ctx, bob.access_code, product="addon:tutorial")
    assert full.value.reason is Reason.FULL
    with pytest.raises(RuleRefusal) as again:
        door.record_door_check(ctx, ada.access_code, product="addon:tutorial")
    assert again.value.reason is Reason.NEEDS_EXIT
    out = door.record_door_check(ctx, ada.access_code, product="addon:tutorial", direction="out")
    assert out.inside == 0
    assert door.record_door_check(ctx, bob.access_code, product="addon:tutorial").inside == 1


FORGED_ROOM_WRITES = (
    "UPDATE room_count SET inside = 0",
    "DELETE FROM room_count",
    "INSERT INTO room_count (conference_id, addon_id, inside) VALUES (:conference, :room, 0)",
)


@pytest.mark.parametrize("statement", FORGED_ROOM_WRITES)
def test_a_station_role_reads_its_rooms_counts_and_writes_none(
    station_role: StationRole, statement: str
) -> None:
    admin_sessions = make_session_factory(station_role.admin)
    conf = ConferenceBuilder(admin_sessions)
    room = conf.addon("tutorial")
    person = conf.attendee(addons={"tutorial": 1})
    other = ConferenceBuilder(admin_sessions, slug="other-con")
    their_room = other.addon("tutorial")
    theirs = other.attendee(addons={"tutorial": 1})
    with station_role.station.begin() as conn:
        admitted = call(conn, ADMIT, attendee=person.attendee_id, conference=conf.conference_id,
                        product=room, direction="in", seen=0)  # fmt: skip
        assert admitted == "ok"
    with admin_sessions.begin() as s:
        s.execute(
            insert(DoorCheck).values(
                client_id=uuid.uuid4(), attendee_id=theirs.attendee_id,
                conference_id=other.conference_id, addon_id=their_room, station="Theirs",
            )
        )  # fmt: skip
    rooms = select(RoomCount.addon_id, RoomCount.inside).order_by(RoomCount.addon_id)
    with station_role.station.connect() as conn:
        # The room counts of its own conference only (row-level security).
        assert [tuple(row) for row in conn.execute(rooms)] == [(room, 1)]
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        station_role.station.begin() as conn,
    ):
        conn.execute(text(statement), {"conference": conf.conference_id, "room": their_room + 1})
    with station_role.admin.connect() as conn:
        assert [tuple(row) for row in conn.execute(rooms)] == [(room, 1), (their_room, 1)]


REDEEM_WITH_PREMISES = text(
    "SELECT outcome FROM station_redeem_line(:attendee, :conference, :line, :used, 'ok', '', "
    ":client_id, now(), 'forged', NULL, '', 'CODE', CAST(:versions AS bigint[]), "
    "CAST(:records AS bigint[]))"
)


def test_the_premises_of_0020_only_ever_hold_a_write_back(station_role: StationRole) -> None:
    """A station role calling with premises of its own choosing: a wrong one writes nothing,
    none at all is the read path's call, and no premise lifts a guard (the quantity)."""
    conf = ConferenceBuilder(make_session_factory(station_role.admin))
    conf.addon("lunch")
    person = conf.attendee(addons={"lunch": 1})
    ids = {
        "attendee": person.attendee_id,
        "conference": conf.conference_id,
        "line": person.line_items["lunch"],
    }
    with station_role.station.begin() as conn:
        forged = {"versions": "{1}", "records": "{0,0,0,0}"}
        assert call(conn, REDEEM_WITH_PREMISES, used=0, **forged, **ids) == "stale"
        none = {"versions": None, "records": None}
        assert call(conn, REDEEM_WITH_PREMISES, used=0, **none, **ids) == "ok"
    with station_role.station.begin() as conn, pytest.raises(DBAPIError, match="used up"):
        call(conn, REDEEM_WITH_PREMISES, used=1, **none, **ids)
    with station_role.admin.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ProductRedemption)) == 1
