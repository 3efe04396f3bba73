"""Filling the snapshot from the database, then keeping it current.

The first fill reads the whole conference in one read-only transaction. After
that, a sync reads only the attendees something happened to: a row of theirs
(attendee, person, order, order line) changed since the last sync (the
``change_seq`` every such row gets from one counter, migration 0013), or a
record of theirs was written (record ids only grow). Their rows and counts are
read again whole, so a sync never adds up deltas and a missed one is repaired
by the next. Both windows reach back ``OVERLAP`` values, so a transaction that
took its number before another but committed after it is still seen; what in
that window was already seen is not read again.

Event rules: products are read whole every sync (with their rule columns); a
line's redemption times and an attendee's door scans are read again with the
attendee; a door's "everyone out" (door_clear, append-only, no change numbers)
is read by its own id window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, literal, select, text, union_all
from sqlalchemy.sql import Select

from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Conference,
    DoorCheck,
    DoorClear,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    ScanVoid,
    Staff,
    TicketType,
    utcnow,
)
from station.offline.journal import to_text
from station.offline.snapshot import (
    SCHEMA_VERSION,
    AttendeeRow,
    ClearRow,
    DoorRow,
    LineRow,
    ProductRow,
    Snapshot,
    SnapshotConference,
)
from station.rulebook.facts import ProductKind
from station.services.errors import ConfigurationError
from station.services.results import StaffMember
from station.services.void_queries import not_voided
from station.text import display_safe

OVERLAP = 200
"""How far back (in change numbers and record ids) each sync reads again."""

_CHUNK = 500
_RECORDS: tuple[Any, ...] = (CheckIn, ProductRedemption, DoorCheck, ScanVoid)


@dataclass(frozen=True, slots=True)
class SyncStats:
    full: bool
    attendees: int
    seconds: float


class SnapshotSync:
    """Reads the server for one conference and writes the station's snapshot."""

    def __init__(
        self,
        engine: Engine,
        snapshot: Snapshot,
        conference: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        statement_timeout_ms: int = 30_000,
    ) -> None:
        self._engine = engine
        self._snapshot = snapshot
        self._slug = conference
        self._clock = clock
        self._timeout_ms = statement_timeout_ms
        self._seen: set[Version] = set()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
                conn.execute(text(f"SET LOCAL statement_timeout = {int(self._timeout_ms)}"))
            try:
                yield conn
            finally:
                conn.rollback()

    def sync(self) -> SyncStats:
        """Bring the snapshot up to date: a whole fill the first time, else the changes."""
        have = self._snapshot.conference()
        if have is None or have.slug != self._slug or self._snapshot.meta("change_seq") is None:
            return self.fill()
        return self._changes(have)

    def fill(self) -> SyncStats:
        """Read the whole conference again and replace the snapshot with it."""
        began = time.perf_counter()
        started = self._clock()
        with self._reading() as conn:
            conference = _conference(conn, self._slug)
            marks = _watermarks(conn, conference.id)
            products = _products(conn, conference.id)
            attendees = _with_line_versions(
                conn, _attendees(conn, conference.id, None), conference.id, whole=True
            )
            product_versions = _product_versions(conn, conference.id)
            lines = _lines(conn, conference.id, None)
            doors = _doors(conn, conference.id, None)
            clears = _clears(conn, conference.id, 0)
            staff = _staff(conn)
        with self._snapshot.writing() as writer:
            writer.clear()
            writer.staff(staff)
            writer.products(products)
            writer.attendees(attendees)
            writer.lines(lines)
            writer.doors(doors)
            writer.clears(clears)
            writer.set_meta(_meta(conference, marks, started, product_versions))
        return SyncStats(True, len(attendees), time.perf_counter() - began)

    def _changes(self, conference: SnapshotConference) -> SyncStats:
        began = time.perf_counter()
        started = self._clock()
        since = {key: int(self._snapshot.meta(key) or 0) for key in _MARK_KEYS}
        with self._reading() as conn:
            marks = _watermarks(conn, conference.id)
            window = _touched(conn, conference.id, since)
            # Only what this process has not seen yet: the overlap is read, not refreshed.
            touched = sorted({a for v, a in window.items() if v not in self._seen})
            self._seen = set(window)
            products = _products(conn, conference.id)
            product_versions = _product_versions(conn, conference.id)
            clears = _clears(conn, conference.id, max(0, since["door_clear"] - OVERLAP))
            staff = _staff(conn)
            attendees: list[AttendeeRow] = []
            lines: list[LineRow] = []
            doors: list[DoorRow] = []
            for chunk in _chunks(touched):
                found = _with_line_versions(
                    conn, _attendees(conn, conference.id, chunk), conference.id, whole=False
                )
                attendees += found
                orders = sorted({a.order_id for a in found if a.order_id is not None})
                if orders:
                    lines += _lines(conn, conference.id, orders)
                doors += _doors(conn, conference.id, chunk)
        with self._snapshot.writing() as writer:
            writer.staff(staff)
            writer.products(products)
            writer.attendees(attendees)
            writer.replace_lines({a.order_id for a in attendees if a.order_id is not None}, lines)
            writer.replace_doors(touched, doors)
            writer.clears(clears)
            writer.set_meta(_meta(conference, marks, started, product_versions))
        return SyncStats(False, len(attendees), time.perf_counter() - began)


_MARK_KEYS = (
    "change_seq", "check_in", "product_redemption", "door_check", "scan_void", "door_clear",
)  # fmt: skip


def _meta(
    conference: SnapshotConference, marks: dict[str, int], started: datetime, products: str
) -> dict[str, str]:
    return {
        "product_versions": products,
        "schema": SCHEMA_VERSION,
        "conference_id": str(conference.id),
        "conference_slug": conference.slug,
        "conference_name": conference.name,
        "conference_timezone": conference.timezone,
        "synced_at": to_text(started),
        **{key: str(value) for key, value in marks.items()},
    }


def _fetch(conn: Connection, query: Any) -> Any:
    """The query's rows; on PostgreSQL straight from the driver (psycopg already gives
    aware datetimes and text), skipping per-row type processing that cost a 100,000
    attendee fill three times the server's own time."""
    if conn.dialect.name != "postgresql":
        return conn.execute(query)
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    return conn.exec_driver_sql(str(compiled), compiled.params)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _conference(conn: Connection, slug: str) -> SnapshotConference:
    row = conn.execute(
        select(Conference.id, Conference.slug, Conference.name, Conference.timezone).where(
            Conference.slug == slug
        )
    ).one_or_none()
    if row is None:
        raise ConfigurationError(f"Conference {slug!r} does not exist in this database.")
    return SnapshotConference(row.id, row.slug, row.name, row.timezone)


def _watermarks(conn: Connection, conference_id: int) -> dict[str, int]:
    """The highest change number and record ids now, read before the rows themselves."""
    marks: dict[str, int] = {}
    seqs = [
        select(func.coalesce(func.max(model.change_seq), 0)).scalar_subquery()
        for model in (Attendee, Person, Order, OrderLineItem, TicketType, AddOn)
    ]
    marks["change_seq"] = max(int(v or 0) for v in conn.execute(select(*seqs)).one())
    # Every record table's top id in one round trip (door_clear has no attendee but is
    # append-only too: its own id window).
    records = (*_RECORDS, DoorClear)
    tops = [
        select(func.coalesce(func.max(model.id), 0))
        .where(model.conference_id == conference_id)
        .scalar_subquery()
        for model in records
    ]
    for model, top in zip(records, conn.execute(select(*tops)).one(), strict=True):
        marks[model.__tablename__] = int(top or 0)
    return marks


Version = tuple[str, int, int]
"""(what, its id, its change number): one row version or one record a sync has seen."""


def _touched(conn: Connection, conference_id: int, since: dict[str, int]) -> dict[Version, int]:
    """Row versions and records of the conference since the marks (less the overlap),
    each with the attendee it concerns."""
    seq = max(0, since["change_seq"] - OVERLAP)
    own = Attendee.conference_id == conference_id

    def versions(what: str, key: Any, version: Any) -> tuple[Any, ...]:
        return (literal(what).label("what"), key.label("key"), version.label("version"),
                Attendee.id.label("attendee"))  # fmt: skip

    queries: list[Select[Any]] = [
        select(*versions("attendee", Attendee.id, Attendee.change_seq)).where(
            own, Attendee.change_seq > seq
        ),
        select(*versions("person", Person.id, Person.change_seq))
        .join(Person, Person.id == Attendee.person_id)
        .where(own, Person.change_seq > seq),
        select(*versions("order", Order.id, Order.change_seq))
        .join(Order, Order.id == Attendee.order_id)
        .where(own, Order.change_seq > seq),
        select(*versions("line", OrderLineItem.id, OrderLineItem.change_seq))
        .join(OrderLineItem, OrderLineItem.order_id == Attendee.order_id)
        .where(own, OrderLineItem.change_seq > seq),
    ]
    for model in _RECORDS:
        last = max(0, since[model.__tablename__] - OVERLAP)
        queries.append(
            select(
                literal(model.__tablename__).label("what"),
                model.id.label("key"),
                literal(0).label("version"),
                model.attendee_id.label("attendee"),
            ).where(model.conference_id == conference_id, model.id > last)
        )
    return {
        (str(row.what), int(row.key), int(row.version)): int(row.attendee)
        for row in conn.execute(union_all(*queries))
    }


def _staff(conn: Connection) -> list[StaffMember]:
    """Active operators: names and whether they have a PIN (the station role's own view
    on PostgreSQL, station_staff(), which never shows a hash)."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT id, name, has_pin FROM station_staff()"))
        return [StaffMember(r.id, display_safe(r.name, limit=60), bool(r.has_pin)) for r in rows]
    rows = conn.execute(
        select(Staff.id, Staff.name, Staff.pin_hash.is_not(None).label("has_pin")).where(
            Staff.active.is_(True)
        )
    )
    return [StaffMember(r.id, display_safe(r.name, limit=60), bool(r.has_pin)) for r in rows]


def _products(conn: Connection, conference_id: int) -> list[ProductRow]:
    rows: list[ProductRow] = []
    for kind, model in (("ticket", TicketType), ("addon", AddOn)):
        for row in conn.execute(
            select(
                model.id,
                model.slug,
                model.name,
                model.checkin_attention,
                model.daily_limit,
                model.open_hours,
                model.valid_dates,
                model.reentry,
                model.capacity,
            ).where(model.conference_id == conference_id)
        ):
            rows.append(
                ProductRow(
                    "ticket" if kind == "ticket" else "addon",
                    row.id,
                    row.slug,
                    row.name,
                    row.checkin_attention or "",
                    row.daily_limit,
                    row.open_hours,
                    row.valid_dates,
                    row.reentry,
                    row.capacity,
                )
            )
    return rows


def _attendees(
    conn: Connection, conference_id: int, ids: Iterable[int] | None
) -> list[AttendeeRow]:
    """Attendees (all, or ``ids``) with their order and their check-in counts."""
    entries = (
        select(
            CheckIn.attendee_id,
            func.count().label("n"),
            func.min(CheckIn.id).label("first_id"),
        )
        .where(CheckIn.conference_id == conference_id, not_voided("checkin", CheckIn.id))
        .group_by(CheckIn.attendee_id)
    )
    if ids is not None:
        entries = entries.where(CheckIn.attendee_id.in_(list(ids)))
    counted = entries.subquery()
    first = CheckIn.__table__.alias("first_check_in")
    query = (
        select(
            Attendee.id,
            Attendee.access_code,
            Attendee.order_id,
            Attendee.checked_in_at,
            Person.first_name,
            Person.last_name,
            Person.username,
            Person.email,
            Order.status,
            Order.reference,
            Order.checkin_attention,
            counted.c.n,
            first.c.checked_in_at.label("first_at"),
            first.c.station.label("first_station"),
            Staff.name.label("first_staff"),
            Attendee.change_seq,
            Person.change_seq.label("person_seq"),
            Order.change_seq.label("order_seq"),
        )
        .join(Person, Person.id == Attendee.person_id)
        .outerjoin(Order, Order.id == Attendee.order_id)
        .outerjoin(counted, counted.c.attendee_id == Attendee.id)
        .outerjoin(first, first.c.id == counted.c.first_id)
        .outerjoin(Staff, Staff.id == first.c.staff_id)
        .where(Attendee.conference_id == conference_id)
    )
    if ids is not None:
        query = query.where(Attendee.id.in_(list(ids)))
    made: list[AttendeeRow] = []
    append = made.append
    # Positional unpacking over fetchall(): a 100,000-attendee fill spent more time in
    # per-row attribute lookups than the server took to answer.
    for (attendee_id, code, order_id, checked_in_at, first_name, last_name, username, email,
         status, reference, attention, entries, first_at, first_station, first_staff,
         attendee_seq, person_seq, order_seq) in _fetch(conn, query).fetchall():  # fmt: skip
        append(
            AttendeeRow(
                attendee_id,
                code,
                first_name or "",
                last_name or "",
                username or "",
                email or "",
                order_id,
                None if status is None else str(getattr(status, "value", status)),
                reference,
                attention or "",
                checked_in_at,
                int(entries or 0),
                first_at,
                first_station,
                first_staff,
                tuple(int(v) for v in (attendee_seq, person_seq, order_seq) if v is not None),
            )
        )
    return made


def _with_line_versions(
    conn: Connection, attendees: list[AttendeeRow], conference_id: int, whole: bool
) -> list[AttendeeRow]:
    """Each attendee's versions with those of every line of their order (read in the same
    transaction as the rest, so they are the versions of what the snapshot holds)."""
    orders = sorted({a.order_id for a in attendees if a.order_id is not None})
    query = (
        select(OrderLineItem.order_id, OrderLineItem.change_seq)
        .join(Order, Order.id == OrderLineItem.order_id)
        .where(Order.conference_id == conference_id)
    )
    by_order: dict[int, list[int]] = {}
    for chunk in [None] if whole else list(_chunks(orders)):
        chosen = query if chunk is None else query.where(OrderLineItem.order_id.in_(list(chunk)))
        for order_id, seq in _fetch(conn, chosen).fetchall():
            by_order.setdefault(order_id, []).append(int(seq))
    marks = _record_marks(conn, conference_id, None if whole else [a.id for a in attendees])
    return [
        a._replace(
            versions=a.versions + tuple(by_order.get(a.order_id, ()))
            if a.order_id is not None
            else a.versions,
            records=marks.get(a.id, (0, 0, 0, 0)),
        )
        for a in attendees
    ]


def _record_marks(
    conn: Connection, conference_id: int, ids: Sequence[int] | None
) -> dict[int, tuple[int, int, int, int]]:
    """Per attendee the id of their newest check-in, redemption of their order's lines,
    door scan and void (0 for none), as migration 0020's guarded writes read them."""
    redemptions: Any = (
        select(ProductRedemption.attendee_id, func.max(ProductRedemption.id))
        .join(OrderLineItem, OrderLineItem.id == ProductRedemption.order_line_item_id)
        .join(
            Attendee,
            (Attendee.id == ProductRedemption.attendee_id)
            & (Attendee.order_id == OrderLineItem.order_id),
        )
        .where(ProductRedemption.conference_id == conference_id)
        .group_by(ProductRedemption.attendee_id)
    )

    def newest(model: Any) -> Select[Any]:
        return (
            select(model.attendee_id, func.max(model.id))
            .where(model.conference_id == conference_id)
            .group_by(model.attendee_id)
        )

    queries: list[tuple[Any, Select[Any]]] = [
        (CheckIn, newest(CheckIn)),
        (ProductRedemption, redemptions),
        (DoorCheck, newest(DoorCheck)),
        (ScanVoid, newest(ScanVoid)),
    ]
    marks: dict[int, list[int]] = {}
    for position, (model, query) in enumerate(queries):
        for chunk in [None] if ids is None else list(_chunks(ids)):
            chosen = query if chunk is None else query.where(model.attendee_id.in_(list(chunk)))
            for attendee_id, top in _fetch(conn, chosen).fetchall():
                marks.setdefault(int(attendee_id), [0, 0, 0, 0])[position] = int(top or 0)
    return {attendee: (m[0], m[1], m[2], m[3]) for attendee, m in marks.items()}


def _product_versions(conn: Connection, conference_id: int) -> str:
    """Every ticket type's and add-on's change_seq, sorted, as the snapshot's meta keeps it."""
    seqs = [
        int(seq)
        for model in (TicketType, AddOn)
        for (seq,) in conn.execute(
            select(model.change_seq).where(model.conference_id == conference_id)
        )
    ]
    return ",".join(str(v) for v in sorted(seqs))


def _lines(conn: Connection, conference_id: int, order_ids: Sequence[int] | None) -> list[LineRow]:
    """Order lines (all, or of ``order_ids``) with their used units, the last use and when
    each unit went (a daily limit counts them per conference day)."""
    uses = (
        select(
            ProductRedemption.order_line_item_id,
            ProductRedemption.redeemed_at,
            ProductRedemption.station,
        )
        .where(
            ProductRedemption.conference_id == conference_id,
            not_voided("redeem", ProductRedemption.id),
        )
        .order_by(ProductRedemption.order_line_item_id, ProductRedemption.id)
    )
    query = (
        select(
            OrderLineItem.id,
            OrderLineItem.order_id,
            OrderLineItem.ticket_type_id,
            OrderLineItem.addon_id,
            OrderLineItem.description,
            OrderLineItem.quantity,
        )
        .join(Order, Order.id == OrderLineItem.order_id)
        .where(Order.conference_id == conference_id)
    )
    if order_ids is not None:
        query = query.where(OrderLineItem.order_id.in_(list(order_ids)))
        uses = uses.join(
            OrderLineItem, OrderLineItem.id == ProductRedemption.order_line_item_id
        ).where(OrderLineItem.order_id.in_(list(order_ids)))
    # Each standing redemption, in order: its count, last use and times in one pass (the
    # same rows a GROUP BY would read, without a second join for the last one).
    times: dict[int, list[datetime]] = {}
    last_station: dict[int, str] = {}
    for line_id, redeemed_at, station in _fetch(conn, uses).fetchall():
        times.setdefault(line_id, []).append(redeemed_at)
        last_station[line_id] = station or ""
    made: list[LineRow] = []
    append = made.append
    for (line_id, order_id, ticket_type_id, addon_id, description,
         quantity) in _fetch(conn, query).fetchall():  # fmt: skip
        if addon_id is not None:
            used = times.get(line_id, ())
            append(LineRow(line_id, order_id, "addon", addon_id, description or "", quantity,
                           len(used), used[-1] if used else None, last_station.get(line_id, ""),
                           tuple(used)))  # fmt: skip
        elif ticket_type_id is not None:  # a line of neither kind: nothing a scan can use
            append(LineRow(line_id, order_id, "ticket", ticket_type_id, description or "",
                           quantity, 0, None, ""))  # fmt: skip
    return made


def _product_of(ticket_type_id: int | None, addon_id: int | None) -> tuple[ProductKind, int]:
    if ticket_type_id is not None:
        return "ticket", ticket_type_id
    assert addon_id is not None, "a door record is of a ticket type or an add-on"
    return "addon", addon_id


def _doors(conn: Connection, conference_id: int, ids: Sequence[int] | None) -> list[DoorRow]:
    """Standing door scans (all, or of the attendees ``ids``), entries and exits."""
    query = select(
        DoorCheck.id,
        DoorCheck.attendee_id,
        DoorCheck.ticket_type_id,
        DoorCheck.addon_id,
        DoorCheck.checked_at,
        DoorCheck.direction,
    ).where(DoorCheck.conference_id == conference_id, not_voided("door", DoorCheck.id))
    if ids is not None:
        query = query.where(DoorCheck.attendee_id.in_(list(ids)))
    made: list[DoorRow] = []
    for record_id, attendee_id, ticket_type_id, addon_id, at, direction in _fetch(
        conn, query
    ).fetchall():
        kind, product_id = _product_of(ticket_type_id, addon_id)
        made.append(DoorRow(record_id, attendee_id, kind, product_id, at,
                            "out" if direction == "out" else "in"))  # fmt: skip
    return made


def _clears(conn: Connection, conference_id: int, after_id: int) -> list[ClearRow]:
    """Doors' "everyone out" records with an id above ``after_id``."""
    query = select(
        DoorClear.id, DoorClear.ticket_type_id, DoorClear.addon_id, DoorClear.cleared_at
    ).where(DoorClear.conference_id == conference_id, DoorClear.id > after_id)
    made: list[ClearRow] = []
    for record_id, ticket_type_id, addon_id, at in _fetch(conn, query).fetchall():
        kind, product_id = _product_of(ticket_type_id, addon_id)
        made.append(ClearRow(record_id, kind, product_id, at))
    return made
