"""What a station credential can no longer do: every forged write of #14, one test each.

Connected as the role `station db grant-station-role` makes (what a stolen
terminal or a leaked config file gives anyone), each write the issue found
possible is tried and must be refused by the database itself, while a day of
scans still works (test_station_role).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from station.db import make_session_factory
from station.domain import OrderStatus
from station.services import CheckInService
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.services.test_station_role import StationRole, station_role  # noqa: F401 (fixture)

pytestmark = pytest.mark.postgres


@pytest.fixture
def world(
    station_role: StationRole,  # noqa: F811
) -> Iterator[tuple[Engine, Engine, ConferenceBuilder]]:
    admin, station = station_role.admin, station_role.station
    conf = ConferenceBuilder(make_session_factory(admin))
    conf.ticket_type("general")
    conf.addon("lunch")
    conf.addon("tutorial")
    station_role.grant(conf.slug)
    yield admin, station, conf


def _call(station: Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with station.begin() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def _count(admin: Engine, sql: str) -> int:
    with admin.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


REDEEM = (
    "SELECT * FROM station_redeem_line(:attendee, :conference, :line, :used, 'ok', 'Lunch', "
    ":client_id, :client_at, 'Meal line', NULL, '', 'CODE')"
)


def _redeem(station: Engine, attendee: int, conference: int, line: int, used: int,
            client_at: datetime | None = None) -> list[tuple[object, ...]]:  # fmt: skip
    return _call(station, REDEEM, attendee=attendee, conference=conference, line=line, used=used,
                 client_id=uuid.uuid4(), client_at=client_at)  # fmt: skip


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO product_redemption (client_id, attendee_id, order_line_item_id, "
        "conference_id, redeemed_at, station, note) "
        "SELECT gen_random_uuid(), a.id, li.id, a.conference_id, now(), 'x', '' "
        "FROM attendee a JOIN order_line_item li ON li.order_id = a.order_id",
        "INSERT INTO check_in (client_id, attendee_id, conference_id, checked_in_at, station, "
        "note) VALUES (gen_random_uuid(), 1, 1, '1999-01-01', 'x', '')",
        "INSERT INTO door_check (client_id, attendee_id, conference_id, addon_id, checked_at, "
        "station) VALUES (gen_random_uuid(), 1, 1, 1, now(), 'x')",
        "INSERT INTO scan_log (conference_id, scanned_at, station, action, code, outcome, "
        "reason, message) VALUES (1, now(), 'x', 'redeem', 'x', 'accepted', 'ok', '')",
        "UPDATE attendee SET checked_in_at = NULL",
        "SELECT nextval('scan_log_id_seq')",
        "SELECT setval('product_redemption_id_seq', 1)",
    ],
    ids=["bulk redemptions", "check-in", "door", "scan log", "undo check-ins", "nextval", "setval"],
)
def test_no_direct_write_to_records_attendees_or_sequences(
    world: tuple[Engine, Engine, ConferenceBuilder], statement: str
) -> None:
    _admin, station, conf = world
    conf.attendee(addons={"lunch": 1})
    with pytest.raises(ProgrammingError, match="permission denied"):
        _call(station, statement)


def test_the_old_rule_taking_function_is_gone(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    _admin, station, _conf = world
    with pytest.raises(ProgrammingError, match="does not exist"):
        _call(station, "SELECT * FROM station_redeem('x', 'x', 'x', 'x', 1, gen_random_uuid(), "
                       "now(), 'x', 1, '', '{}'::jsonb, '')")  # fmt: skip


def test_a_line_is_never_redeemed_past_its_quantity(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    admin, station, conf = world
    person = conf.attendee(addons={"lunch": 1})
    line = person.line_items["lunch"]
    assert _redeem(station, person.attendee_id, conf.conference_id, line, 0)[0][0] == "ok"
    # A premise that is out of date writes nothing and says so.
    assert _redeem(station, person.attendee_id, conf.conference_id, line, 0)[0][0] == "stale"
    # A forged premise that matches the count is still past the quantity.
    with pytest.raises(IntegrityError, match="used up"):
        _redeem(station, person.attendee_id, conf.conference_id, line, 1)
    assert _count(admin, "SELECT count(*) FROM product_redemption") == 1


@pytest.mark.parametrize(
    "case",
    ["refunded order", "another's line", "a ticket line", "no such line", "another conference",
     "no such attendee"],
)  # fmt: skip
def test_a_redemption_needs_an_active_order_and_a_line_of_ones_own_order(
    world: tuple[Engine, Engine, ConferenceBuilder], case: str
) -> None:
    admin, station, conf = world
    person = conf.attendee(addons={"lunch": 2})
    other = conf.attendee(addons={"lunch": 2})
    refunded = conf.attendee(addons={"lunch": 2}, status=OrderStatus.REFUNDED)
    elsewhere = ConferenceBuilder(make_session_factory(admin), slug="elsewhere")
    elsewhere.addon("lunch")
    stranger = elsewhere.attendee(addons={"lunch": 2})
    attendee, conference, line = {
        "refunded order": (refunded.attendee_id, conf.conference_id, refunded.line_items["lunch"]),
        "another's line": (person.attendee_id, conf.conference_id, other.line_items["lunch"]),
        "a ticket line": (
            person.attendee_id,
            conf.conference_id,
            person.line_items["ticket:general"],
        ),
        "no such line": (person.attendee_id, conf.conference_id, 999_999),
        "another conference": (
            stranger.attendee_id,
            conf.conference_id,
            stranger.line_items["lunch"],
        ),
        "no such attendee": (999_999, conf.conference_id, person.line_items["lunch"]),
    }[case]
    with pytest.raises(IntegrityError):
        _redeem(station, attendee, conference, line, 0)
    assert _count(admin, "SELECT count(*) FROM product_redemption") == 0
    assert _count(admin, "SELECT count(*) FROM scan_log") == 0


def test_a_check_in_for_another_conferences_attendee_is_refused(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    admin, station, conf = world
    elsewhere = ConferenceBuilder(make_session_factory(admin), slug="elsewhere")
    stranger = elsewhere.attendee()
    with pytest.raises(IntegrityError, match="not in conference"):
        _call(
            station,
            "SELECT * FROM station_check_in(:a, :c, true, 'ok', gen_random_uuid(), "
            "'1999-01-01', 'x', NULL, '', 'X')",
            a=stranger.attendee_id,
            c=conf.conference_id,
        )
    assert _count(admin, "SELECT count(*) FROM check_in") == 0


def test_a_station_records_only_for_the_conference_it_was_granted(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    admin, station, _conf = world
    elsewhere = ConferenceBuilder(make_session_factory(admin), slug="elsewhere")
    elsewhere.addon("lunch")
    stranger = elsewhere.attendee(addons={"lunch": 1})
    line = stranger.line_items["lunch"]
    with pytest.raises(IntegrityError, match="only for its own conference"):
        _redeem(station, stranger.attendee_id, elsewhere.conference_id, line, 0)
    with pytest.raises(IntegrityError, match="only for its own conference"):
        _call(station, "SELECT station_log_scan('elsewhere', NULL, 'checkin', 'not_found', "
                       "'x', NULL, 'x', NULL, 'X')")  # fmt: skip
    assert _count(admin, "SELECT count(*) FROM product_redemption") == 0


def test_a_door_admission_needs_the_product_on_the_order(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    admin, station, conf = world
    person = conf.attendee(addons={"lunch": 1})
    tutorial = _count(admin, "SELECT id FROM addon WHERE slug = 'tutorial'")
    with pytest.raises(IntegrityError, match="not on attendee"):
        _call(station, "SELECT * FROM station_admit(:a, :c, 'addon', :p, 'in', NULL, 'ok', "
                       "gen_random_uuid(), NULL, 'x', NULL, 'X')",
              a=person.attendee_id, c=conf.conference_id, p=tutorial)  # fmt: skip


def test_a_forged_staff_id_is_refused(world: tuple[Engine, Engine, ConferenceBuilder]) -> None:
    _admin, station, conf = world
    person = conf.attendee()
    with pytest.raises(IntegrityError, match="no staff member"):
        _call(
            station,
            "SELECT * FROM station_check_in(:a, :c, true, 'ok', gen_random_uuid(), "
            "NULL, 'x', -1, '', 'X')",
            a=person.attendee_id,
            c=conf.conference_id,
        )


def test_the_recorded_time_is_the_servers_and_the_stations_is_kept_beside_it(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    admin, station, conf = world
    person = conf.attendee(addons={"lunch": 1})
    forged = datetime(1999, 1, 1, tzinfo=UTC)
    _redeem(
        station,
        person.attendee_id,
        conf.conference_id,
        person.line_items["lunch"],
        0,
        client_at=forged,
    )
    with admin.connect() as conn:
        redeemed_at, client_at = conn.execute(
            text("SELECT redeemed_at, client_at FROM product_redemption")
        ).one()
        logged_at = conn.execute(text("SELECT scanned_at FROM scan_log")).scalar_one()
    assert client_at == forged
    assert abs((redeemed_at - datetime.now(UTC)).total_seconds()) < 60
    assert logged_at == redeemed_at


def test_record_ids_are_bigint(world: tuple[Engine, Engine, ConferenceBuilder]) -> None:
    admin, _station, _conf = world
    with admin.connect() as conn:
        types = conn.execute(
            text(
                "SELECT table_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = 'id' AND table_name IN "
                "('check_in', 'door_check', 'product_redemption', 'scan_log')"
            )
        ).all()
        sequences = conn.execute(
            text(
                "SELECT sequence_name, data_type FROM information_schema.sequences "
                "WHERE sequence_schema = current_schema() AND sequence_name IN "
                "('check_in_id_seq', 'door_check_id_seq', 'product_redemption_id_seq', "
                "'scan_log_id_seq')"
            )
        ).all()
    records = ("check_in", "door_check", "product_redemption", "scan_log")
    assert sorted(types) == [(t, "bigint") for t in records]
    assert len(sequences) == 4 and {t for _n, t in sequences} == {"bigint"}


def test_a_retry_through_the_function_writes_nothing_twice(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    admin, station, conf = world
    person = conf.attendee(addons={"lunch": 2})
    client_id = uuid.uuid4()
    call: Callable[[], list[tuple[object, ...]]] = lambda: _call(  # noqa: E731
        station, REDEEM, attendee=person.attendee_id, conference=conf.conference_id,
        line=person.line_items["lunch"], used=0, client_id=client_id, client_at=None,
    )  # fmt: skip
    assert call()[0][0] == "ok"
    assert call()[0][0] in ("stale", "duplicate")  # nothing written either way
    assert _count(admin, "SELECT count(*) FROM product_redemption") == 1


def test_a_station_role_scans_through_the_functions(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    admin, station, conf = world
    person = conf.attendee(addons={"lunch": 1})
    service = CheckInService(make_session_factory(station))
    ctx = StationContext(conf.slug, "Desk 1")
    assert not service.check_in(ctx, person.access_code).reentry
    assert service.check_in(ctx, person.access_code).reentry
    assert _count(admin, "SELECT count(*) FROM check_in WHERE client_at IS NOT NULL") == 2
