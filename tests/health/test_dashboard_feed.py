"""DashboardFeed on both databases: real scans through the services, real heartbeats,
and what the organisers' dashboard reads of them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from station.domain import Mode, OrderStatus
from station.models import TicketType, utcnow
from station.report import refusal_words
from station.services import CheckInService, RedemptionService
from station.services.dashboard import (
    REFUSAL_MINUTES,
    SPARK_MINUTES,
    DashboardFeed,
    StationStatus,
    StationsView,
)
from station.services.errors import ConfigurationError, StationError
from station.services.health import HealthService
from station.services.results import StationContext
from station.services.scan import ScanService
from tests.builders import Built, ConferenceBuilder
from tests.conftest import TestDatabase
from tests.health.helpers import age_beat, heartbeat

DESK = "Desk 1"
MEAL = "Meal 1"
DOOR = "Door 9"  # beats, never scans


@dataclass
class Scene:
    db: TestDatabase
    conf: ConferenceBuilder
    people: dict[str, Built]
    desk: StationContext
    meal: StationContext
    checkin: CheckInService
    meals: ScanService
    health: HealthService

    def scan_meal(self, code: str) -> bool:
        """A meal-line scan through the scan service; True when served."""
        try:
            self.meals.scan(self.meal, code, client_id=uuid.uuid4())
        except StationError:
            return False
        return True

    def check_in(self, code: str) -> bool:
        try:
            self.checkin.check_in(self.desk, code)
        except StationError:
            return False
        return True

    def feed(self, clock: Callable[[], datetime] = utcnow) -> DashboardFeed:
        return DashboardFeed(self.db.engine, self.conf.slug, clock=clock)


@pytest.fixture
def scene(database: TestDatabase) -> Scene:
    conf = ConferenceBuilder(database.sessions)
    staff = conf.staff("Ana")
    conf.ticket_type("general", "Conference pass")
    conf.addon("lunch", "Lunch")
    with database.sessions.begin() as s:
        s.execute(update(TicketType).values(capacity=50))
    people = {
        "ada": conf.attendee("ADA1", addons={"lunch": 2}),
        "bob": conf.attendee("BOB1", first_name="Bob", addons={"lunch": 1}),
        "cy": conf.attendee("CY1", first_name="Cy", addons={"lunch": 1}),
        # Not on an active order: neither an attendee to check in nor a lunch bought.
        "dan": conf.attendee(
            "DAN1", first_name="Dan", status=OrderStatus.PENDING, addons={"lunch": 3}
        ),
        "eve": conf.attendee("EVE1", first_name="Eve", status=OrderStatus.CANCELLED),
    }
    checkin = CheckInService(database.sessions)
    redemption = RedemptionService(database.sessions)
    return Scene(
        db=database,
        conf=conf,
        people=people,
        desk=StationContext(conference=conf.slug, station=DESK, staff_id=staff),
        meal=StationContext(conference=conf.slug, station=MEAL, staff_id=staff),
        checkin=checkin,
        meals=ScanService(checkin, redemption, mode=Mode.MEAL, product="lunch"),
        health=HealthService(database.sessions),
    )


def _the_morning(scene: Scene) -> None:
    """Desk 1: 2 check-ins, 2 refused, 2 door entries (6 scans). Meal 1: 3 served, 1 refused."""
    assert scene.check_in("ADA1")
    assert scene.check_in("BOB1")
    assert not scene.check_in("NOBODY99")  # not_found
    assert not scene.check_in("DAN1")  # unpaid
    for code in ("ADA1", "BOB1"):
        scene.checkin.record_door_check(scene.desk, code, product="ticket:general")
    assert scene.scan_meal("ADA1")
    assert scene.scan_meal("ADA1")
    assert scene.scan_meal("BOB1")
    assert not scene.scan_meal("BOB1")  # fully_redeemed
    slug = scene.conf.slug
    scene.health.beat(slug, heartbeat(DESK, operator="Ana"))
    scene.health.beat(slug, heartbeat(MEAL, mode="meal", product="Lunch", online=False, backlog=2))
    scene.health.beat(slug, heartbeat(DOOR, mode="door", closing=True))


def _by_name(view: StationsView) -> dict[str, StationStatus]:
    return {s.station: s for s in view.stations}


def _scans(view: StationsView) -> dict[str, int]:
    return {s.station: sum(s.per_minute) for s in view.stations}


def _recent(values: tuple[int, ...]) -> int:
    """This minute and the one before (a test may straddle a minute's end)."""
    return sum(values[-2:])


def test_stations_counts_scans_per_station_and_minute(scene: Scene) -> None:
    _the_morning(scene)
    view = scene.feed().stations()
    assert [s.station for s in view.stations] == [MEAL, DESK, DOOR]  # offline, ok, closed
    stations = _by_name(view)
    assert _scans(view) == {DESK: 6, MEAL: 4, DOOR: 0}
    for station in view.stations:
        assert len(station.per_minute) == SPARK_MINUTES
        assert _recent(station.per_minute) == sum(station.per_minute)
    assert len(view.per_minute) == SPARK_MINUTES
    assert sum(view.per_minute) == _recent(view.per_minute) == 10
    assert [(s.station, s.status) for s in view.stations] == [
        (MEAL, "offline"),
        (DESK, "ok"),
        (DOOR, "closed"),
    ]
    assert (view.count("ok"), view.count("offline"), view.count("closed")) == (1, 1, 1)
    meal = stations[MEAL]
    assert (meal.mode, meal.product, meal.backlog, meal.operator) == ("meal", "Lunch", 2, "Ana")
    assert stations[DESK].silent_s < 5


def test_refusals_of_the_last_hour_are_in_the_stations_words(scene: Scene) -> None:
    _the_morning(scene)
    view = scene.feed().stations()
    assert dict(view.refusals) == {
        refusal_words("not_found"): 1,
        refusal_words("unpaid"): 1,
        refusal_words("fully_redeemed"): 1,
    }
    assert refusal_words("unpaid") == "Order not paid"  # words, not codes
    assert all("_" not in words for words, _ in view.refusals)


def test_totals_check_ins_lunches_and_the_door(scene: Scene) -> None:
    _the_morning(scene)
    totals = scene.feed().totals()
    assert (totals.checked_in, totals.attendees) == (2, 3)
    assert [(p.name, p.served, p.bought) for p in totals.products] == [("Lunch", 3, 4)]
    assert [(d.name, d.inside, d.capacity) for d in totals.doors] == [("Conference pass", 2, 50)]
    scene.checkin.record_door_check(scene.desk, "ADA1", product="ticket:general", direction="out")
    assert [d.inside for d in scene.feed().totals().doors] == [1]


def test_a_silent_station_is_lost_but_a_closed_one_stays_closed(scene: Scene) -> None:
    _the_morning(scene)
    feed = scene.feed()
    assert _by_name(feed.stations())[DESK].status == "ok"
    age_beat(scene.db, DESK, 16)  # 3 beats of 5 s and a grace of 2 s: not yet
    assert _by_name(feed.stations())[DESK].status == "ok"
    for station in (DESK, MEAL, DOOR):
        age_beat(scene.db, station, 600)
    view = feed.stations()
    stations = _by_name(view)
    assert stations[DESK].status == "lost" and stations[DESK].silent_s >= 600
    assert stations[MEAL].status == "lost"  # offline, then silent: lost
    assert stations[DOOR].status == "closed"
    assert view.stations[-1].station == DOOR and view.count("lost") == 2
    # It beats again: back to ok.
    scene.health.beat(scene.conf.slug, heartbeat(DESK))
    assert _by_name(feed.stations())[DESK].status == "ok"


def test_a_station_that_beats_slowly_is_lost_later(scene: Scene) -> None:
    scene.health.beat(scene.conf.slug, heartbeat(DESK, every_s=60.0))
    age_beat(scene.db, DESK, 120)
    assert _by_name(scene.feed().stations())[DESK].status == "ok"
    age_beat(scene.db, DESK, 200)
    assert _by_name(scene.feed().stations())[DESK].status == "lost"


def test_a_second_read_counts_new_scans_once(scene: Scene) -> None:
    _the_morning(scene)
    feed = scene.feed()
    first = feed.stations()
    assert _scans(first) == {DESK: 6, MEAL: 4, DOOR: 0}
    assert scene.scan_meal("CY1")
    assert not scene.scan_meal("CY1")
    assert scene.check_in("CY1")
    second = feed.stations()
    assert _scans(second) == {DESK: 7, MEAL: 6, DOOR: 0}
    assert sum(second.per_minute) == 13
    assert dict(second.refusals)[refusal_words("fully_redeemed")] == 2
    # Nothing new: the same figures, however often it reads.
    for _ in range(3):
        again = feed.stations()
        assert _scans(again) == _scans(second)
        assert sum(again.per_minute) == 13
        assert again.refusals == second.refusals


def test_minutes_move_on_and_old_ones_drop(scene: Scene) -> None:
    _the_morning(scene)
    now = [utcnow()]
    feed = scene.feed(clock=lambda: now[0])
    assert sum(feed.stations().per_minute) == 10
    now[0] += timedelta(minutes=SPARK_MINUTES + 5)
    later = feed.stations()
    assert sum(later.per_minute) == 0  # out of the sparkline...
    assert sum(n for _, n in later.refusals) == 3  # ...but refused within the hour
    now[0] += timedelta(minutes=REFUSAL_MINUTES)
    assert feed.stations().refusals == ()
    assert all(m >= feed._complete_before - REFUSAL_MINUTES for m in feed._minutes)


def test_a_fresh_feed_reads_the_last_hour(scene: Scene) -> None:
    _the_morning(scene)
    in_20 = utcnow() + timedelta(minutes=20)
    view = scene.feed(clock=lambda: in_20).stations()
    assert sum(view.per_minute) == 0
    assert sum(n for _, n in view.refusals) == 3


def test_only_this_conferences_stations_and_scans(scene: Scene) -> None:
    _the_morning(scene)
    other = ConferenceBuilder(scene.db.sessions, slug="other-con", name="Other Con")
    other.attendee("OTHER1")
    CheckInService(scene.db.sessions).check_in(StationContext("other-con", DESK), "OTHER1")
    scene.health.beat("other-con", heartbeat("Elsewhere"))
    scene.health.beat("other-con", heartbeat(DESK, online=False))
    view = scene.feed().stations()
    assert _scans(view) == {DESK: 6, MEAL: 4, DOOR: 0}
    assert _by_name(view)[DESK].status == "ok"
    totals = scene.feed().totals()
    assert (totals.checked_in, totals.attendees) == (2, 3)


def test_an_empty_conference_reads_empty(database: TestDatabase) -> None:
    conf = ConferenceBuilder(database.sessions)
    feed = DashboardFeed(database.engine, conf.slug)
    view = feed.stations()
    assert view.stations == () and view.refusals == ()
    assert view.per_minute == (0,) * SPARK_MINUTES
    totals = feed.totals()
    assert (totals.attendees, totals.checked_in, totals.products, totals.doors) == (0, 0, (), ())


def test_an_unknown_conference_is_refused_in_one_line(database: TestDatabase) -> None:
    ConferenceBuilder(database.sessions)
    with pytest.raises(ConfigurationError, match="'nope' does not exist"):
        DashboardFeed(database.engine, "nope")
