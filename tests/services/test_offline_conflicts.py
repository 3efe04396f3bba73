"""Offline conflicts (migration 0013): a refused replay is recorded once, with the other
station of an overspend found by the server, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from station.models import OfflineConflict, ProductRedemption
from station.services.errors import DatabaseUnavailable
from station.services.results import StationContext
from station.services.store import ConflictReport
from station.services.voids import VoidService
from tests.builders import ConferenceBuilder
from tests.services.conftest import World

CLIENT_AT = datetime(2026, 5, 14, 11, 30, tzinfo=UTC)


def _report(**changes: object) -> ConflictReport:
    base = ConflictReport(
        client_id=uuid.uuid4(),
        kind="conflict",
        action="checkin",
        code="NOSUCH",
        attendee_id=None,
        line_item_id=None,
        staff_id=None,
        client_at=CLIENT_AT,
        reason="not_found",
        message="Unknown badge",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _rows(world: World) -> list[OfflineConflict]:
    with world.sessions() as s:
        return list(s.scalars(select(OfflineConflict).order_by(OfflineConflict.id)))


def _server_now(world: World) -> datetime:
    with world.sessions() as s:
        value = s.scalar(select(func.current_timestamp()))
    assert value is not None
    if isinstance(value, str):  # SQLite answers text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_a_conflict_is_recorded_once_per_client_id(world: World) -> None:
    offline = replace(world.ctx, station="Desk offline")
    report = _report()
    assert world.checkin.record_conflict(offline, report) is True
    assert world.checkin.record_conflict(offline, report) is False
    [row] = _rows(world)
    assert (row.kind, row.action, row.code, row.station) == (
        "conflict", "checkin", "NOSUCH", "Desk offline")  # fmt: skip
    assert row.attendee_id is None and row.other_station is None and row.other_at is None
    assert row.client_at == CLIENT_AT
    assert (row.reason, row.message) == ("not_found", "Unknown badge")


def test_received_at_is_the_servers_time_not_the_stations(world: World) -> None:
    built = world.conf.attendee()
    before = _server_now(world) - timedelta(seconds=2)
    world.checkin.record_conflict(
        world.ctx,
        _report(attendee_id=built.attendee_id, code=built.access_code, reason="unpaid"),
    )
    after = _server_now(world) + timedelta(seconds=2)
    [row] = _rows(world)
    assert before <= row.received_at <= after
    assert row.received_at != row.client_at


def test_an_overspend_names_the_other_station(world: World) -> None:
    built = world.conf.attendee(addons={"lunch": 1})
    line = built.line_items["lunch"]
    meal_a = replace(world.ctx, station="Meal A")
    given = world.redemption.redeem_product(meal_a, built.access_code, product="lunch")
    meal_b = replace(world.ctx, station="Meal B")
    overspend = _report(kind="overspend", action="redeem", code=built.access_code,
                        attendee_id=built.attendee_id, line_item_id=line,
                        reason="fully_redeemed", message="Already redeemed")  # fmt: skip
    assert world.redemption.record_conflict(meal_b, overspend)
    [row] = _rows(world)
    assert row.kind == "overspend" and row.order_line_item_id == line
    assert row.other_station == "Meal A"
    assert row.other_at == given.redeemed_at


def test_an_overspend_prefers_another_station_and_skips_voided_units(world: World) -> None:
    built = world.conf.attendee(addons={"lunch": 3})
    line = built.line_items["lunch"]
    meal_a = replace(world.ctx, station="Meal A")
    meal_b = replace(world.ctx, station="Meal B")
    meal_c = replace(world.ctx, station="Meal C")
    world.redemption.redeem_product(meal_a, built.access_code, product="lunch")
    world.redemption.redeem_product(meal_c, built.access_code, product="lunch")
    world.redemption.redeem_product(meal_b, built.access_code, product="lunch")  # its own
    voided = VoidService(world.sessions).void_last(meal_c, client_id=uuid.uuid4(), reason="x")
    with world.sessions() as s:
        by_c = s.scalar(select(ProductRedemption.id).where(ProductRedemption.station == "Meal C"))
    assert by_c is not None and voided is not None
    overspend = _report(kind="overspend", action="redeem", code=built.access_code,
                        attendee_id=built.attendee_id, line_item_id=line,
                        reason="fully_redeemed")  # fmt: skip
    world.redemption.record_conflict(meal_b, overspend)
    [row] = _rows(world)
    assert row.other_station == "Meal A"  # not B (itself), not C (voided)


def test_an_overspend_falls_back_to_its_own_station(world: World) -> None:
    built = world.conf.attendee(addons={"lunch": 1})
    meal_b = replace(world.ctx, station="Meal B")
    given = world.redemption.redeem_product(meal_b, built.access_code, product="lunch")
    world.redemption.record_conflict(
        meal_b,
        _report(kind="overspend", action="redeem", code=built.access_code,
                attendee_id=built.attendee_id, line_item_id=built.line_items["lunch"],
                reason="fully_redeemed"),
    )  # fmt: skip
    [row] = _rows(world)
    assert (row.other_station, row.other_at) == ("Meal B", given.redeemed_at)


def test_a_conflict_for_another_conferences_attendee_is_refused(world: World) -> None:
    other = ConferenceBuilder(world.sessions, slug="other-con").attendee(addons={"lunch": 1})
    with pytest.raises(DatabaseUnavailable):
        world.checkin.record_conflict(world.ctx, _report(attendee_id=other.attendee_id))
    with pytest.raises(DatabaseUnavailable):  # a line of someone else's order
        mine = world.conf.attendee()
        world.checkin.record_conflict(
            world.ctx,
            _report(attendee_id=mine.attendee_id, line_item_id=other.line_items["lunch"]),
        )
    assert _rows(world) == []


def test_conflicts_are_append_only(world: World) -> None:
    world.checkin.record_conflict(world.ctx, _report())
    for statement in ("UPDATE offline_conflict SET reason = 'ok'", "DELETE FROM offline_conflict"):
        if world.db.kind == "postgres":
            continue  # the owner may; the station role may not (test_record_guards)
        with pytest.raises(Exception, match="append-only"), world.db.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(_rows(world)) == 1


def test_the_station_name_is_the_contexts(world: World) -> None:
    ctx = StationContext(world.ctx.conference, "Desk 7 " + "x" * 200, None)
    world.checkin.record_conflict(ctx, _report())
    [row] = _rows(world)
    assert row.station == ctx.station[:100]
