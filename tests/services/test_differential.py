"""Every path decides every scan alike: a property-based differential test.

Every scan rule lives in the rule book (``station.rulebook``); the stores
only read facts and record decisions. So hypothesis makes up event days
(attendees, codes as scanned, order statuses, products spread over lines,
every kind of scan, retries with reused client ids) and runs each through
every store (SQLite, PostgreSQL's guarded functions, the ORM on PostgreSQL)
and through the rule book alone over an in-memory copy, comparing outcome by
outcome and then the rows written. Run longer with ``STATION_DIFF_EXAMPLES=5000``.

Days carry event rules too (#18): random rules on the products (a daily limit,
opening windows, valid dates, a door's re-entry policy and capacity), exits at
doors, and a clock that only moves forward, by steps and by jumps across the
conference's midnight, its opening and closing times, and Berlin's 23-hour and
25-hour days. Every path decides on that one clock: the services' clock on SQLite,
on the ORM store and in memory; on PostgreSQL's hot path the server's recording
clock (station_now(), migration 0014), which ``DayClock.sync`` puts at the same
instant before every step.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from station.db import DatabaseSettings, make_engine, make_session_factory
from station.domain import OrderStatus
from station.models import (
    AddOn,
    Attendee,
    Conference,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    ScanLog,
    ScanVoid,
    Staff,
    TicketType,
)
from station.offline.first import SnapshotFirstStore
from station.offline.snapshot import Snapshot as StationCopy
from station.offline.sync import SnapshotSync
from station.rulebook import event_rules
from station.rulebook.event_rules import Direction
from station.services import CheckInService, RedemptionService
from station.services.errors import ConfigurationError, Refusal
from station.services.hot_connection import hot_connection
from station.services.results import StationContext
from station.services.store_pg import PgStore
from station.services.void_queries import not_voided
from station.services.voids import VoidService
from tests.services.memory_store import MemoryStore, Snapshot, snapshot
from tests.services.memory_store import rows as memory_rows
from tests.services.scenario import Refused, outcome, rows_written
from tests.services.test_hot_paths import truncate

EXAMPLES = int(os.environ.get("STATION_DIFF_EXAMPLES", "0"))
SLUG = "diff-con"
TICKETS = ("general", "speaker")
ADDONS = ("lunch", "voucher", "tutorial")
# Names a volunteer's screen must survive: control and bidi characters, markup, a
# per-cent sign where SQL formats text, and one longer than the 80 characters shown.
NAMES = (
    "Lunch",
    "Lunch\u202e Day 1",
    "Meal\tvoucher, " + "good for one meal " * 6,
    "Tutorial: [b]SQL[/b]",
    "100% %s %1$s off",
)
MISSING_LINE = 999_999
ZONE = "Europe/Berlin"
_BERLIN = event_rules.zone(ZONE)
# Where a day starts: an ordinary morning, the evening before Berlin's 23-hour day
# (28 March 2027, 02:00 -> 03:00) and the evening before its 25-hour day (31 October 2027,
# 03:00 -> 02:00). PostgreSQL's hot path is moved there too, so every run is the same.
STARTS = (
    datetime(2027, 5, 12, 9, 0, tzinfo=_BERLIN).astimezone(UTC),
    datetime(2027, 3, 27, 21, 30, tzinfo=_BERLIN).astimezone(UTC),
    datetime(2027, 10, 30, 22, 0, tzinfo=_BERLIN).astimezone(UTC),
)
HOURS = ("11:30-14:30", "08:00-10:00, 12:00-24:00", "00:00-01:00, 22:00-24:00")
# How a clock scan moves the day on (always forward): a step, a minute, an hour, a day,
# to the next local midnight or the second before it, to the next opening or closing.
MOVES = ("minute", "hour", "day", "midnight", "before midnight", "11:30", "14:30", "22:00")


@dataclass(frozen=True)
class Line:
    product: str  # "ticket:<slug>" or "addon:<slug>"
    quantity: int


@dataclass(frozen=True)
class Guest:
    code: str
    status: OrderStatus | None
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Scan:
    kind: str  # checkin, door, meal, line, lookup, void, clock
    code: str  # as scanned
    product: str = ""  # door: "ticket:x" / "addon:x"; meal: an add-on slug
    line: int = 0  # line: an index into all lines, or MISSING_LINE
    client: int = 0
    desk: bool = True
    direction: str = "in"  # door: an entry or an exit
    move: str = ""  # clock: one of MOVES


@dataclass(frozen=True)
class Rules:
    """A product's event rules, as ``station rules`` stores them; dates are days after
    the day's first (in the conference's zone)."""

    daily_limit: int | None = None
    hours: str = ""
    dates: tuple[int, ...] = ()
    reentry: str = "unlimited"
    capacity: int | None = None

    def columns(self, start: datetime) -> dict[str, Any]:
        first = event_rules.local_day(start, ZONE)
        dates = ", ".join((first + timedelta(days=n)).isoformat() for n in self.dates)
        return {"daily_limit": self.daily_limit, "open_hours": self.hours or None,
                "valid_dates": dates or None, "reentry": self.reentry,
                "capacity": self.capacity}  # fmt: skip


@dataclass(frozen=True)
class Day:
    addon_names: tuple[str, ...]
    guests: tuple[Guest, ...]
    scans: tuple[Scan, ...]
    start: datetime = STARTS[0]
    rules: tuple[tuple[str, Rules], ...] = ()  # ("ticket:general", Rules(...)), ...


_SET_OFFSET = (
    "SELECT set_config('station.clock_offset', (%(at)s - clock_timestamp())::text, false) AS o"
)


@dataclass
class DayClock:
    """The day's one clock: still within a step, 7 seconds a step, moved on by clock scans
    (the next scan is made at the very instant a clock scan moved it to).

    The services, the ORM store and the memory store read it. PostgreSQL's hot path
    records and decides at station_now(): ``sync`` sets the held connection's
    station.clock_offset (honoured for the tables' owner, as the tests connect) so that
    its next statements read this instant plus the little time since, always less than
    the second that would move a decision (the clock stands on whole seconds, rules on
    whole minutes).
    """

    now: datetime
    engine: Engine | None = None

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(seconds=7)

    def move(self, how: str) -> None:
        local = self.now.astimezone(_BERLIN)
        if how == "minute":
            self.now += timedelta(seconds=61)
        elif how == "hour":
            self.now += timedelta(hours=1)
        elif how == "day":
            self.now += timedelta(days=1)
        else:
            if how == "midnight":
                at = time()
                day = local.date() + timedelta(days=1)
            else:
                at = time(23, 59, 59) if how == "before midnight" else time.fromisoformat(how)
                day = local.date()
            target = datetime.combine(day, at, tzinfo=_BERLIN).astimezone(UTC)
            if target <= self.now:
                target = datetime.combine(day + timedelta(days=1), at, tzinfo=_BERLIN)
            self.now = target.astimezone(UTC)

    def sync(self) -> None:
        if self.engine is not None:
            hot_connection(self.engine).fetch_one(_SET_OFFSET, {"at": self.now})


def _codes(guests: list[Guest]) -> st.SearchStrategy[str]:
    """A guest's code as a scanner may type it, an unknown code, or garbage."""
    known = [g.code for g in guests]
    variants = st.sampled_from(known).flatmap(
        lambda code: st.sampled_from([code, code.lower(), code.title(), f"  {code}\t"])
    )
    other = st.sampled_from(
        ["NOPE1", "OTHER1", "", "  ", "two words", "esc\x1b[2J", "A" * 300, "ünï1", "\u202eA1"]
    )
    return st.one_of(variants, variants, other)


# Voids on every path: a redemption voided and redeemed again, a first check-in voided (the
# next is first again), a void at a station with nothing to void, a voided record not
# voided twice.
KNOWN_VOIDS = Day(
    addon_names=(NAMES[1], NAMES[4], NAMES[2]),
    guests=(Guest("G0X", OrderStatus.PAID, (Line("addon:lunch", 1), Line("ticket:general", 1))),),
    scans=(
        Scan("meal", "G0X", "lunch", client=0),
        Scan("void", ""),
        Scan("meal", "G0X", "lunch", client=1),
        Scan("void", "", desk=False),
        Scan("checkin", "G0X", client=2),
        Scan("void", ""),
        Scan("void", ""),
        Scan("checkin", "G0X", client=3),
        Scan("door", "G0X", "ticket:general", client=4, desk=False),
        Scan("void", "", desk=False),
        Scan("lookup", "G0X"),
    ),
)


_RULES = st.builds(
    Rules,
    daily_limit=st.sampled_from([None, None, 0, 1, 2]),
    hours=st.sampled_from(["", "", *HOURS]),
    dates=st.sampled_from([(), (), (0,), (1,), (0, 2), (1, 2)]),
    reentry=st.sampled_from(event_rules.REENTRY_POLICIES),
    capacity=st.sampled_from([None, None, 0, 1, 2]),
)


@st.composite
def days(draw: st.DrawFn) -> Day:
    addon_names = tuple(draw(st.sampled_from(NAMES)) for _ in ADDONS)
    products = [f"ticket:{t}" for t in TICKETS] + [f"addon:{a}" for a in ADDONS]
    # Rules on some products (half the days have none, as most conferences).
    rules: tuple[tuple[str, Rules], ...] = ()
    if draw(st.booleans()):
        rules = tuple((product, draw(_RULES)) for product in products)
    guests: list[Guest] = []
    for n in range(draw(st.integers(1, 5))):
        # Paid more often than not, so that the rules get their say.
        status = draw(st.sampled_from([None, *OrderStatus, OrderStatus.PAID, OrderStatus.PAID]))
        lines = draw(
            st.lists(
                st.builds(Line, st.sampled_from(products), st.integers(0, 3)),
                max_size=0 if status is None else 5,
            )
        )
        guests.append(Guest(f"G{n}X", status, tuple(lines)))
    line_count = sum(len(g.lines) for g in guests)
    codes = _codes(guests)
    door_products = st.sampled_from(
        [*products, *products, "ticket:nope", "addon:nope", "lunch", "ticket:"]
    )
    meal_products = st.sampled_from([*ADDONS, "addon:lunch", "addon:voucher", "caviar"])
    lines = st.sampled_from([*range(line_count), MISSING_LINE])
    clients = st.integers(0, 6)
    desks = st.booleans()
    directions = st.sampled_from(["in", "in", "out"])
    door = st.builds(
        Scan, st.just("door"), codes, door_products, client=clients, desk=desks,
        direction=directions,
    )  # fmt: skip
    # Scans of what a paid-for badge holds, so that rooms fill and limits are reached.
    held = [(g.code, line.product) for g in guests if g.status is not None
            for line in g.lines if line.quantity > 0]  # fmt: skip
    held_scans: list[st.SearchStrategy[Scan]] = []
    if held:
        pairs = st.sampled_from(held)
        held_door = st.builds(
            lambda pair, client, desk, direction: Scan(
                "door", pair[0], pair[1], client=client, desk=desk, direction=direction
            ),
            pairs, clients, desks, directions,
        )  # fmt: skip
        held_meal = st.builds(
            lambda pair, client, desk: Scan(
                "meal", pair[0], pair[1].removeprefix("addon:"), client=client, desk=desk
            ),
            pairs, clients, desks,
        )  # fmt: skip
        held_scans = [held_door, held_door, held_meal]
    scan = st.one_of(
        *held_scans,
        st.builds(Scan, st.just("checkin"), codes, client=clients, desk=desks),
        door,
        st.builds(Scan, st.just("meal"), codes, meal_products, client=clients, desk=desks),
        st.builds(Scan, st.just("meal"), codes, meal_products, client=clients, desk=desks),
        st.builds(Scan, st.just("line"), codes, line=lines, client=clients, desk=desks),
        st.builds(Scan, st.just("lookup"), codes),
        # The operator's undo of the station's last scan (within the window).
        st.builds(Scan, st.just("void"), st.just(""), desk=desks),
        # Time passes: a minute, an hour, a day, or to the next midnight or opening.
        st.builds(Scan, st.just("clock"), st.just(""), move=st.sampled_from(MOVES)),
    )
    scans = draw(st.lists(scan, min_size=1, max_size=25))
    # Exact retries of earlier scans, refused ones included (same client id, same code).
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(scans)))
        if at:
            scans.insert(at, scans[draw(st.integers(0, at - 1))])
    return Day(addon_names, tuple(guests), tuple(scans), draw(st.sampled_from(STARTS)), rules)


# Days that found a drift once, kept so every run covers them.
KNOWN_DRIFTS = Day(
    addon_names=(NAMES[1], NAMES[4], NAMES[2]),
    guests=(Guest("G0X", OrderStatus.PAID, (Line("addon:lunch", 1), Line("addon:voucher", 1))),),
    scans=(
        Scan("meal", "g0x", "lunch", client=0),
        # 0004: a retry naming an unknown product was refused as one, not replayed.
        Scan("meal", "G0X", "caviar", client=0),
        # The hot door check looked at the product before refusing a bad scan.
        Scan("door", "", "lunch", client=1),
        # Refusals that name the product, in the words of every path.
        Scan("meal", "G0X", "lunch", client=2),
        Scan("door", "G0X", "addon:voucher", client=3),
        Scan("door", "G0X", "addon:tutorial", client=3),
        Scan("meal", "G0X", "tutorial", client=4),
        Scan("meal", "G0X", "voucher", client=5),
        Scan("meal", "G0X", "voucher", client=6),
    ),
)


# The demo on every path: three lunch vouchers, one a day within opening hours,
# across midnight; a tutorial room for two that admits again only after an exit; a
# general pass valid on the first day only, at the desk, at midnight and the day after.
KNOWN_RULES = Day(
    addon_names=(NAMES[0], NAMES[4], NAMES[3]),
    guests=tuple(
        Guest(
            f"G{n}X",
            OrderStatus.PAID,
            (Line("ticket:general", 1), Line("addon:lunch", 3), Line("addon:tutorial", 1)),
        )
        for n in range(3)
    ),
    scans=(
        Scan("meal", "G0X", "lunch", client=0),  # 09:00: closed, opens 11:30
        Scan("clock", "", move="11:30"),
        Scan("meal", "G0X", "lunch", client=1),
        Scan("meal", "G0X", "lunch", client=2),  # one a day: again tomorrow 11:30
        Scan("door", "G0X", "addon:tutorial", client=3),
        # A door retry naming a product the conference lacks crashed the replay (found with
        # event rules): refused as a misconfigured station, as a first scan is.
        Scan("door", "g0x", "ticket:nope", client=3, direction="out"),
        Scan("door", "G1X", "addon:tutorial", client=4),
        Scan("door", "G2X", "addon:tutorial", client=5),  # room full (2/2)
        Scan("door", "G1X", "addon:tutorial", client=6),  # needs an exit first
        Scan("door", "G0X", "addon:tutorial", client=7, direction="out"),
        Scan("door", "G2X", "addon:tutorial", client=8),
        Scan("void", "", desk=True),  # the entry undone: room for one again
        Scan("door", "G2X", "addon:tutorial", client=9),
        Scan("checkin", "G1X", client=10),
        Scan("clock", "", move="before midnight"),
        Scan("checkin", "G2X", client=11),  # 23:59:59: still day one
        Scan("meal", "G0X", "lunch", client=12),  # 00:00:06: day two, closed until 11:30
        Scan("checkin", "G2X", client=13),  # the pass was valid on day one only
        Scan("clock", "", move="11:30"),
        Scan("meal", "G0X", "lunch", client=14),
        Scan("meal", "G0X", "lunch", client=15),
    ),
    rules=(
        ("addon:lunch", Rules(daily_limit=1, hours="11:30-14:30")),
        ("addon:tutorial", Rules(reentry="after_exit", capacity=2)),
        ("ticket:general", Rules(dates=(0,))),
    ),
)
# Berlin's 23-hour day: a daily door and a daily limit across midnight and 02:00 -> 03:00.
KNOWN_DST = Day(
    addon_names=(NAMES[0], NAMES[1], NAMES[2]),
    guests=(Guest("G0X", OrderStatus.PAID, (Line("addon:voucher", 5), Line("ticket:speaker", 1))),),
    scans=(
        Scan("meal", "G0X", "voucher", client=0),  # 21:30
        Scan("meal", "G0X", "voucher", client=1),
        Scan("door", "G0X", "ticket:speaker", client=2),
        Scan("door", "G0X", "ticket:speaker", client=3),  # once a day
        Scan("clock", "", move="before midnight"),
        Scan("meal", "G0X", "voucher", client=4),
        Scan("clock", "", move="minute"),  # 00:01, 28 March
        Scan("meal", "G0X", "voucher", client=5),
        Scan("door", "G0X", "ticket:speaker", client=6),
        Scan("clock", "", move="hour"),
        Scan("clock", "", move="hour"),  # 03:01 CEST
        Scan("meal", "G0X", "voucher", client=7),
        Scan("meal", "G0X", "voucher", client=8),
        Scan("clock", "", move="day"),
        Scan("door", "G0X", "ticket:speaker", client=9),
    ),
    start=STARTS[1],
    rules=(
        ("addon:voucher", Rules(daily_limit=2)),
        ("ticket:speaker", Rules(reentry="daily")),
    ),
)


def build(sessions: sessionmaker[Session], day: Day) -> list[int]:
    """The day's data, the same ids on every fresh database; returns the line ids in order."""
    line_ids: list[int] = []
    with sessions.begin() as s:
        conference = Conference(slug=SLUG, name="Diff Con", timezone=ZONE)
        s.add(conference)
        s.add(Staff(name="Ana\x1b]0;x\x07", pin_hash=None))
        s.flush()
        products: dict[str, tuple[str, int]] = {}
        rules = {product: ruled.columns(day.start) for product, ruled in day.rules}
        for slug in TICKETS:
            ticket = TicketType(
                conference_id=conference.id,
                slug=slug,
                name=f"{slug} pass",
                **rules.get(f"ticket:{slug}", {}),
            )
            s.add(ticket)
            s.flush()
            products[f"ticket:{slug}"] = ("ticket", ticket.id)
        for slug, name in zip(ADDONS, day.addon_names, strict=True):
            addon = AddOn(
                conference_id=conference.id, slug=slug, name=name, **rules.get(f"addon:{slug}", {})
            )
            s.add(addon)
            s.flush()
            products[f"addon:{slug}"] = ("addon", addon.id)
        for n, guest in enumerate(day.guests):
            person = Person(
                username=f"guest{n}",
                first_name=["Ada", "", "Zoë\u202e"][n % 3],
                last_name=["Lovelace", "", ""][n % 3],
                email=f"guest{n}@example.org",
            )
            s.add(person)
            s.flush()
            order = None
            if guest.status is not None:
                order = Order(
                    conference_id=conference.id,
                    person_id=person.id,
                    reference=f"ORD-{n}",
                    status=guest.status,
                )
                s.add(order)
                s.flush()
                for line in guest.lines:
                    kind, product_id = products[line.product]
                    item = OrderLineItem(
                        order_id=order.id,
                        description=f"{line.product} x{line.quantity}",
                        quantity=line.quantity,
                        ticket_type_id=product_id if kind == "ticket" else None,
                        addon_id=product_id if kind == "addon" else None,
                    )
                    s.add(item)
                    s.flush()
                    line_ids.append(item.id)
            s.add(
                Attendee(
                    person_id=person.id,
                    conference_id=conference.id,
                    order_id=order.id if order else None,
                    access_code=guest.code,
                )
            )
        # Someone of another conference, whose badge this station must not find.
        other = Conference(slug="other-con", name="Other", timezone="UTC")
        stranger = Person(username="stranger", first_name="S", last_name="T", email="s@t")
        s.add_all([other, stranger])
        s.flush()
        s.add(Attendee(person_id=stranger.id, conference_id=other.id, access_code="OTHER1"))
    return line_ids


def run(
    sessions: sessionmaker[Session],
    day: Day,
    line_ids: list[int],
    *,
    hot_paths: bool | None,
    memory: Snapshot | None = None,
    server: Engine | None = None,
    copy: StationCopy | None = None,
) -> list[object]:
    """Every scan of the day, one after another, on one path; each outcome as compared.

    With ``memory``, the rule book alone decides, over that snapshot in memory. With
    ``server`` (PostgreSQL's hot path), its recording clock follows the day's. With
    ``copy`` too, every scan first decides on that station snapshot, filled before the
    day and never synced during it, and forgetting this station's own writes: every
    premise the day makes stale must be caught by the guarded writes.
    """
    clock = DayClock(day.start, server)
    store: Any = MemoryStore(memory, clock) if memory is not None else None
    if copy is not None:
        assert server is not None
        store = ForgetfulFirst(PgStore(server, clock), copy, clock, max_age=timedelta(days=3650))
    checkin = CheckInService(sessions, clock=clock, hot_paths=hot_paths, store=store)
    redemption = RedemptionService(sessions, clock=clock, hot_paths=hot_paths, store=store)
    voids = VoidService(sessions, clock=clock, hot_paths=hot_paths, store=store)
    void_ids = itertools.count(10_000)
    desk = StationContext(SLUG, "Desk\x07 1", 1)
    door = StationContext(SLUG, "Door B", None)

    def perform(scan: Scan) -> Callable[[], object]:
        ctx = desk if scan.desk else door
        client_id = uuid.UUID(int=scan.client + 1)
        if scan.kind == "checkin":
            return lambda: checkin.check_in(ctx, scan.code, client_id=client_id, note="n")
        if scan.kind == "door":
            direction: Direction = "out" if scan.direction == "out" else "in"
            return lambda: checkin.record_door_check(
                ctx, scan.code, product=scan.product, client_id=client_id, direction=direction
            )
        if scan.kind == "meal":
            return lambda: redemption.redeem_product(
                ctx, scan.code, product=scan.product, client_id=client_id, note="m"
            )
        if scan.kind == "line":
            line_id = line_ids[scan.line] if scan.line < len(line_ids) else MISSING_LINE
            return lambda: redemption.redeem_product(
                ctx, scan.code, line_item_id=line_id, client_id=client_id
            )
        if scan.kind == "void":
            void_id = uuid.UUID(int=next(void_ids))
            return lambda: voids.void_last(ctx, client_id=void_id, window_seconds=3600)
        if scan.kind == "clock":
            return lambda: clock.move(scan.move)
        return lambda: checkin.lookup_attendee(ctx, scan.code)

    outcomes = []
    for scan in day.scans:
        clock.sync()
        outcomes.append(outcome(perform(scan)))
        if scan.kind != "clock":  # a clock scan is the time passing: the next scan is then
            clock.tick()
    if isinstance(store, ForgetfulFirst):
        FIRST_TRIES["tried"] += store.first_tries
        FIRST_TRIES["recorded"] += store.first_tries_recorded
    return outcomes


FIRST_TRIES: Counter[str] = Counter()
"""Over a whole run: snapshot-first tries, and those whose write went through."""


class ForgetfulFirst(SnapshotFirstStore):
    """The snapshot-first store without its note of its own writes: it decides on the
    day-old copy even for a badge it has just scanned, so the premises must catch it."""

    def wrote(self, attendee_id: int) -> None:
        pass


def assert_invariants(sessions: sessionmaker[Session], day: Day, outcomes: list[object]) -> None:
    """What holds on any path: never over quantity (voids left out); every scan answered
    logged once; every void recorded once."""
    with sessions() as s:
        over = s.execute(
            select(OrderLineItem.id)
            .join(ProductRedemption, ProductRedemption.order_line_item_id == OrderLineItem.id)
            .where(not_voided("redeem", ProductRedemption.id))  # a voided unit is free again
            .group_by(OrderLineItem.id, OrderLineItem.quantity)
            .having(func.count(ProductRedemption.id) > OrderLineItem.quantity)
        ).all()
        logged = s.scalar(select(func.count(ScanLog.id)))
        voided = s.scalar(select(func.count(ScanVoid.id)))
    assert over == []
    # Voids log what they void, never a refusal (a refused void is no scan).
    scans = [o for s, o in zip(day.scans, outcomes, strict=True) if s.kind not in UNLOGGED]
    refused_voids = sum(
        isinstance(o, Refused) for s, o in zip(day.scans, outcomes, strict=True) if s.kind == "void"
    )
    refused = [o for o in scans if isinstance(o, Refused) and o.kind != "ConfigurationError"]
    assert all(o.kind in _REFUSALS for o in refused), refused
    written = [o for o in scans if not isinstance(o, Refused)]
    assert voided == sum(1 for scan, o in zip(day.scans, outcomes, strict=True)
                         if scan.kind == "void" and not isinstance(o, Refused))  # fmt: skip
    logged_refusals = len(refused) - refused_voids
    replays = sum(not getattr(o, "replayed", False) for o in written)
    assert logged == logged_refusals + replays


UNLOGGED = ("lookup", "clock")
_REFUSALS = {cls.__name__ for cls in Refusal.__subclasses__()} | {"Refusal"}
assert ConfigurationError.__name__ not in _REFUSALS


class Fresh:
    """A fresh copy of the migrated SQLite template for each example."""

    def __init__(self, template: Path, directory: Path) -> None:
        self.template = template
        self.directory = directory
        self.numbers = itertools.count()

    def sqlite(self) -> tuple[Engine, sessionmaker[Session]]:
        path = self.directory / f"day{next(self.numbers)}.sqlite3"
        shutil.copyfile(self.template, path)
        engine = make_engine(DatabaseSettings(url=f"sqlite:///{path}"))
        return engine, make_session_factory(engine)


def _settings(default: int) -> Any:
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,
        derandomize=not EXAMPLES,  # CI runs the same days every time; a long run explores
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )


def test_a_day_on_sqlite_keeps_its_invariants(sqlite_template: Path, tmp_path: Path) -> None:
    fresh = Fresh(sqlite_template, tmp_path)

    @_settings(40)
    @given(day=days())
    @example(day=KNOWN_VOIDS)
    @example(day=KNOWN_RULES)
    def check(day: Day) -> None:
        engine, sessions = fresh.sqlite()
        try:
            line_ids = build(sessions, day)
            assert_invariants(sessions, day, run(sessions, day, line_ids, hot_paths=None))
        finally:
            engine.dispose()

    check()


@pytest.mark.postgres
def test_every_path_agrees_sqlite_postgres_general_and_postgres_hot(
    sqlite_template: Path, postgres_schema: DatabaseSettings, tmp_path: Path
) -> None:
    fresh = Fresh(sqlite_template, tmp_path)
    pg = make_engine(postgres_schema)
    pg_sessions = make_session_factory(pg)

    @_settings(100)
    @given(day=days())
    @example(day=KNOWN_RULES)
    @example(day=KNOWN_DST)
    @example(day=KNOWN_DRIFTS)
    @example(day=KNOWN_VOIDS)
    def check(day: Day) -> None:
        results: dict[str, tuple[list[object], dict[str, list[tuple[Any, ...]]]]] = {}
        engine, sessions = fresh.sqlite()
        try:
            line_ids = build(sessions, day)
            memory = snapshot(sessions)
            results["sqlite"] = (
                run(sessions, day, line_ids, hot_paths=None),
                rows_written(sessions),
            )
            alone = run(sessions, day, line_ids, hot_paths=None, memory=memory)
            results["the rule book alone"] = (alone, memory_rows(memory))
        finally:
            engine.dispose()
        for name, hot_paths in (
            ("postgres general", False),
            ("postgres hot", None),
            ("postgres snapshot first", None),
        ):
            truncate(pg)
            assert build(pg_sessions, day) == line_ids
            server = pg if hot_paths is None else None
            copy = None
            if name == "postgres snapshot first":
                copy = StationCopy(tmp_path / f"copy-{uuid.uuid4().hex}.sqlite3")
                SnapshotSync(pg, copy, SLUG, clock=lambda: day.start).fill()
                copy.hold()  # its holders in memory, as a station keeps them
            try:
                outcomes = run(
                    pg_sessions, day, line_ids, hot_paths=hot_paths, server=server, copy=copy
                )
            finally:
                if copy is not None:
                    copy.close()
            assert_invariants(pg_sessions, day, outcomes)
            results[name] = (outcomes, rows_written(pg_sessions))

        reference, reference_rows = results["sqlite"]
        for name, (outcomes, rows) in results.items():
            for step, (scan, expected, got) in enumerate(
                zip(day.scans, reference, outcomes, strict=True)
            ):
                assert got == expected, f"{name} differs from sqlite at step {step}: {scan}"
            for table, expected_rows in reference_rows.items():
                assert rows[table] == expected_rows, f"{name} differs from sqlite in {table}"

    try:
        FIRST_TRIES.clear()
        check()
    finally:
        pg.dispose()
    # The snapshot-first path was taken, and the guarded writes both took and refused it.
    assert FIRST_TRIES["recorded"] > 0, FIRST_TRIES
    assert FIRST_TRIES["tried"] > FIRST_TRIES["recorded"], FIRST_TRIES
