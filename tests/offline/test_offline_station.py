"""Offline decisions from the snapshot, journaled, then replayed exactly once (both databases)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from station.domain import Mode, OrderStatus
from station.models import CheckIn, OfflineConflict, Order, ProductRedemption, ScanLog
from station.offline.settings import OfflineRules
from station.services.errors import AttendeeNotFound, FullyRedeemed, NotEligible, OfflineLimit
from station.services.results import CheckInResult, RedemptionResult
from tests.offline.conftest import OfflineStation
from tests.services.conftest import World

Make = Callable[..., OfflineStation]


def test_an_offline_check_in_is_journaled_then_recorded_once_with_the_station_time(
    world: World, offline_station: Make
) -> None:
    ada = world.conf.attendee("ADA1", first_name="Ada")
    station = offline_station("Desk 1")
    station.sync.sync()
    client_id = uuid.uuid4()
    answer = station.scans().scan(station.ctx, "ada1", client_id=client_id)
    assert isinstance(answer, CheckInResult) and answer.badge.name == "Ada Lovelace"
    assert world.count(CheckIn) == 0
    assert station.journal.waiting_count() == 1
    seen_at = station.journal.entries()[0].client_at

    outcome = station.replayer.replay()
    assert outcome.recorded == 1 and station.journal.waiting_count() == 0
    with world.sessions() as s:
        row = s.execute(select(CheckIn).where(CheckIn.client_id == client_id)).scalar_one()
        assert row.attendee_id == ada.attendee_id and row.station == "Desk 1"
        assert row.client_at == seen_at and row.checked_in_at >= seen_at

    # The answer of that replay was lost: replaying the entry again writes nothing new.
    station.replayer.replay_one(station.journal.entries()[0])
    assert world.count(CheckIn) == 1


def test_one_offline_station_never_gives_more_than_was_bought(
    world: World, offline_station: Make
) -> None:
    ada = world.conf.attendee("ADA2", addons={"lunch": 2})
    world.redemption.redeem_product(world.ctx, ada.access_code, product="lunch")
    station = offline_station()
    station.sync.sync()
    scans = station.scans(Mode.MEAL, "lunch")
    first = scans.scan(station.ctx, "ADA2", client_id=uuid.uuid4())
    assert isinstance(first, RedemptionResult) and first.redeemed == 2
    with pytest.raises(FullyRedeemed, match=r"\(2/2\)"):
        scans.scan(station.ctx, "ADA2", client_id=uuid.uuid4())
    assert station.journal.results() == {"waiting": 2}  # the refusal is journaled too
    station.replayer.replay()
    assert world.count(ProductRedemption) == 2
    with world.sessions() as s:
        refused = s.scalars(select(ScanLog).where(ScanLog.reason == "fully_redeemed")).all()
        assert [r.station for r in refused] == ["Lunch 1"]


def test_the_same_lunch_at_two_offline_stations_is_one_redemption_and_one_overspend(
    world: World, offline_station: Make
) -> None:
    grace = world.conf.attendee("GRACE1", first_name="Grace", last_name="Hopper",
                                addons={"lunch": 1})  # fmt: skip
    one, two = offline_station("Lunch 1"), offline_station("Lunch 2")
    for station in (one, two):
        station.sync.sync()
        answer = station.scans(Mode.MEAL, "lunch").scan(
            station.ctx, "GRACE1", client_id=uuid.uuid4()
        )
        assert isinstance(answer, RedemptionResult)
    assert one.replayer.replay().recorded == 1
    outcome = two.replayer.replay()
    assert (outcome.recorded, outcome.overspends) == (0, 1)
    assert world.count(ProductRedemption) == 1
    with world.sessions() as s:
        conflict = s.execute(select(OfflineConflict)).scalar_one()
    assert conflict.kind == "overspend" and conflict.attendee_id == grace.attendee_id
    assert (conflict.station, conflict.other_station) == ("Lunch 2", "Lunch 1")
    assert conflict.reason == "fully_redeemed"
    assert two.journal.results() == {"overspend": 1}


def test_an_order_refunded_while_offline_is_reported_as_a_conflict(
    world: World, offline_station: Make
) -> None:
    linus = world.conf.attendee("LIN1", addons={"lunch": 1})
    station = offline_station()
    station.sync.sync()
    station.scans(Mode.MEAL, "lunch").scan(station.ctx, "LIN1", client_id=uuid.uuid4())
    with world.sessions.begin() as s:
        s.execute(
            update(Order).where(Order.id == linus.order_id).values(status=OrderStatus.REFUNDED)
        )
    assert station.replayer.replay().conflicts == 1
    assert world.count(ProductRedemption) == 0
    with world.sessions() as s:
        conflict = s.execute(select(OfflineConflict)).scalar_one()
    assert (conflict.kind, conflict.reason) == ("conflict", "refunded")


def test_a_sync_learns_of_new_badges_and_refunds(world: World, offline_station: Make) -> None:
    world.conf.attendee("OLD1")
    station = offline_station()
    assert station.sync.sync().full
    new = world.conf.attendee("NEW1")
    stats = station.sync.sync()
    assert not stats.full and stats.attendees >= 1
    scans = station.scans()
    assert isinstance(scans.scan(station.ctx, "NEW1", client_id=uuid.uuid4()), CheckInResult)
    with world.sessions.begin() as s:
        s.execute(update(Order).where(Order.id == new.order_id).values(status=OrderStatus.REFUNDED))
    station.sync.sync()
    with pytest.raises(NotEligible):
        scans.scan(station.ctx, "NEW1", client_id=uuid.uuid4())
    with pytest.raises(AttendeeNotFound):
        scans.scan(station.ctx, "NOBODY", client_id=uuid.uuid4())


def test_a_sync_counts_what_other_stations_redeem(world: World, offline_station: Make) -> None:
    ada = world.conf.attendee("ADA3", addons={"lunch": 1})
    station = offline_station()
    station.sync.sync()
    world.redemption.redeem_product(world.ctx, ada.access_code, product="lunch")
    station.sync.sync()
    with pytest.raises(FullyRedeemed):
        station.scans(Mode.MEAL, "lunch").scan(station.ctx, "ADA3", client_id=uuid.uuid4())


def test_the_offline_policy_and_cap_hold_back_redemptions(
    world: World, offline_station: Make
) -> None:
    for n in range(3):
        world.conf.attendee(f"CAP{n}", addons={"lunch": 1, "tutorial": 1})
    station = offline_station(rules=OfflineRules(policies={"tutorial": "refuse"}, cap=2))
    station.sync.sync()
    with pytest.raises(OfflineLimit, match="while offline"):
        station.scans(Mode.MEAL, "tutorial").scan(station.ctx, "CAP0", client_id=uuid.uuid4())
    lunch = station.scans(Mode.MEAL, "lunch")
    for code in ("CAP0", "CAP1"):
        lunch.scan(station.ctx, code, client_id=uuid.uuid4())
    with pytest.raises(OfflineLimit, match="Offline limit reached: 2"):
        lunch.scan(station.ctx, "CAP2", client_id=uuid.uuid4())


def test_a_retry_of_an_offline_scan_gets_its_first_answer(
    world: World, offline_station: Make
) -> None:
    world.conf.attendee("ADA4", addons={"lunch": 1})
    station = offline_station()
    station.sync.sync()
    scans = station.scans(Mode.MEAL, "lunch")
    client_id = uuid.uuid4()
    first = scans.scan(station.ctx, "ADA4", client_id=client_id)
    again = scans.scan(station.ctx, "ADA4", client_id=client_id)
    assert isinstance(again, RedemptionResult) and again.replayed
    assert isinstance(first, RedemptionResult) and again.redeemed_at == first.redeemed_at
    assert station.journal.waiting_count() == 1
