"""Forged voids as the station role: the database refuses what the rule book would not word.

A station role cannot write scan_void at all, and station_void() (migration 0012)
refuses a void of a record that does not exist, of another conference, of a
kind that is not a scan, twice, or in the name of a supervisor without their PIN.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from station.db import make_session_factory
from station.pins import hash_pin
from tests.builders import ConferenceBuilder
from tests.services.test_station_role import StationRole, station_role  # noqa: F401 (fixture)

pytestmark = pytest.mark.postgres

VOID = (
    "SELECT * FROM station_void(:conference, :kind, :record, :client_id, now(), 'Desk', "
    ":staff, :pin_hash, 'forged')"
)


@pytest.fixture
def world(
    station_role: StationRole,  # noqa: F811
) -> Iterator[tuple[Engine, Engine, ConferenceBuilder]]:
    admin, station = station_role.admin, station_role.station
    conf = ConferenceBuilder(make_session_factory(admin))
    conf.addon("lunch")
    station_role.grant(conf.slug)
    yield admin, station, conf


def _call(station: Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with station.begin() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def _count(admin: Engine, sql: str) -> int:
    with admin.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _redemption(admin: Engine, conf: ConferenceBuilder) -> int:
    person = conf.attendee(addons={"lunch": 1})
    with admin.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO product_redemption (client_id, attendee_id, order_line_item_id, "
                    "conference_id, redeemed_at, station, note) VALUES (gen_random_uuid(), :a, "
                    ":li, :c, now(), 'Desk', '') RETURNING id"
                ),
                {
                    "a": person.attendee_id,
                    "li": person.line_items["lunch"],
                    "c": conf.conference_id,
                },
            ).scalar_one()
        )


def _void(
    station: Engine,
    conference: int,
    record: int,
    kind: str = "redeem",
    staff: int | None = None,
    pin_hash: str | None = None,
) -> list[tuple[object, ...]]:
    return _call(
        station, VOID, conference=conference, kind=kind, record=record,
        client_id=uuid.uuid4(), staff=staff, pin_hash=pin_hash,
    )  # fmt: skip


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO scan_void (client_id, conference_id, attendee_id, record_kind, record_id, "
        "station, reason, voided_at) VALUES (gen_random_uuid(), 1, 1, 'redeem', 1, 'x', '', now())",
        "DELETE FROM scan_void",
        "UPDATE scan_void SET reason = ''",
    ],
    ids=["insert", "delete", "update"],
)
def test_no_direct_write_to_voids(
    world: tuple[Engine, Engine, ConferenceBuilder], statement: str
) -> None:
    _admin, station, _conf = world
    with pytest.raises(ProgrammingError, match="permission denied"):
        _call(station, statement)


def test_a_void_is_written_once_with_its_log_row(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    admin, station, conf = world
    record = _redemption(admin, conf)
    assert _void(station, conf.conference_id, record)[0][0] == "ok"
    assert _void(station, conf.conference_id, record)[0][0] == "stale"  # already voided
    assert _count(admin, "SELECT count(*) FROM scan_void") == 1
    assert _count(admin, "SELECT count(*) FROM scan_log WHERE action = 'void'") == 1


@pytest.mark.parametrize("case", ["no such record", "wrong kind", "not a scan kind"])
def test_a_void_of_a_record_that_is_not_there_is_refused(
    world: tuple[Engine, Engine, ConferenceBuilder], case: str
) -> None:
    admin, station, conf = world
    record = _redemption(admin, conf)
    kind, target = {"no such record": ("redeem", record + 1000), "wrong kind": ("door", record),
                    "not a scan kind": ("lookup", record)}[case]  # fmt: skip
    with pytest.raises(IntegrityError):
        _void(station, conf.conference_id, target, kind=kind)
    assert _count(admin, "SELECT count(*) FROM scan_void") == 0


def test_a_void_in_another_conference_is_refused(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    admin, station, conf = world
    elsewhere = ConferenceBuilder(make_session_factory(admin), slug="elsewhere")
    elsewhere.addon("lunch")
    record = _redemption(admin, elsewhere)
    with pytest.raises(IntegrityError, match="own conference"):
        _void(station, elsewhere.conference_id, record)
    with pytest.raises(IntegrityError, match="in conference"):
        _void(station, conf.conference_id, record)  # named as this conference's
    assert _count(admin, "SELECT count(*) FROM scan_void") == 0


def test_a_supervisor_void_needs_the_supervisors_pin(
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    admin, station, conf = world
    record = _redemption(admin, conf)
    operator = conf.staff("Ana", "1357")
    supervisor = conf.staff("Sam", "2468", supervisor=True)
    for staff, pin_hash in ((supervisor, hash_pin("0000")), (operator, "x"), (supervisor, "")):
        with pytest.raises(IntegrityError, match="not a supervisor"):
            _void(station, conf.conference_id, record, staff=staff, pin_hash=pin_hash)
    with admin.connect() as conn:
        stored = conn.execute(
            text("SELECT pin_hash FROM staff WHERE id = :s"), {"s": supervisor}
        ).scalar_one()
    outcome = _void(station, conf.conference_id, record, staff=supervisor, pin_hash=stored)
    assert outcome[0][0] == "ok"


def test_the_services_void_as_the_station_role(
    station_role: StationRole,  # noqa: F811
    world: tuple[Engine, Engine, ConferenceBuilder],
) -> None:
    """What a station does, connected as its role: read the records, check the
    supervisor, void through station_void(), and see the unit free again."""
    from station.services import CheckInService, RedemptionService
    from station.services.results import StationContext
    from station.services.voids import VoidService

    admin, station, conf = world
    conf.staff("Sam", "2468", supervisor=True)
    person = conf.attendee(addons={"lunch": 1})
    sessions = make_session_factory(station)
    ctx = StationContext(conf.slug, "Meal line", None)
    redemption = RedemptionService(sessions)
    redemption.redeem_product(ctx, person.access_code, product="lunch")
    voids = VoidService(sessions)
    result = voids.void_last(ctx, client_id=uuid.uuid4())
    assert result.what == "Redemption: lunch"
    redemption.redeem_product(ctx, person.access_code, product="lunch")
    (latest, first) = voids.records(ctx, person.access_code)
    assert (latest.already_voided, first.already_voided) == (False, True)
    by_supervisor = voids.void_by_supervisor(
        ctx, supervisor="Sam", pin="2468", kind="redeem", record_id=latest.record_id,
        reason="wrong badge", client_id=uuid.uuid4(),
    )  # fmt: skip
    assert by_supervisor.by == "Sam"
    CheckInService(sessions).check_in(ctx, person.access_code)
    assert _count(admin, "SELECT count(*) FROM scan_void") == 2
