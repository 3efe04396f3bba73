"""Event rules decided offline, on a fixed station clock in the conference's zone, then
replayed into SQLite and PostgreSQL.

The conference is in Europe/Berlin. The offline station decides from its snapshot
and journal at the station clock; replay records through the online services at
the same clock (on PostgreSQL through station_now()'s offset, tests/rules/clock.py).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from station.models import (
    AddOn,
    DoorCheck,
    DoorClear,
    OfflineConflict,
    ProductRedemption,
    TicketType,
)
from station.offline.journal import Journal, JournalEntry
from station.offline.replay import Replayer, ReplayOutcome, _lane_of
from station.offline.settings import OfflineRules
from station.offline.snapshot import Snapshot
from station.offline.store import OfflineStore
from station.offline.sync import SnapshotSync
from station.rulebook.event_rules import Direction
from station.services import CheckInService, RedemptionService
from station.services.errors import Reason, RuleRefusal
from station.services.results import (
    CheckInResult,
    DoorCheckResult,
    RedemptionResult,
    StationContext,
)
from station.services.rooms import inside
from tests.builders import ConferenceBuilder
from tests.rules.clock import StationClock, services_at

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def clock(database: TestDatabase) -> Iterator[StationClock]:
    with StationClock(database) as made:
        yield made


def set_rules(database: TestDatabase, model: type, slug: str, **columns: object) -> None:
    with database.sessions.begin() as s:
        s.execute(update(model).where(model.slug == slug).values(**columns))


@dataclass
class Offline:
    """One offline station on the test's clock (no outage cap or time limit: a day passes)."""

    database: TestDatabase
    clock: StationClock
    ctx: StationContext
    snapshot: Snapshot
    journal: Journal
    sync: SnapshotSync

    @property
    def store(self) -> OfflineStore:
        return OfflineStore(
            self.snapshot, self.journal, self.clock, OfflineRules(cap=None, max_seconds=None)
        )

    def checkin(self) -> CheckInService:
        return CheckInService(self.database.sessions, clock=self.clock, store=self.store)

    def redemption(self) -> RedemptionService:
        return RedemptionService(self.database.sessions, clock=self.clock, store=self.store)

    def redeem(self, code: str, product: str) -> RedemptionResult:
        return self.redemption().redeem_product(self.ctx, code, product=product)

    def door(self, code: str, product: str, direction: Direction = "in") -> DoorCheckResult:
        return self.checkin().record_door_check(self.ctx, code, product=product,
                                                direction=direction)  # fmt: skip

    def replay(self) -> ReplayOutcome:
        """Everything journaled, through the online services at the test's clock."""
        writer = services_at(self.database, self.clock)[0]
        return Replayer(self.journal, writer, self.clock).replay()


def offline(
    database: TestDatabase, clock: StationClock, conf: ConferenceBuilder, root: Path, name: str
) -> Offline:
    directory = root / name.replace(" ", "-")
    snapshot = Snapshot(directory / "snapshot.sqlite3")
    journal = Journal(directory / "journal.sqlite3")
    sync = SnapshotSync(database.engine, snapshot, conf.slug, clock=clock)
    station = Offline(database, clock, StationContext(conf.slug, name, None), snapshot, journal,
                      sync)  # fmt: skip
    sync.sync()
    return station


def refused(call: object, *args: object, **kwargs: object) -> RuleRefusal:
    with pytest.raises(RuleRefusal) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def count(database: TestDatabase, model: type, **where: object) -> int:
    with database.sessions() as s:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int(s.scalar(query) or 0)


def test_a_daily_limit_offline_counts_the_conference_day_and_its_own_journal(
    database: TestDatabase, clock: StationClock, tmp_path: Path
) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.addon("voucher", "Meal voucher")
    set_rules(database, AddOn, "voucher", daily_limit=1)
    person = conf.attendee(addons={"voucher": 3})
    ctx = StationContext(conf.slug, "Lunch online", None)
    clock.set(at("2027-05-13T12:00"))
    services_at(database, clock)[1].redeem_product(ctx, person.access_code, product="voucher")

    station = offline(database, clock, conf, tmp_path, "Lunch 1")
    clock.set(at("2027-05-13T23:59"))
    refusal = refused(station.redeem, person.access_code, "voucher")
    assert refusal.reason is Reason.DAILY_LIMIT
    assert refusal.message == "Meal voucher: 1 of 1 today — next from tomorrow 00:00."

    clock.set(at("2027-05-14T00:01"))  # a new conference day in Berlin (22:01 UTC)
    assert station.redeem(person.access_code, "voucher").redeemed == 2
    clock.set(at("2027-05-14T00:30"))  # the station's own offline unit counts today
    refusal = refused(station.redeem, person.access_code, "voucher")
    assert refusal.reason is Reason.DAILY_LIMIT
    assert refusal.message.startswith("Meal voucher: 1 of 1 today")

    clock.set(at("2027-05-14T00:40"))
    outcome = station.replay()
    assert (outcome.recorded, outcome.logged, outcome.overspends) == (1, 2, 0)
    assert count(database, ProductRedemption) == 2


def test_a_daily_limit_near_midnight_on_a_daylight_saving_night(
    database: TestDatabase, clock: StationClock, tmp_path: Path
) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.addon("voucher", "Meal voucher")
    set_rules(database, AddOn, "voucher", daily_limit=1)
    person = conf.attendee(addons={"voucher": 2})
    station = offline(database, clock, conf, tmp_path, "Lunch 1")
    clock.set(at("2027-03-27T23:30"))  # clocks go forward at 02:00 on the 28th
    station.redeem(person.access_code, "voucher")
    clock.set(at("2027-03-28T00:10"))
    assert station.redeem(person.access_code, "voucher").redeemed == 2


def test_opening_hours_offline_and_a_replay_after_closing_time(
    database: TestDatabase, clock: StationClock, tmp_path: Path
) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.addon("lunch", "Lunch")
    set_rules(database, AddOn, "lunch", open_hours="11:30-14:30")
    person = conf.attendee(addons={"lunch": 2})
    station = offline(database, clock, conf, tmp_path, "Lunch 1")

    clock.set(at("2027-05-13T11:00"))
    refusal = refused(station.redeem, person.access_code, "lunch")
    assert (refusal.reason, refusal.message) == (Reason.CLOSED, "Lunch is closed — opens 11:30.")
    assert refusal.allows_at == at("2027-05-13T11:30")
    clock.set(at("2027-05-13T14:29"))
    assert station.redeem(person.access_code, "lunch").redeemed == 1
    clock.set(at("2027-05-13T15:00"))  # back online after closing: judged at 14:29
    assert station.replay().recorded == 1
    assert count(database, ProductRedemption) == 1


def test_valid_dates_offline_across_midnight(
    database: TestDatabase, clock: StationClock, tmp_path: Path
) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.ticket_type("thursday", "Thursday pass")
    set_rules(database, TicketType, "thursday", valid_dates="2027-05-13")
    person = conf.attendee(ticket="thursday")
    station = offline(database, clock, conf, tmp_path, "Desk 1")

    clock.set(at("2027-05-12T23:59"))
    refusal = refused(station.checkin().check_in, station.ctx, person.access_code)
    assert refusal.reason is Reason.NOT_VALID_TODAY
    assert refusal.message == (
        "Thursday pass is not valid today (valid Thu 13 May) — next tomorrow 00:00."
    )
    clock.set(at("2027-05-13T00:00"))
    answer = station.checkin().check_in(station.ctx, person.access_code)
    assert isinstance(answer, CheckInResult)
    clock.set(at("2027-05-14T00:00"))
    assert refused(station.checkin().check_in, station.ctx, person.access_code).reason is (
        Reason.NOT_VALID_TODAY
    )


@pytest.mark.parametrize(
    ("policy", "again", "after_exit"),
    [
        ("unlimited", None, None),
        ("once", Reason.ALREADY_ENTERED, Reason.ALREADY_ENTERED),
        ("daily", Reason.DAILY_LIMIT, Reason.DAILY_LIMIT),
        ("after_exit", Reason.NEEDS_EXIT, None),
    ],
)
def test_reentry_policies_offline_with_exits(
    database: TestDatabase,
    clock: StationClock,
    tmp_path: Path,
    policy: str,
    again: Reason | None,
    after_exit: Reason | None,
) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.addon("workshop", "Workshop")
    set_rules(database, AddOn, "workshop", reentry=policy)
    person = conf.attendee(addons={"workshop": 1})
    station = offline(database, clock, conf, tmp_path, "Workshop door")

    def enter() -> Reason | None:
        try:
            station.door(person.access_code, "addon:workshop")
        except RuleRefusal as refusal:
            return refusal.reason
        return None

    clock.set(at("2027-05-13T23:00"))
    assert enter() is None
    assert enter() is again
    assert station.door(person.access_code, "addon:workshop", "out").direction == "out"
    assert enter() is after_exit
    outcome = station.replay()  # the day's scans, recorded the same day and in order
    assert (outcome.overspends, outcome.conflicts) == (0, 0)

    station.sync.sync()
    clock.set(at("2027-05-14T00:05"))  # the next conference day
    assert enter() is (Reason.ALREADY_ENTERED if policy == "once" else
                       Reason.NEEDS_EXIT if policy == "after_exit" and after_exit is None
                       else None)  # fmt: skip
    outcome = station.replay()
    assert (outcome.overspends, outcome.conflicts) == (0, 0)
    assert count(database, DoorCheck, direction="out") == 1


def test_a_room_offline_counts_the_snapshot_and_its_own_exits(
    database: TestDatabase, clock: StationClock, tmp_path: Path
) -> None:
    conf = ConferenceBuilder(database.sessions)
    tutorial = conf.addon("tutorial", "Tutorial A")
    set_rules(database, AddOn, "tutorial", capacity=2)
    people = [conf.attendee(addons={"tutorial": 1}) for _ in range(3)]
    clock.set(at("2027-05-13T10:00"))
    online = services_at(database, clock)[0]
    online_ctx = StationContext(conf.slug, "Room A online", None)
    online.record_door_check(online_ctx, people[0].access_code, product="addon:tutorial")

    station = offline(database, clock, conf, tmp_path, "Room A door")
    clock.set(at("2027-05-13T10:05"))
    assert station.door(people[1].access_code, "addon:tutorial").inside == 2
    refusal = refused(station.door, people[2].access_code, "addon:tutorial")
    assert (refusal.reason, refusal.message) == (
        Reason.FULL, "Room full (2/2) — Tutorial A: admit after someone leaves."
    )  # fmt: skip
    out = station.door(people[0].access_code, "addon:tutorial", "out")
    assert (out.direction, out.inside) == ("out", 1)
    assert station.door(people[2].access_code, "addon:tutorial").inside == 2
    assert [e.direction for e in station.journal.entries() if e.outcome == "accepted"] == [
        "in", "out", "in"
    ]  # fmt: skip

    outcome = station.replay()
    assert (outcome.recorded, outcome.logged, outcome.overspends) == (3, 1, 0)
    with database.sessions() as s:
        assert inside(s, "addon", tutorial) == 2
        exits = s.scalars(select(DoorCheck).where(DoorCheck.direction == "out")).all()
        assert [(e.attendee_id, e.station) for e in exits] == [
            (people[0].attendee_id, "Room A door")
        ]

    # The sync learns the replayed scans; the journal adds nothing twice.
    station.sync.sync()
    refusal = refused(station.door, people[0].access_code, "addon:tutorial")
    assert refusal.reason is Reason.FULL


def test_two_offline_doors_overfill_a_room_by_at_most_their_free_seats(
    database: TestDatabase, clock: StationClock, tmp_path: Path
) -> None:
    conf = ConferenceBuilder(database.sessions)
    tutorial = conf.addon("tutorial", "Tutorial A")
    set_rules(database, AddOn, "tutorial", capacity=2)
    people = [conf.attendee(addons={"tutorial": 1}) for _ in range(5)]
    clock.set(at("2027-05-13T10:00"))
    left = offline(database, clock, conf, tmp_path, "Left door")
    right = offline(database, clock, conf, tmp_path, "Right door")
    for station, group in ((left, people[:2]), (right, people[2:4])):
        for person in group:
            station.door(person.access_code, "addon:tutorial")
        assert refused(station.door, people[4].access_code, "addon:tutorial").reason is (
            Reason.FULL
        )
    assert left.replay().recorded == 2
    outcome = right.replay()
    assert (outcome.recorded, outcome.overspends) == (0, 2)  # the room full, seen on replay
    with database.sessions() as s:
        assert inside(s, "addon", tutorial) == 2
        kinds = s.scalars(select(OfflineConflict.kind)).all()
    assert kinds == ["overspend", "overspend"]


def test_a_sync_learns_door_scans_their_voids_and_a_clear(
    database: TestDatabase, clock: StationClock, tmp_path: Path
) -> None:
    conf = ConferenceBuilder(database.sessions)
    tutorial = conf.addon("tutorial", "Tutorial A")
    set_rules(database, AddOn, "tutorial", capacity=1, reentry="once")
    ada, bob = conf.attendee(addons={"tutorial": 1}), conf.attendee(addons={"tutorial": 1})
    clock.set(at("2027-05-13T10:00"))
    station = offline(database, clock, conf, tmp_path, "Room A door")
    online_ctx = StationContext(conf.slug, "Room A online", None)
    services_at(database, clock)[0].record_door_check(online_ctx, ada.access_code,
                                                      product="addon:tutorial")  # fmt: skip
    station.sync.sync()
    assert refused(station.door, ada.access_code, "addon:tutorial").reason is (
        Reason.ALREADY_ENTERED
    )
    assert refused(station.door, bob.access_code, "addon:tutorial").reason is Reason.FULL

    with database.sessions.begin() as s:  # a supervisor's "everyone out"
        cleared = at("2027-05-13T10:30")
        s.add(DoorClear(client_id=uuid.uuid4(), conference_id=conf.conference_id,
                        addon_id=tutorial, cleared_at=cleared, inside=1))  # fmt: skip
    clock.set(at("2027-05-13T10:31"))
    station.sync.sync()
    assert station.door(bob.access_code, "addon:tutorial").inside == 1


def _old_journal(path: Path) -> None:
    """A journal file as the version before door directions wrote it, with one entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE entry (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT NOT NULL UNIQUE,
            conference TEXT NOT NULL, station TEXT NOT NULL, staff_id INTEGER,
            action TEXT NOT NULL, code TEXT NOT NULL, product TEXT, line_item_id INTEGER,
            product_id INTEGER, attendee_id INTEGER, client_at TEXT NOT NULL,
            outage_since TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'refused')),
            reason TEXT NOT NULL, message TEXT NOT NULL, note TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE replay (seq INTEGER PRIMARY KEY REFERENCES entry (seq), at TEXT NOT NULL,
            result TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
        CREATE TABLE outage (since TEXT PRIMARY KEY, ended TEXT);
        CREATE TRIGGER entry_append_only_update BEFORE UPDATE ON entry
        BEGIN SELECT RAISE(ABORT, 'the offline journal is append-only'); END;
        INSERT INTO entry (client_id, conference, station, action, code, product, attendee_id,
            client_at, outage_since, outcome, reason, message)
        VALUES ('6f1c1d3e-0000-4000-8000-000000000001', 'pycon', 'Door 1', 'door', 'ADA1',
            'addon:tutorial', 1, '2027-05-13T08:00:00.000000+00:00',
            '2027-05-13T08:00:00.000000+00:00', 'accepted', 'ok', '');
        """
    )
    conn.commit()
    conn.close()


def test_an_old_journal_without_directions_opens_and_replays_its_entries_as_entries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.journal.sqlite3"
    _old_journal(path)
    journal = Journal(path)
    [old] = journal.waiting()
    assert (old.action, old.direction, old.code) == ("door", "in", "ADA1")
    assert journal.unsynced_door_scans("addon:tutorial", None) == [old]
    journal.close()
    Journal(path).close()  # opened again: the column is there once
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(entry)")]
    assert columns.count("direction") == 1


def test_an_old_snapshot_is_dropped_and_filled_again_with_the_rules(
    database: TestDatabase, clock: StationClock, tmp_path: Path
) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.addon("lunch", "Lunch")
    set_rules(database, AddOn, "lunch", daily_limit=2)
    path = tmp_path / "snapshot.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE product (kind TEXT NOT NULL, id INTEGER NOT NULL, slug TEXT NOT NULL,"
            " name TEXT NOT NULL, attention TEXT NOT NULL DEFAULT '', PRIMARY KEY (kind, id));"
            f"INSERT INTO meta VALUES ('schema', '1'), ('conference_slug', '{conf.slug}');"
        )
    snapshot = Snapshot(path)
    assert snapshot.conference() is None
    assert SnapshotSync(database.engine, snapshot, conf.slug).sync().full
    target = snapshot.target("addon", "lunch")
    assert target is not None and target.rules.daily_limit == 2


def test_a_doors_scans_replay_in_one_lane_and_other_scans_by_attendee() -> None:
    def entry(seq: int, action: str, attendee_id: int, product: str | None) -> JournalEntry:
        now = at("2027-05-13T10:00")
        return JournalEntry(seq, uuid.uuid4(), "pycon", "Door", None, action, "X", product,
                            None, None, attendee_id, now, now, "accepted", "ok", "")  # fmt: skip

    door = {_lane_of(entry(n, "door", n, "addon:tutorial"), 4) for n in range(1, 40)}
    assert len(door) == 1
    others = {_lane_of(entry(n, "checkin", n, None), 4) for n in range(1, 40)}
    assert others == {0, 1, 2, 3}
