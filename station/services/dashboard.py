"""What the organisers' dashboard shows, read cheaply enough to refresh every second.

Two reads of different weight:

- :meth:`DashboardFeed.stations` (every refresh): every station's heartbeat row, and
  the scan log's counts per station, minute, outcome and reason since the end of the
  previous complete minute. Finished minutes are kept here, so a refresh reads the
  last minute or two of scans however long the event has run (the first read takes
  the last hour, for the sparklines and the refusals).
- :meth:`DashboardFeed.totals` (every few seconds): check-ins against attendees,
  units served against bought per product, and who is inside each door (the kept
  room counts of migration 0015, one row per door).

Read-only: one read-only transaction per call. The results are frozen dataclasses; a
database that fails raises DatabaseUnavailable (DatabaseBusy on a timeout), as for scans.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Integer, case, cast, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from station.db import behind_pooler, listen_connection
from station.domain import ACTIVE_ORDER_STATUSES
from station.health import lost_after_s
from station.models import (
    AddOn,
    Attendee,
    Conference,
    Order,
    OrderLineItem,
    ProductRedemption,
    RoomCount,
    ScanLog,
    StationHealth,
    TicketType,
    utcnow,
)
from station.reading import read_connection
from station.report import refusal_words
from station.services.db_errors import database_errors
from station.services.errors import ConfigurationError
from station.services.void_queries import not_voided

#: Minutes in a sparkline, and how far back the refusals by reason go.
SPARK_MINUTES = 15
REFUSAL_MINUTES = 60


@dataclass(frozen=True, slots=True)
class StationStatus:
    station: str
    mode: str
    product: str | None
    operator: str | None
    version: str
    status: str
    """"ok", "offline" (deciding from its snapshot), "lost" (silent), "closed" (quit)."""
    backlog: int | None
    last_scan_at: datetime | None
    scans_1m: int
    refusals_1m: int
    p50_ms: float | None
    p95_ms: float | None
    beat_at: datetime
    silent_s: float
    """Seconds since its last heartbeat (by the database's clock)."""
    per_minute: tuple[int, ...]
    """Scans per minute, oldest first, the current minute last."""


@dataclass(frozen=True, slots=True)
class StationsView:
    now: datetime
    stations: tuple[StationStatus, ...]
    per_minute: tuple[int, ...]
    """All stations' scans per minute, oldest first."""
    refusals: tuple[tuple[str, int], ...]
    """Refusals of the last hour by reason, in the station's words, most first."""

    def count(self, status: str) -> int:
        return sum(1 for s in self.stations if s.status == status)


@dataclass(frozen=True, slots=True)
class ProductServed:
    name: str
    served: int
    bought: int


@dataclass(frozen=True, slots=True)
class DoorInside:
    name: str
    inside: int
    capacity: int | None


@dataclass(frozen=True, slots=True)
class TotalsView:
    attendees: int
    """Attendees on an active (paid or partially refunded) order."""
    checked_in: int
    products: tuple[ProductServed, ...]
    doors: tuple[DoorInside, ...]


@dataclass(frozen=True, slots=True)
class ConferenceInfo:
    id: int
    slug: str
    name: str
    timezone: str


class DashboardFeed:
    """One conference's dashboard data; keeps finished minutes between reads."""

    def __init__(
        self,
        engine: Engine,
        conference: str,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.conference = _conference(engine, conference)
        # minute (epoch // 60) -> (station, outcome, reason) -> count; finished minutes only.
        self._minutes: dict[int, dict[tuple[str, str, str], int]] = {}
        self._complete_before: int | None = None

    def stations(self) -> StationsView:
        now = self._clock()
        this_minute = _minute(now)
        since = (
            this_minute - REFUSAL_MINUTES + 1
            if self._complete_before is None
            else self._complete_before
        )
        with database_errors(), read_connection(self._engine, minutes=1) as conn:
            rows = conn.execute(
                select(StationHealth.__table__).where(
                    StationHealth.conference_id == self.conference.id
                )
            ).all()
            minute = _minute_of(ScanLog.scanned_at, self._engine.dialect.name)
            counted = conn.execute(
                select(minute, ScanLog.station, ScanLog.outcome, ScanLog.reason, func.count())
                .where(
                    ScanLog.conference_id == self.conference.id,
                    ScanLog.scanned_at >= _at_minute(since),
                    ScanLog.action != "void",
                )
                .group_by(minute, ScanLog.station, ScanLog.outcome, ScanLog.reason)
            ).all()
            db_now = _db_now(conn, self._engine.dialect.name) or now
        fresh: dict[int, dict[tuple[str, str, str], int]] = defaultdict(dict)
        for m, station, outcome, reason, n in counted:
            key = (station, outcome, reason)
            bucket = fresh[int(m)]
            bucket[key] = bucket.get(key, 0) + int(n)
        for m in range(since, this_minute + 1):
            self._minutes[m] = fresh.get(m, {})
        # The minute before this one may still get late rows (a scan's commit); read it
        # again next time, with this one.
        self._complete_before = this_minute - 1
        oldest = this_minute - REFUSAL_MINUTES + 1
        for m in [m for m in self._minutes if m < oldest]:
            del self._minutes[m]
        return self._view(now, db_now, this_minute, list(rows))

    def _view(
        self, now: datetime, db_now: datetime, this_minute: int, rows: list[Any]
    ) -> StationsView:
        spark = range(this_minute - SPARK_MINUTES + 1, this_minute + 1)
        per_station: dict[str, list[int]] = defaultdict(lambda: [0] * SPARK_MINUTES)
        total = [0] * SPARK_MINUTES
        refusals: dict[str, int] = defaultdict(int)
        for m, counts in self._minutes.items():
            index = m - spark.start
            for (station, outcome, reason), n in counts.items():
                if 0 <= index < SPARK_MINUTES:
                    per_station[station][index] += n
                    total[index] += n
                if outcome == "refused":
                    refusals[refusal_words(reason)] += n
        stations = []
        for row in rows:
            silent = max(0.0, (db_now - row.beat_at).total_seconds())
            stations.append(
                StationStatus(
                    station=row.station,
                    mode=row.mode,
                    product=row.product,
                    operator=row.operator,
                    version=row.version,
                    status=_status(row, silent),
                    backlog=row.backlog,
                    last_scan_at=row.last_scan_at,
                    scans_1m=row.scans_1m,
                    refusals_1m=row.refusals_1m,
                    p50_ms=row.p50_ms,
                    p95_ms=row.p95_ms,
                    beat_at=row.beat_at,
                    silent_s=silent,
                    per_minute=tuple(per_station.get(row.station, [0] * SPARK_MINUTES)),
                )
            )
        stations.sort(key=lambda s: (_STATUS_ORDER[s.status], s.station.casefold()))
        return StationsView(
            now=now,
            stations=tuple(stations),
            per_minute=tuple(total),
            refusals=tuple(sorted(refusals.items(), key=lambda kv: (-kv[1], kv[0]))),
        )

    def totals(self) -> TotalsView:
        conference_id = self.conference.id
        active = Order.status.in_(tuple(ACTIVE_ORDER_STATUSES))
        with database_errors(), read_connection(self._engine, minutes=1) as conn:
            attendees, checked_in = conn.execute(
                select(
                    func.count(Attendee.id),
                    func.count(case((Attendee.checked_in_at.is_not(None), 1))),
                )
                .join(Order, Order.id == Attendee.order_id)
                .where(Attendee.conference_id == conference_id, active)
            ).one()
            bought = (
                select(OrderLineItem.addon_id, func.sum(OrderLineItem.quantity).label("n"))
                .join(Order, Order.id == OrderLineItem.order_id)
                .where(Order.conference_id == conference_id, active)
                .group_by(OrderLineItem.addon_id)
                .subquery()
            )
            served = (
                select(OrderLineItem.addon_id, func.count().label("n"))
                .select_from(ProductRedemption)
                .join(OrderLineItem, OrderLineItem.id == ProductRedemption.order_line_item_id)
                .where(
                    ProductRedemption.conference_id == conference_id,
                    not_voided("redeem", ProductRedemption.id),
                )
                .group_by(OrderLineItem.addon_id)
                .subquery()
            )
            products = conn.execute(
                select(AddOn.name, func.coalesce(served.c.n, 0), func.coalesce(bought.c.n, 0))
                .outerjoin(bought, bought.c.addon_id == AddOn.id)
                .outerjoin(served, served.c.addon_id == AddOn.id)
                .where(AddOn.conference_id == conference_id)
                .order_by(AddOn.name)
            ).all()
            doors: list[Any] = []
            for model, column in (
                (TicketType, RoomCount.ticket_type_id),
                (AddOn, RoomCount.addon_id),
            ):
                doors.extend(
                    conn.execute(
                        select(model.name, func.coalesce(RoomCount.inside, 0), model.capacity)
                        .outerjoin(RoomCount, column == model.id)
                        .where(
                            model.conference_id == conference_id,
                            model.capacity.is_not(None) | RoomCount.id.is_not(None),
                        )
                        .order_by(model.name)
                    ).all()
                )
        return TotalsView(
            attendees=int(attendees),
            checked_in=int(checked_in),
            products=tuple(ProductServed(name, int(s), int(b)) for name, s, b in products),
            doors=tuple(
                DoorInside(name, int(inside), capacity) for name, inside, capacity in doors
            ),
        )


_STATUS_ORDER = {"lost": 0, "offline": 1, "ok": 2, "closed": 3}


def _status(row: Any, silent_s: float) -> str:
    if row.state == "closed":
        return "closed"
    if silent_s > lost_after_s(row.every_s):
        return "lost"
    return "ok" if row.online else "offline"


def _minute(at: datetime) -> int:
    return math.floor(at.timestamp() / 60)


def _at_minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, tz=UTC)


def _minute_of(column: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / 60), Integer)
    # SQLite keeps UTC text ("2026-06-15 12:00:00.123456"): whole seconds since the epoch.
    return cast(func.strftime("%s", column), Integer) // 60


def _db_now(conn: Connection, dialect: str) -> datetime | None:
    """The database's clock (PostgreSQL): what beat_at was written by. SQLite: ours."""
    if dialect != "postgresql":
        return None
    value = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    assert isinstance(value, datetime)
    return value


def _conference(engine: Engine, slug: str) -> ConferenceInfo:
    with database_errors(), read_connection(engine, minutes=1) as conn:
        row = conn.execute(
            select(Conference.id, Conference.slug, Conference.name, Conference.timezone).where(
                Conference.slug == slug
            )
        ).first()
    if row is None:
        raise ConfigurationError(f"Conference {slug!r} does not exist in this database.")
    return ConferenceInfo(row.id, row.slug, row.name, row.timezone)


class BeatListener:
    """``LISTEN station_health`` on its own connection: a heartbeat anywhere wakes the
    dashboard at once. Only on a direct PostgreSQL connection (through PgBouncer's
    transaction pooling a LISTEN ends with its transaction; SQLite has none): there
    :meth:`wait` just sleeps and the dashboard polls."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Any = None
        self.usable = engine.dialect.name == "postgresql" and not behind_pooler(engine)

    def wait(self, seconds: float) -> bool:
        """True when a heartbeat was notified within ``seconds``."""
        connection = self._connect()
        if connection is None:
            time.sleep(seconds)
            return False
        try:
            for _ in connection.notifies(timeout=seconds, stop_after=1):
                return True
        except Exception:
            self.close()
        return False

    def _connect(self) -> Any:
        if self.usable and self._connection is None:
            self._connection = listen_connection(self._engine, "station_health", connect_timeout=5)
        return self._connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
