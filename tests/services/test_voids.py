"""Voids: the operator takes back their last scan in time; a supervisor any scan, with a PIN.

A void is a new record; the voided one stays, and every count leaves it out.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from station.models import CheckIn, ProductRedemption, ScanLog, ScanVoid, utcnow
from station.services.errors import FullyRedeemed, InvalidInput, Reason, VoidRefused
from station.services.results import StationContext
from station.services.voids import VoidService
from tests.services.conftest import World


def _voids(world: World, *, later: timedelta = timedelta(0)) -> VoidService:
    return VoidService(world.sessions, clock=lambda: utcnow() + later)


def test_the_operator_voids_their_last_redemption_and_it_can_be_redeemed_again(
    world: World,
) -> None:
    world.conf.addon("lunch", "Lunch")
    built = world.conf.attendee(addons={"lunch": 1})
    world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    with pytest.raises(FullyRedeemed):
        world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")

    voids = _voids(world)
    last = voids.last_scan(world.ctx)
    assert last is not None and last.what == "Redemption: Lunch"
    result = voids.void_last(world.ctx, client_id=uuid.uuid4())
    assert result.what == "Redemption: Lunch" and result.voided_at is not None
    assert result.attendee_name == "Ada Lovelace"

    again = world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    assert (again.redeemed, again.quantity) == (1, 1)
    assert world.count(ProductRedemption) == 2  # the voided one stays
    assert world.count(ScanVoid) == 1
    assert world.count(ScanLog, action="void", outcome="accepted") == 1


def test_the_operator_cannot_void_after_the_window(world: World) -> None:
    built = world.conf.attendee()
    world.checkin.check_in(world.ctx, built.access_code)
    voids = _voids(world, later=timedelta(minutes=3))
    with pytest.raises(VoidRefused) as refused:
        voids.void_last(world.ctx, client_id=uuid.uuid4(), window_seconds=120)
    assert refused.value.reason is Reason.VOID_NOT_ALLOWED
    assert "older than 2 minutes" in refused.value.message
    assert world.count(ScanVoid) == 0


def test_the_operator_voids_only_the_last_scan_they_confirmed(world: World) -> None:
    first = world.conf.attendee()
    second = world.conf.attendee()
    world.checkin.check_in(world.ctx, first.access_code)
    voids = _voids(world)
    shown = voids.last_scan(world.ctx)
    assert shown is not None
    world.checkin.check_in(world.ctx, second.access_code)  # another scan came meanwhile
    with pytest.raises(VoidRefused):
        voids.void_last(
            world.ctx,
            client_id=uuid.uuid4(),
            expected=(shown.kind, shown.record_id),  # type: ignore[arg-type]
        )
    assert world.count(ScanVoid) == 0


def test_nothing_to_void_at_a_new_station(world: World) -> None:
    with pytest.raises(VoidRefused, match="Nothing to void"):
        _voids(world).void_last(world.ctx, client_id=uuid.uuid4())


def test_a_voided_scan_is_not_voided_twice(world: World) -> None:
    built = world.conf.attendee()
    world.checkin.check_in(world.ctx, built.access_code)
    voids = _voids(world)
    voids.void_last(world.ctx, client_id=uuid.uuid4())
    with pytest.raises(VoidRefused, match="already voided"):
        voids.void_last(world.ctx, client_id=uuid.uuid4())
    assert world.count(ScanVoid) == 1


def test_a_supervisor_voids_an_old_scan_found_by_badge(world: World) -> None:
    world.conf.staff("Sam", "2468", supervisor=True)
    world.conf.addon("lunch", "Lunch")
    built = world.conf.attendee(addons={"lunch": 2})
    world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    other = StationContext(world.ctx.conference, "Desk 2", world.ctx.staff_id)
    world.checkin.check_in(other, built.access_code)  # the redemption is no longer last

    voids = _voids(world, later=timedelta(hours=2))
    records = voids.records(world.ctx, built.access_code.lower())
    assert [r.what for r in records] == ["Check-in", "Redemption: Lunch"]
    redemption = records[1]
    with pytest.raises(VoidRefused):  # the operator may not
        voids.void_last(
            world.ctx,
            client_id=uuid.uuid4(),
            expected=("redeem", redemption.record_id),
        )
    with pytest.raises(InvalidInput, match="Wrong PIN"):
        voids.void_by_supervisor(
            world.ctx, supervisor="Sam", pin="0000", kind="redeem",
            record_id=redemption.record_id, reason="double scan", client_id=uuid.uuid4(),
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="supervisor"):
        voids.void_by_supervisor(
            world.ctx, supervisor="Ana", pin="", kind="redeem",
            record_id=redemption.record_id, reason="double scan", client_id=uuid.uuid4(),
        )  # fmt: skip
    result = voids.void_by_supervisor(
        world.ctx, supervisor="Sam", pin="2468", kind="redeem",
        record_id=redemption.record_id, reason="double scan", client_id=uuid.uuid4(),
    )  # fmt: skip
    assert result.by == "Sam" and result.reason == "double scan"
    after = voids.records(world.ctx, built.access_code)
    assert [r.already_voided for r in after] == [False, True]
    products = world.redemption.get_redeemable_products(world.ctx, built.access_code)
    assert [(p.redeemed, p.remaining) for p in products] == [(0, 2)]


def test_a_supervisor_void_needs_a_reason(world: World) -> None:
    world.conf.staff("Sam", "2468", supervisor=True)
    built = world.conf.attendee()
    world.checkin.check_in(world.ctx, built.access_code)
    voids = _voids(world)
    record = voids.records(world.ctx, built.access_code)[0]
    with pytest.raises(VoidRefused, match="reason"):
        voids.void_by_supervisor(
            world.ctx, supervisor="Sam", pin="2468", kind="checkin",
            record_id=record.record_id, reason="  ", client_id=uuid.uuid4(),
        )  # fmt: skip


def test_a_voided_first_check_in_makes_the_next_one_first(world: World) -> None:
    built = world.conf.attendee()
    world.checkin.check_in(world.ctx, built.access_code)
    _voids(world).void_last(world.ctx, client_id=uuid.uuid4())
    badge = world.checkin.lookup_attendee(world.ctx, built.access_code)
    assert not badge.checked_in and badge.check_in_count == 0
    again = world.checkin.check_in(world.ctx, built.access_code)
    assert again.reason is Reason.OK  # first again, not a re-entry
    assert again.badge.check_in_count == 1
    assert world.count(CheckIn) == 2


def test_a_voided_door_admission(world: World) -> None:
    world.conf.ticket_type("general", "Conference pass")
    built = world.conf.attendee(ticket="general")
    world.checkin.record_door_check(world.ctx, built.access_code, product="ticket:general")
    result = _voids(world).void_last(world.ctx, client_id=uuid.uuid4())
    assert result.what == "Admission: Conference pass"


def test_reports_exports_and_counters_leave_voided_scans_out(world: World) -> None:
    from station.domain import Mode
    from station.exporter import ExportFilter, export_rows
    from station.reading import read_connection
    from station.report import build_reports
    from station.services.counters import CounterService

    world.conf.addon("lunch", "Lunch")
    kept = world.conf.attendee(addons={"lunch": 1})
    voided = world.conf.attendee(addons={"lunch": 1})
    world.checkin.check_in(world.ctx, kept.access_code)
    world.redemption.redeem_product(world.ctx, kept.access_code, product="lunch")
    world.redemption.redeem_product(world.ctx, voided.access_code, product="lunch")
    _voids(world).void_last(world.ctx, client_id=uuid.uuid4())

    (report,) = build_reports(world.db.engine, world.conf.slug)
    (lunch,) = report.products
    assert (lunch.redeemed, lunch.remaining) == (1, 1)
    assert report.voided == {"redeem": 1}
    (station,) = report.stations
    assert (station.check_ins, station.redemptions) == (1, 1)

    with read_connection(world.db.engine) as conn:
        exported = export_rows(conn, "redemptions", ExportFilter())
        rows = [dict(zip(exported.columns, row, strict=True)) for row in exported.rows]
    assert sorted(row["access_code"] == voided.access_code for row in rows if row["voided_at"]) == [
        True
    ]
    assert len(rows) == 2  # voided rows stay in the export, marked

    tally = CounterService(world.sessions).tally(world.ctx, Mode.MEAL, "lunch")
    assert (tally.today, tally.done, tally.station_today) == (1, 1, 2)
