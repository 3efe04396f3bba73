"""Online scans decided on the station's snapshot first (station.offline.first, PostgreSQL).

The first try decides on the copy and sends only the guarded write; whatever the copy
was behind on must come out exactly as on the read path: the write is refused by its
premises (migration 0020) and the scan is decided again on the database's facts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from station.domain import OrderStatus
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Order,
    Person,
    ProductRedemption,
    ScanLog,
    utcnow,
)
from station.offline.first import SnapshotFirstStore
from station.offline.snapshot import Snapshot
from station.offline.sync import SnapshotSync
from station.services import CheckInService, RedemptionService
from station.services.errors import FullyRedeemed, NotEligible
from station.services.results import CheckInResult, RedemptionResult, StationContext
from station.services.store_pg import PgStore
from station.services.voids import VoidService
from tests.services.conftest import World, world  # noqa: F401 - the fixture


@dataclass
class FirstStation:
    ctx: StationContext
    store: SnapshotFirstStore
    sync: SnapshotSync
    checkin: CheckInService
    redemption: RedemptionService
    holds: bool  # every holder in memory, as a station keeps them

    def warm(self, code: str) -> None:
        """A read, so the store has seen the server's clock (the first scan after start
        always reads)."""
        self.checkin.lookup_attendee(self.ctx, code)

    def lunch(self, code: str, client_id: uuid.UUID | None = None) -> RedemptionResult:
        return self.redemption.redeem_product(
            self.ctx, code, product="lunch", client_id=client_id or uuid.uuid4()
        )


Make = Callable[..., FirstStation]

# PostgreSQL's path: only the world on PostgreSQL.
pytestmark = pytest.mark.parametrize(
    "database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture(params=["held", "read"])
def first_station(world: World, tmp_path: Path, request: pytest.FixtureRequest) -> Make:  # noqa: F811
    """A station deciding on its copy first: with every holder in memory as a station
    keeps them (built at the sync's commit), or read from the SQLite copy on each scan."""
    assert world.db.kind == "postgres"

    def make(name: str = "Lunch 1", clock: Callable[[], datetime] = utcnow) -> FirstStation:
        engine = world.db.engine
        snapshot = Snapshot(tmp_path / f"{name}.sqlite3")
        if request.param == "held":
            snapshot.hold(now=False)
        sync = SnapshotSync(engine, snapshot, world.conf.slug, clock=clock)
        store = SnapshotFirstStore(
            PgStore(engine, clock), snapshot, clock, max_age=timedelta(minutes=5)
        )
        ctx = StationContext(world.conf.slug, name, world.ctx.staff_id)
        sessions = world.sessions
        return FirstStation(
            ctx,
            store,
            sync,
            CheckInService(sessions, clock=clock, store=store),
            RedemptionService(sessions, clock=clock, store=store),
            holds=request.param == "held",
        )

    return make


def test_on_a_current_copy_a_check_in_and_a_meal_are_the_write_alone(
    world: World,  # noqa: F811
    first_station: Make,
) -> None:
    ada = world.conf.attendee("FIRST1", addons={"lunch": 2})
    bob = world.conf.attendee("FIRST11", first_name="Bob", addons={"lunch": 2})
    station = first_station()
    station.sync.sync()
    # Every holder in memory once the sync committed (or none: reading the SQLite copy).
    assert station.store.snapshot.holding == (world.count(Attendee) if station.holds else 0)
    station.warm("FIRST1")
    checked = station.checkin.check_in(station.ctx, "first1", client_id=uuid.uuid4())
    meal = station.lunch("FIRST11")
    assert isinstance(checked, CheckInResult) and checked.badge.checked_in
    assert checked.badge.name == "Ada Lovelace"
    assert meal.redeemed == 1 and meal.quantity == 2 and meal.attendee_name == "Bob Lovelace"
    assert (station.store.first_tries, station.store.first_tries_recorded) == (2, 2)
    assert world.count(CheckIn, attendee_id=ada.attendee_id) == 1
    assert world.count(ProductRedemption, attendee_id=bob.attendee_id) == 1


def test_a_unit_given_elsewhere_since_the_copy_is_refused_and_logged_once(
    world: World,  # noqa: F811
    first_station: Make,
) -> None:
    world.conf.attendee("FIRST2", addons={"lunch": 1})
    station = first_station()
    station.sync.sync()
    station.warm("FIRST2")
    world.redemption.redeem_product(world.ctx, "FIRST2", product="lunch")  # another station
    with pytest.raises(FullyRedeemed) as refused:
        station.lunch("FIRST2")
    assert refused.value.logged
    assert (station.store.first_tries, station.store.first_tries_recorded) == (1, 0)
    assert world.count(ProductRedemption) == 1
    with world.sessions() as s:
        logged = s.scalars(select(ScanLog.reason).where(ScanLog.station == "Lunch 1")).all()
    assert logged == ["fully_redeemed"]


def test_a_refund_since_the_copy_is_refused(
    world: World,  # noqa: F811
    first_station: Make,
) -> None:
    grace = world.conf.attendee("FIRST3", addons={"lunch": 1})
    station = first_station()
    station.sync.sync()
    station.warm("FIRST3")
    with world.sessions.begin() as s:
        s.execute(
            update(Order).where(Order.id == grace.order_id).values(status=OrderStatus.REFUNDED)
        )
    with pytest.raises(NotEligible):
        station.lunch("FIRST3")
    with pytest.raises(NotEligible):
        station.checkin.check_in(station.ctx, "FIRST3", client_id=uuid.uuid4())
    assert world.count(ProductRedemption) == 0 and world.count(CheckIn) == 0


def test_a_badge_code_moved_since_the_copy_checks_in_its_new_holder(
    world: World,  # noqa: F811
    first_station: Make,
) -> None:
    old = world.conf.attendee("FIRST4", first_name="Old")
    new = world.conf.attendee("FIRST5", first_name="New")
    station = first_station("Desk 1")
    station.sync.sync()
    station.warm("FIRST5")
    with world.sessions.begin() as s:  # a reprinted badge: the code goes to another person
        s.execute(update(Attendee).where(Attendee.id == old.attendee_id).values(access_code="X1"))
        s.execute(
            update(Attendee).where(Attendee.id == new.attendee_id).values(access_code="FIRST4")
        )
    answer = station.checkin.check_in(station.ctx, "FIRST4", client_id=uuid.uuid4())
    assert answer.badge.name == "New Lovelace"
    assert world.count(CheckIn, attendee_id=new.attendee_id) == 1
    assert world.count(CheckIn, attendee_id=old.attendee_id) == 0


def test_a_person_renamed_since_the_copy_is_answered_by_the_new_name(
    world: World,  # noqa: F811
    first_station: Make,
) -> None:
    """The person's row version is part of the premise: a rename since the sync is caught,
    and the check-in is decided again on the new name."""
    grace = world.conf.attendee("FIRST7", first_name="Grace")
    station = first_station("Desk 1")
    station.sync.sync()
    station.warm("FIRST7")
    with world.sessions.begin() as s:
        person_id = s.scalar(select(Attendee.person_id).where(Attendee.id == grace.attendee_id))
        s.execute(update(Person).where(Person.id == person_id).values(first_name="Ada"))
    answer = station.checkin.check_in(station.ctx, "FIRST7", client_id=uuid.uuid4())
    assert answer.badge.name == "Ada Lovelace"
    assert station.store.first_tries_recorded == 0
    assert world.count(CheckIn, attendee_id=grace.attendee_id) == 1


def test_an_attention_note_added_since_the_copy_is_shown(
    world: World,  # noqa: F811
    first_station: Make,
) -> None:
    world.conf.attendee("FIRST6", addons={"lunch": 1})
    station = first_station()
    station.sync.sync()
    station.warm("FIRST6")
    with world.sessions.begin() as s:
        s.execute(update(AddOn).where(AddOn.slug == "lunch").values(checkin_attention="Vegan"))
    answer = station.lunch("FIRST6")
    assert answer.attention is not None and "Vegan" in answer.attention
    assert station.store.first_tries_recorded == 0


def test_a_unit_voided_since_the_copy_is_given_again_not_refused(
    world: World,  # noqa: F811
    first_station: Make,
) -> None:
    world.conf.attendee("FIRST7", addons={"lunch": 1})
    world.redemption.redeem_product(world.ctx, "FIRST7", product="lunch")
    station = first_station()
    station.sync.sync()  # the copy: used up
    station.warm("FIRST7")
    voids = VoidService(world.sessions)
    voids.void_last(world.ctx, client_id=uuid.uuid4(), window_seconds=3600)
    answer = station.lunch("FIRST7")  # refused on the copy, decided again: given
    assert answer.redeemed == 1 and answer.quantity == 1
    assert station.store.first_tries == 1 and station.store.first_tries_recorded == 0


def test_a_retry_whose_first_answer_was_lost_gets_that_answer(
    world: World,  # noqa: F811
    first_station: Make,
) -> None:
    world.conf.attendee("FIRST8", addons={"lunch": 3})
    station = first_station()
    station.sync.sync()
    station.warm("FIRST8")
    client_id = uuid.uuid4()
    first = station.lunch("FIRST8", client_id)
    # The answer never reached the screen; the station sends the same scan again, and a
    # new store (a restart) has no note of its own write: the copy still says 0 of 3.
    restarted = first_station("Lunch 1")
    restarted.warm("FIRST8")
    again = restarted.lunch("FIRST8", client_id)
    assert again.replayed and again.redeemed == first.redeemed == 1
    assert world.count(ProductRedemption) == 1


def test_its_own_write_is_not_taken_from_a_copy_that_lacks_it(
    world: World,  # noqa: F811
    first_station: Make,
) -> None:
    world.conf.attendee("FIRST9", addons={"lunch": 2})
    station = first_station()
    station.sync.sync()
    station.warm("FIRST9")
    assert station.lunch("FIRST9").redeemed == 1
    assert station.lunch("FIRST9").redeemed == 2  # read: the copy has not synced since
    assert (station.store.first_tries, station.store.first_tries_recorded) == (1, 1)
    station.sync.sync()
    with pytest.raises(FullyRedeemed):
        station.lunch("FIRST9")
    assert station.store.first_tries == 2  # synced: the copy is used again


def test_a_station_clock_far_from_the_servers_always_reads(
    world: World,  # noqa: F811
    first_station: Make,
) -> None:
    world.conf.attendee("FIRST10", addons={"lunch": 1})
    station = first_station(clock=lambda: utcnow() + timedelta(seconds=30))
    station.sync.sync()
    station.warm("FIRST10")
    assert station.lunch("FIRST10").redeemed == 1
    assert station.store.first_tries == 0
