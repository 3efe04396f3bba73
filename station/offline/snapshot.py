"""The station's local copy of what it needs to decide scans without the database.

One SQLite file per station and conference, in the user data directory: the
conference, its ticket types and add-ons, every attendee with their order's
status and lines, and per line how many units are used (voids taken into
account) and when each went (a daily limit counts per conference day), per
attendee their entries and first check-in, the event rules of each product,
and every standing door scan (with its direction) and "everyone out" of a door
(a door's re-entry policy and its room's inside count). It holds counts and
times, not whole records: a cache that ``SnapshotSync`` refills and keeps
current, and that may be thrown away at any time (the journal may not).

Readers build the rule book's ``Holder`` and ``Target`` from it; this station's
own offline scans are added on top by the offline store.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from station.domain import OrderStatus
from station.offline.held import Entry, HeldHolders, Wide
from station.offline.journal import from_text, to_text
from station.rulebook.event_rules import NO_RULES, Direction, ProductRules, RuleSyntaxError
from station.rulebook.facts import DoorState, FirstEntry, Holder, Line, ProductKind, Target
from station.services.errors import ConfigurationError
from station.services.results import StaffMember

log = logging.getLogger("station.offline")


class Premise(NamedTuple):
    """What a decision on an attendee rests on, as the copy read it with their row."""

    versions: tuple[int, ...]  # the change_seq of their rows (``AttendeeRow``)
    records: str  # the ids of their newest records, as stored ("1,0,4,0": ``AttendeeRow``)
    products: str  # every product's change_seq, as meta holds it (``product_versions``)
    synced_at: str  # when the sync that wrote this state started, as meta holds it


SCHEMA_VERSION = "3"
"""Bumped whenever the tables change: a snapshot of another version is dropped on open
and filled again (it is a cache)."""

_TABLES = ("meta", "product", "attendee", "line", "staff", "door", "door_clear")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS product (
    kind TEXT NOT NULL, id INTEGER NOT NULL, slug TEXT NOT NULL, name TEXT NOT NULL,
    attention TEXT NOT NULL DEFAULT '',
    daily_limit INTEGER, open_hours TEXT, valid_dates TEXT, reentry TEXT, capacity INTEGER,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS attendee (
    id INTEGER PRIMARY KEY,
    access_code TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL, last_name TEXT NOT NULL, username TEXT NOT NULL,
    email TEXT NOT NULL,
    order_id INTEGER, order_status TEXT, order_reference TEXT,
    order_attention TEXT NOT NULL DEFAULT '',
    checked_in_at TEXT,
    entries INTEGER NOT NULL DEFAULT 0,
    first_at TEXT, first_station TEXT, first_staff TEXT,
    versions TEXT NOT NULL DEFAULT '', records TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS attendee_order ON attendee (order_id);
CREATE TABLE IF NOT EXISTS line (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL,
    kind TEXT NOT NULL, product_id INTEGER NOT NULL,
    description TEXT NOT NULL, quantity INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0, last_used_at TEXT, last_station TEXT NOT NULL DEFAULT '',
    used_times TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS line_order ON line (order_id);
CREATE TABLE IF NOT EXISTS door (
    id INTEGER PRIMARY KEY,
    attendee_id INTEGER NOT NULL,
    kind TEXT NOT NULL, product_id INTEGER NOT NULL,
    at TEXT NOT NULL,
    direction TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS door_attendee ON door (attendee_id, kind, product_id);
CREATE INDEX IF NOT EXISTS door_room ON door (kind, product_id, attendee_id, at);
CREATE TABLE IF NOT EXISTS door_clear (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL, product_id INTEGER NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS door_clear_product ON door_clear (kind, product_id, at);
CREATE TABLE IF NOT EXISTS staff (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, has_pin INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class SnapshotConference:
    id: int
    slug: str
    name: str
    timezone: str


class AttendeeRow(NamedTuple):
    id: int
    access_code: str
    first_name: str
    last_name: str
    username: str
    email: str
    order_id: int | None
    order_status: str | None
    order_reference: str | None
    order_attention: str
    checked_in_at: datetime | None
    entries: int
    first_at: datetime | None
    first_station: str | None
    first_staff: str | None
    # The change_seq (migration 0013) of the attendee, person, order and every line of the
    # order, as read with the rest of this row: the premise of a scan decided on it (0020).
    versions: tuple[int, ...] = ()
    # The ids of their newest check-in, redemption (of the order's lines), door scan and
    # void, 0 for none, read with the rest: the records a decision here saw (0020).
    records: tuple[int, ...] = ()


class LineRow(NamedTuple):
    id: int
    order_id: int
    kind: ProductKind
    product_id: int
    description: str
    quantity: int
    used: int
    last_used_at: datetime | None
    last_station: str
    used_times: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class ProductRow:
    kind: ProductKind
    id: int
    slug: str
    name: str
    attention: str
    daily_limit: int | None = None
    open_hours: str | None = None
    valid_dates: str | None = None
    reentry: str | None = None
    capacity: int | None = None


class DoorRow(NamedTuple):
    """One standing (not voided) door scan: an entry or an exit, at its recording time."""

    id: int
    attendee_id: int
    kind: ProductKind
    product_id: int
    at: datetime
    direction: Direction


class ClearRow(NamedTuple):
    """One "everyone out" of a door."""

    id: int
    kind: ProductKind
    product_id: int
    at: datetime


class Snapshot:
    """The local copy; one writer (the sync) and many readers (scans), from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # Every product by (kind, id), for one state of the copy: the holder's read joins
        # its lines to them here instead of in SQL (see ``premised_holder``).
        self._products: _Products | None = None
        self._held: HeldHolders | None = None  # see ``hold``
        conn = self._conn()
        _drop_other_version(conn)
        conn.executescript(_SCHEMA)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # a cache: a lost sync is read again
        return conn

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (SQLite's may not be shared between threads)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- meta -------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        conn = self._conn()
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def conference(self) -> SnapshotConference | None:
        """The conference this copy is of, or None before the first fill."""
        conn = self._conn()
        rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if rows.get("schema") != SCHEMA_VERSION or "conference_id" not in rows:
            return None
        return SnapshotConference(
            int(rows["conference_id"]),
            rows["conference_slug"],
            rows["conference_name"],
            rows["conference_timezone"],
        )

    def synced_at(self) -> datetime | None:
        """When the last sync started reading the server (station clock)."""
        raw = self.meta("synced_at")
        return None if raw is None else from_text(raw)

    def staff(self) -> tuple[StaffMember, ...]:
        """The operators as last read (names and whether they have a PIN; never a hash)."""
        conn = self._conn()
        rows = conn.execute("SELECT id, name, has_pin FROM staff ORDER BY name").fetchall()
        return tuple(StaffMember(int(r[0]), str(r[1]), bool(r[2])) for r in rows)

    def attendee_count(self) -> int:
        conn = self._conn()
        return int(conn.execute("SELECT count(*) FROM attendee").fetchone()[0])

    # -- writing (the sync) -----------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[SnapshotWriter]:
        """One transaction of the sync: everything it writes shows at once, or nothing."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        writer = SnapshotWriter(conn, tracking=self._held is not None)
        try:
            yield writer
            writer.note_orders()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        if self._held is not None:
            self._committed(conn, writer)

    # -- the holders in memory (the first tries) -----------------------------------

    def hold(self, *, now: bool = True) -> None:
        """Keep every holder in memory from now on, for ``held`` (see ``station.offline.held``):
        built now, or (``now=False``, at a station's start) after the sync's next commit."""
        if self._held is None:
            self._held = HeldHolders()
        if now and not self._held.complete:
            self._warm()

    @property
    def holding(self) -> int:
        """How many holders are in memory (0 when not holding)."""
        return 0 if self._held is None else len(self._held)

    def held(self, code: str) -> tuple[Holder, Premise | None] | None:
        """``premised_holder(code=code)``, from memory where the copy's state allows."""
        held = self._held
        if held is None:
            return self.premised_holder(code=code)
        found = held.get(code)
        if found is not None:
            entry, wide = found
            premise = Premise(entry.versions, entry.records, wide.products, wide.synced_at)
            return entry.holder, premise
        generation = held.generation
        read = self.premised_holder(code=code)
        if read is not None:
            holder, read_premise = read
            if read_premise is not None:
                wide = Wide(read_premise.synced_at, read_premise.products)
                entry = Entry(holder, read_premise.versions, read_premise.records)
                held.store(generation, wide, entry)
        return read

    def _committed(self, conn: sqlite3.Connection, writer: SnapshotWriter) -> None:
        """After a sync's commit: the copy is written, so nothing here may fail the sync;
        what cannot be read drops every holder, which the scans then read from the copy."""
        held = self._held
        assert held is not None
        try:
            synced_at, products = conn.execute(_WIDE).fetchone()
        except sqlite3.Error:
            synced_at = products = None
        held.committed(
            None if synced_at is None else Wide(synced_at, products or ""),
            everything=writer.everything or writer.products_changed,
            ids=writer.ids,
            codes=writer.codes,
        )
        if not held.complete:
            try:
                self._warm()
            except sqlite3.Error as error:
                log.warning("could not build the copy's holders in memory: %s", error)

    def _warm(self) -> None:
        """Build every holder of one state of the copy and hold them."""
        held = self._held
        assert held is not None
        generation = held.generation
        conn = self._conn()
        began = not conn.in_transaction
        if began:
            conn.execute("BEGIN")
        try:
            rows = conn.execute(_HOLDER).fetchall()
            products = self._products = _read_products(conn)
            marks = conn.execute(_WIDE).fetchone()
        finally:
            if began:
                conn.execute("COMMIT")
        if marks[0] is None:
            return  # an empty copy: nothing to hold yet
        entries = []
        for row in rows:
            holder, premise = _built(row, products)
            if premise is not None:
                entries.append(Entry(holder, premise.versions, premise.records))
        held.replace(generation, Wide(marks[0], marks[1] or ""), entries)

    # -- reading (the offline store) ---------------------------------------------

    def target(self, kind: ProductKind, slug: str) -> Target | None:
        conn = self._conn()
        row = conn.execute(
            "SELECT id, slug, name, daily_limit, open_hours, valid_dates, reentry, capacity"
            " FROM product WHERE kind = ? AND slug = ?",
            (kind, slug),
        ).fetchone()
        if row is None:
            return None
        return Target(kind, int(row[0]), str(row[1]), str(row[2]), _rules(*row[3:8]))

    def door(
        self, attendee_id: int, kind: ProductKind, product_id: int, *, with_inside: bool
    ) -> DoorState:
        """A door scan's facts as the snapshot knows them (as ``rooms.door_state`` reads
        them online): the holder's standing scans at the door, its last clear, and (if
        asked) how many people are inside its room."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            events = conn.execute(
                "SELECT at, direction FROM door"
                " WHERE attendee_id = ? AND kind = ? AND product_id = ? ORDER BY at, id",
                (attendee_id, kind, product_id),
            ).fetchall()
            cleared = _cleared(conn, kind, product_id)
            inside = None
            if with_inside:
                inside = int(
                    conn.execute(_INSIDE, (kind, product_id, cleared, cleared)).fetchone()[0]
                )
        finally:
            conn.execute("COMMIT")
        return DoorState(
            events=tuple((from_text(at), _direction(d)) for at, d in events),
            cleared_at=None if cleared is None else from_text(cleared),
            inside=inside,
        )

    def last_directions(
        self, kind: ProductKind, product_id: int, attendee_ids: Iterable[int]
    ) -> dict[int, tuple[datetime, Direction]]:
        """Each listed person's last standing scan at the door since its last clear."""
        ids = sorted(set(attendee_ids))
        found: dict[int, tuple[datetime, Direction]] = {}
        conn = self._conn()
        cleared = _cleared(conn, kind, product_id)
        for chunk, marks in _in_chunks(ids):
            for attendee_id, at, direction in conn.execute(
                "SELECT attendee_id, at, direction FROM door"
                f" WHERE kind = ? AND product_id = ? AND attendee_id IN ({marks})"
                " AND (? IS NULL OR at > ?) ORDER BY at, id",
                (kind, product_id, *chunk, cleared, cleared),
            ):
                found[int(attendee_id)] = (from_text(at), _direction(direction))
        return found

    def holder(self, *, code: str | None = None, attendee_id: int | None = None) -> Holder | None:
        """The attendee behind a code (or an id) as the snapshot knows them."""
        found = self.premised_holder(code=code, attendee_id=attendee_id)
        return None if found is None else found[0]

    def premised_holder(
        self, *, code: str | None = None, attendee_id: int | None = None
    ) -> tuple[Holder, Premise | None] | None:
        """The holder with what a decision on them here rests on (None: not known), read
        in one statement, so from one state of the copy whatever a sync commits meanwhile.

        The lines' products come from ``_products``, kept for the state of the copy the
        row was read from (its sync and product versions; one sync writes both). After a
        sync the row and the products are read again in one transaction.
        """
        conn = self._conn()
        row = _holder_row(conn, code, attendee_id)
        if row is None:
            return None
        products = self._products
        if products is None or products.key != (row[_SYNCED_AT], row[_PRODUCTS]):
            began = not conn.in_transaction
            if began:
                conn.execute("BEGIN")
            try:
                row = _holder_row(conn, code, attendee_id)
                products = self._products = _read_products(conn)
            finally:
                if began:
                    conn.execute("COMMIT")
            if row is None:
                return None
        return _built(row, products)


def _built(row: tuple[Any, ...], products: _Products) -> tuple[Holder, Premise | None]:
    """A holder and their premise from one row of ``_HOLDER`` and the products of the same
    state of the copy."""
    (attendee, access_code, first_name, last_name, username, email, status, reference,
     attention, checked_in_at, entries, first_at, first_station, first_staff,
     versions, records, product_versions, synced_at, lines) = row  # fmt: skip
    premise = None
    if versions and records and synced_at is not None:
        premise = Premise(
            tuple(map(int, versions.split(","))),
            records,
            product_versions or "",
            synced_at,
        )
    holder = Holder(
        attendee_id=attendee,
        access_code=access_code,
        first_name=first_name,
        last_name=last_name,
        username=username,
        email=email,
        order_status=_order_status(status) if status else None,
        order_reference=reference,
        checked_in=checked_in_at is not None or entries > 0,
        first_entry=(
            FirstEntry(from_text(first_at), first_station or "", first_staff) if first_at else None
        ),
        entries=entries,
        lines=_lines(lines, products.by_id),
        order_attention=attention or "",
    )
    return holder, premise


# One row: the attendee, the premise (versions, records, product versions, synced_at) and
# their order's lines as one JSON array (no order or no lines: "[]"), so the read is one
# row however many lines, and one state of the copy. The lines' products are joined in
# Python (``_Products``): a join here cost a lookup per line and their columns in the JSON.
_HOLDER = (
    "SELECT a.id, a.access_code, a.first_name, a.last_name, a.username, a.email,"
    " a.order_status, a.order_reference, a.order_attention, a.checked_in_at, a.entries,"
    " a.first_at, a.first_station, a.first_staff, a.versions, a.records,"
    " (SELECT value FROM meta WHERE key = 'product_versions'),"
    " (SELECT value FROM meta WHERE key = 'synced_at'),"
    " (SELECT json_group_array(json_array(l.id, l.kind, l.product_id, l.description,"
    " l.quantity, l.used, l.last_used_at, l.last_station, l.used_times))"
    " FROM line l WHERE l.order_id = a.order_id)"
    " FROM attendee a"
)
_BY_ID = _HOLDER + " WHERE a.id = ?"
_PRODUCT_COLUMNS = (
    "kind, id, slug, name, attention, daily_limit, open_hours, valid_dates, reentry, capacity"
)
_WIDE = (
    "SELECT (SELECT value FROM meta WHERE key = 'synced_at'),"
    " (SELECT value FROM meta WHERE key = 'product_versions')"
)
_BY_CODE = _HOLDER + " WHERE a.access_code = ?"
_PRODUCTS, _SYNCED_AT = 16, 17  # the row's columns that say which state of the copy it is


def _holder_row(
    conn: sqlite3.Connection, code: str | None, attendee_id: int | None
) -> tuple[Any, ...] | None:
    if attendee_id is not None:
        return conn.execute(_BY_ID, (attendee_id,)).fetchone()  # type: ignore[no-any-return]
    return conn.execute(_BY_CODE, (code,)).fetchone()  # type: ignore[no-any-return]


class _Product(NamedTuple):
    slug: str
    name: str
    attention: str
    rules: ProductRules | str  # a str: why its stored rules cannot be read


class _Products(NamedTuple):
    key: tuple[str | None, str | None]  # (synced_at, product_versions) as meta holds them
    by_id: dict[tuple[str, int], _Product]


def _read_products(conn: sqlite3.Connection) -> _Products:
    """Every product, with the meta values that name this state of the copy (call it
    inside the read transaction that also reads the row it is for)."""
    key = conn.execute(_WIDE).fetchone()
    by_id: dict[tuple[str, int], _Product] = {}
    for kind, product_id, slug, name, attention, *columns in conn.execute(
        f"SELECT {_PRODUCT_COLUMNS} FROM product"
    ):
        rules: ProductRules | str
        try:
            rules = _rules(*columns)
        except ConfigurationError as error:
            rules = str(error)
        by_id[(kind, product_id)] = _Product(slug or "", name or "", attention or "", rules)
    return _Products((key[0], key[1]), by_id)


_NO_PRODUCT = _Product("", "", "", NO_RULES)  # a line whose product the copy lacks


@lru_cache(maxsize=64)
def _order_status(raw: str) -> OrderStatus:
    """``OrderStatus(raw)`` without the enum's lookup on every read (a bad value raises)."""
    return OrderStatus(raw)


def _lines(raw: str, products: dict[tuple[str, int], _Product]) -> tuple[Line, ...]:
    """The order's lines from the read's JSON array, by id, each with its product."""
    lines = json.loads(raw)
    lines.sort()  # each line is a list that starts with its (unique) id
    found = []
    for (line_id, kind, product_id, description, quantity, used, last_at, last_station,
         times) in lines:  # fmt: skip
        product = products.get((kind, product_id), _NO_PRODUCT)
        rules = product.rules
        if isinstance(rules, str):
            raise ConfigurationError(rules)
        last_used_at = from_text(last_at) if last_at else None
        if kind == "addon":
            used_times = _times(times) if times else ()
        else:  # a ticket's units are not redeemed
            kind, used, used_times = "ticket", 0, ()
        found.append(
            Line(line_id, kind, product_id, product.slug, product.name, description, quantity,
                 used, last_used_at, last_station or "", product.attention, rules, used_times)
        )  # fmt: skip
    return tuple(found)


_INSIDE = (
    "SELECT count(*) FROM (SELECT direction, row_number() OVER"
    " (PARTITION BY attendee_id ORDER BY at DESC, id DESC) AS rank"
    " FROM door WHERE kind = ? AND product_id = ? AND (? IS NULL OR at > ?))"
    " WHERE rank = 1 AND direction = 'in'"
)
"""How many are inside a door's room: people whose last scan since the clear is an entry
(as ``rooms.inside_query`` counts online)."""


def _in_chunks(ids: list[int]) -> Iterator[tuple[list[int], str]]:
    """``ids`` in pieces SQLite takes as one statement's parameters, with their ``?`` marks."""
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        yield chunk, ",".join("?" * len(chunk))


def _cleared(conn: sqlite3.Connection, kind: ProductKind, product_id: int) -> str | None:
    row = conn.execute(
        "SELECT max(at) FROM door_clear WHERE kind = ? AND product_id = ?", (kind, product_id)
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _direction(raw: object) -> Direction:
    return "out" if raw == "out" else "in"


@lru_cache(maxsize=1024)
def _rules(
    daily_limit: object, hours: object, dates: object, reentry: object, capacity: object
) -> ProductRules:
    """The rule book's rules from the stored columns (as the online stores read them)."""
    try:
        return ProductRules.from_columns(
            None if daily_limit is None else int(daily_limit),  # type: ignore[call-overload]
            None if hours is None else str(hours),
            None if dates is None else str(dates),
            None if reentry is None else str(reentry),
            None if capacity is None else int(capacity),  # type: ignore[call-overload]
        )
    except RuleSyntaxError as error:
        raise ConfigurationError(f"A product's rules cannot be read: {error}") from None


def _times(raw: object) -> tuple[datetime, ...]:
    return tuple(from_text(part) for part in str(raw or "").split(",") if part)


def _drop_other_version(conn: sqlite3.Connection) -> None:
    """A snapshot written by another version of this code is dropped whole (a cache)."""
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if has_meta is None:
        return
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is not None and str(row[0]) == SCHEMA_VERSION:
        return
    for table in _TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _opt_time(at: datetime | None) -> str | None:
    return None if at is None else to_text(at)


class SnapshotWriter:
    """Writes of one sync transaction (see ``Snapshot.writing``)."""

    def __init__(self, conn: sqlite3.Connection, *, tracking: bool) -> None:
        self._conn = conn
        # What the holders in memory must drop when this commits (``Snapshot.hold``); read
        # only while ``tracking`` (the snapshot holds them).
        self._tracking = tracking
        self.everything = False
        self.products_changed = False
        self.ids: set[int] = set()
        self.codes: set[str] = set()
        self._orders: set[int] = set()

    def note_orders(self) -> None:
        """The holders of the orders whose lines were written (read before the commit)."""
        orders = [] if self.everything or not self._tracking else sorted(self._orders)
        for chunk, marks in _in_chunks(orders):
            for attendee_id, code in self._conn.execute(
                f"SELECT id, access_code FROM attendee WHERE order_id IN ({marks})", chunk
            ):
                self.ids.add(int(attendee_id))
                self.codes.add(str(code))

    def clear(self) -> None:
        self.everything = True
        for table in _TABLES:
            self._conn.execute(f"DELETE FROM {table}")

    def set_meta(self, values: dict[str, str]) -> None:
        self._conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def products(self, rows: Iterable[ProductRow]) -> None:
        new = sorted(
            (
                p.kind,
                p.id,
                p.slug,
                p.name,
                p.attention,
                p.daily_limit,
                p.open_hours,
                p.valid_dates,
                p.reentry,
                p.capacity,
            )
            for p in rows
        )
        if self._tracking and not self.products_changed:
            old = self._conn.execute(f"SELECT {_PRODUCT_COLUMNS} FROM product ORDER BY kind, id")
            self.products_changed = [tuple(r) for r in old] != new
        self._conn.execute("DELETE FROM product")
        self._conn.executemany(
            f"INSERT INTO product ({_PRODUCT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", new
        )

    def attendees(self, rows: Iterable[AttendeeRow]) -> None:
        rows = list(rows)
        self.ids.update(a.id for a in rows)
        self.codes.update(a.access_code for a in rows)
        self._conn.executemany(
            "INSERT OR REPLACE INTO attendee (id, access_code, first_name, last_name, username,"
            " email, order_id, order_status, order_reference, order_attention, checked_in_at,"
            " entries, first_at, first_station, first_staff, versions, records)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    a.id,
                    a.access_code,
                    a.first_name,
                    a.last_name,
                    a.username,
                    a.email,
                    a.order_id,
                    a.order_status,
                    a.order_reference,
                    a.order_attention,
                    _opt_time(a.checked_in_at),
                    a.entries,
                    _opt_time(a.first_at),
                    a.first_station,
                    a.first_staff,
                    ",".join(str(v) for v in sorted(a.versions)),
                    ",".join(str(v) for v in a.records),
                )
                for a in rows
            ],
        )

    def staff(self, members: Iterable[StaffMember]) -> None:
        self._conn.execute("DELETE FROM staff")
        self._conn.executemany(
            "INSERT INTO staff (id, name, has_pin) VALUES (?, ?, ?)",
            [(m.id, m.name, int(m.has_pin)) for m in members],
        )

    def replace_lines(self, order_ids: Iterable[int], rows: Iterable[LineRow]) -> None:
        """The lines of ``order_ids`` become ``rows`` (lines gone from an order go)."""
        ids = list(order_ids)
        self._orders.update(ids)
        for chunk, marks in _in_chunks(ids):
            self._conn.execute(f"DELETE FROM line WHERE order_id IN ({marks})", chunk)
        self.lines(rows)

    def lines(self, rows: Iterable[LineRow]) -> None:
        rows = list(rows)
        self._orders.update(li.order_id for li in rows)
        # A line written again may move to another order: its old order's holder changes too.
        moved = [] if self.everything or not self._tracking else [li.id for li in rows]
        for chunk, marks in _in_chunks(moved):
            for (order_id,) in self._conn.execute(
                f"SELECT DISTINCT order_id FROM line WHERE id IN ({marks})", chunk
            ):
                self._orders.add(int(order_id))
        self._conn.executemany(
            "INSERT OR REPLACE INTO line (id, order_id, kind, product_id, description, quantity,"
            " used, last_used_at, last_station, used_times)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    li.id,
                    li.order_id,
                    li.kind,
                    li.product_id,
                    li.description,
                    li.quantity,
                    li.used,
                    _opt_time(li.last_used_at),
                    li.last_station,
                    ",".join(to_text(at) for at in li.used_times),
                )
                for li in rows
            ],
        )

    def replace_doors(self, attendee_ids: Iterable[int], rows: Iterable[DoorRow]) -> None:
        """The door scans of ``attendee_ids`` become ``rows`` (a voided one goes)."""
        ids = list(attendee_ids)
        for chunk, marks in _in_chunks(ids):
            self._conn.execute(f"DELETE FROM door WHERE attendee_id IN ({marks})", chunk)
        self.doors(rows)

    def doors(self, rows: Iterable[DoorRow]) -> None:
        self._conn.executemany(
            "INSERT OR REPLACE INTO door (id, attendee_id, kind, product_id, at, direction)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(d.id, d.attendee_id, d.kind, d.product_id, to_text(d.at), d.direction) for d in rows],
        )

    def clears(self, rows: Iterable[ClearRow]) -> None:
        """Doors' "everyone out" records (append-only: one seen again is the same)."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO door_clear (id, kind, product_id, at) VALUES (?, ?, ?, ?)",
            [(c.id, c.kind, c.product_id, to_text(c.at)) for c in rows],
        )
