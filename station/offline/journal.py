"""The offline journal: every scan decided without the database, kept until replayed.

A SQLite file of its own, in WAL mode with ``synchronous=FULL``: an entry is on
disk (fsynced) when ``append`` returns, before the verdict is shown, so a
crash, a ``kill -9`` or a power cut loses nothing that a volunteer saw. Entries
are append-only (triggers refuse UPDATE and DELETE); what became of an entry
on replay is a row of its own in ``replay``, also append-only, one per entry.
The snapshot is a cache that may be thrown away; the journal never is.

A journal written by an older version still opens: a column added since
(``direction``, a door scan's entry or exit) is added with its default on open.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from station.rulebook.event_rules import Direction
from station.services.errors import DatabaseUnavailable

Outcome = Literal["accepted", "refused"]
ReplayResult = Literal["recorded", "logged", "overspend", "conflict"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL UNIQUE,
    conference TEXT NOT NULL,
    station TEXT NOT NULL,
    staff_id INTEGER,
    action TEXT NOT NULL,
    code TEXT NOT NULL,
    product TEXT,
    line_item_id INTEGER,
    product_id INTEGER,
    attendee_id INTEGER,
    client_at TEXT NOT NULL,
    outage_since TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'refused')),
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    direction TEXT NOT NULL DEFAULT 'in'
);
CREATE INDEX IF NOT EXISTS entry_attendee ON entry (attendee_id);
CREATE INDEX IF NOT EXISTS entry_door ON entry (action, product);
CREATE INDEX IF NOT EXISTS entry_outage_product ON entry (outage_since, product_id);
CREATE TABLE IF NOT EXISTS replay (
    seq INTEGER PRIMARY KEY REFERENCES entry (seq),
    at TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS outage (
    since TEXT PRIMARY KEY,
    ended TEXT
);
CREATE TRIGGER IF NOT EXISTS entry_append_only_update BEFORE UPDATE ON entry
BEGIN SELECT RAISE(ABORT, 'the offline journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entry_append_only_delete BEFORE DELETE ON entry
BEGIN SELECT RAISE(ABORT, 'the offline journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS replay_append_only_update BEFORE UPDATE ON replay
BEGIN SELECT RAISE(ABORT, 'the offline journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS replay_append_only_delete BEFORE DELETE ON replay
BEGIN SELECT RAISE(ABORT, 'the offline journal is append-only'); END;
"""

NOT_WRITTEN = (
    "The station could not write its offline journal — scan NOT recorded, tell a supervisor."
)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    client_id: uuid.UUID
    conference: str
    station: str
    staff_id: int | None
    action: str
    code: str
    product: str | None
    line_item_id: int | None
    product_id: int | None
    attendee_id: int | None
    client_at: datetime
    outage_since: datetime
    outcome: Outcome
    reason: str
    message: str
    note: str = ""
    direction: Direction = "in"
    replayed: ReplayResult | None = None
    replayed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewEntry:
    """What the offline store journals for one scan (``seq`` and replay come later)."""

    client_id: uuid.UUID
    conference: str
    station: str
    staff_id: int | None
    action: str
    code: str
    product: str | None
    line_item_id: int | None
    product_id: int | None
    attendee_id: int | None
    client_at: datetime
    outage_since: datetime
    outcome: Outcome
    reason: str
    message: str
    note: str = ""
    direction: Direction = "in"
    """A door scan's entry ("in") or exit ("out"); "in" for every other scan."""


def to_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(raw: str) -> datetime:
    return datetime.fromisoformat(raw)


class Journal:
    """One station's offline journal file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as conn:
            _add_new_columns(conn)
            conn.executescript(_SCHEMA)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        yield conn

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- writing --------------------------------------------------------------

    def append(self, new: NewEntry) -> int | None:
        """Write one entry durably; its seq, or None if the client id is already journaled.

        Raises DatabaseUnavailable (worded for a volunteer) when the write fails:
        the verdict must then be "not recorded", never an unsaved "done".
        """
        try:
            with self._connection() as conn:
                cursor = conn.execute(
                    "INSERT INTO entry (client_id, conference, station, staff_id, action, code,"
                    " product, line_item_id, product_id, attendee_id, client_at, outage_since,"
                    " outcome, reason, message, note, direction)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (client_id) DO NOTHING",
                    (
                        str(new.client_id),
                        new.conference,
                        new.station,
                        new.staff_id,
                        new.action,
                        new.code,
                        new.product,
                        new.line_item_id,
                        new.product_id,
                        new.attendee_id,
                        to_text(new.client_at),
                        to_text(new.outage_since),
                        new.outcome,
                        new.reason,
                        new.message,
                        new.note,
                        new.direction,
                    ),
                )
                return cursor.lastrowid if cursor.rowcount == 1 else None
        except sqlite3.Error as exc:
            raise DatabaseUnavailable(NOT_WRITTEN) from exc

    def mark(self, seq: int, result: ReplayResult, at: datetime, detail: str = "") -> None:
        """What replay did with entry ``seq`` (once; a second mark is ignored)."""
        self.mark_many([(seq, result, at, detail)])

    def mark_many(self, marks: list[tuple[int, ReplayResult, datetime, str]]) -> None:
        """Several marks in one transaction (one fsync): replay writes them in batches.

        A mark lost to a crash costs nothing but a second replay of its entry, which
        the database recognises by the client id.
        """
        if not marks:
            return
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO replay (seq, at, result, detail) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (seq) DO NOTHING",
                    [(seq, to_text(at), result, detail) for seq, result, at, detail in marks],
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def begin_outage(self, at: datetime) -> datetime:
        """The start of the outage in progress (kept across restarts), opened at ``at`` if none."""
        with self._connection() as conn:
            row = conn.execute("SELECT since FROM outage WHERE ended IS NULL").fetchone()
            if row is not None:
                return from_text(row[0])
            conn.execute("INSERT INTO outage (since) VALUES (?)", (to_text(at),))
            return at

    def end_outage(self, at: datetime) -> None:
        with self._connection() as conn:
            conn.execute("UPDATE outage SET ended = ? WHERE ended IS NULL", (to_text(at),))

    def current_outage(self) -> datetime | None:
        with self._connection() as conn:
            row = conn.execute("SELECT since FROM outage WHERE ended IS NULL").fetchone()
        return None if row is None else from_text(row[0])

    # -- reading --------------------------------------------------------------

    _COLUMNS = (
        "e.seq, e.client_id, e.conference, e.station, e.staff_id, e.action, e.code, e.product,"
        " e.line_item_id, e.product_id, e.attendee_id, e.client_at, e.outage_since, e.outcome,"
        " e.reason, e.message, e.note, e.direction, r.result, r.at"
    )

    def _entries(
        self, where: str, params: tuple[object, ...], limit: int = -1
    ) -> list[JournalEntry]:
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {self._COLUMNS} FROM entry e LEFT JOIN replay r ON r.seq = e.seq"
                f" WHERE {where} ORDER BY e.seq LIMIT {int(limit)}",
                params,
            ).fetchall()
        return [_entry(row) for row in rows]

    def find(self, client_id: uuid.UUID) -> JournalEntry | None:
        found = self._entries("e.client_id = ?", (str(client_id),))
        return found[0] if found else None

    def waiting(self, limit: int = 1000) -> list[JournalEntry]:
        """Entries not replayed yet, oldest first."""
        return self._entries("r.seq IS NULL", (), limit)

    def waiting_count(self) -> int:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM entry e LEFT JOIN replay r ON r.seq = e.seq"
                " WHERE r.seq IS NULL"
            ).fetchone()
        return int(row[0])

    def entries(self) -> list[JournalEntry]:
        return self._entries("1 = 1", ())

    def unsynced_uses(self, attendee_id: int, synced_at: datetime | None) -> list[JournalEntry]:
        """This station's accepted offline scans of an attendee the snapshot cannot know yet:
        not replayed, or replayed after the snapshot last read the server."""
        if synced_at is None:
            return self._entries("e.attendee_id = ? AND e.outcome = 'accepted'", (attendee_id,))
        return self._entries(
            "e.attendee_id = ? AND e.outcome = 'accepted' AND (r.seq IS NULL OR r.at > ?)",
            (attendee_id, to_text(synced_at)),
        )

    def unsynced_door_scans(self, product: str, synced_at: datetime | None) -> list[JournalEntry]:
        """This station's accepted offline scans at a door (its product as journaled) that
        the snapshot cannot know yet, everyone's, oldest first: the room's count needs them."""
        where = "e.action = 'door' AND e.product = ? AND e.outcome = 'accepted'"
        if synced_at is None:
            return self._entries(where, (product,))
        return self._entries(
            where + " AND (r.seq IS NULL OR r.at > ?)", (product, to_text(synced_at))
        )

    def redeemed_in_outage(self, since: datetime, product_id: int) -> int:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM entry WHERE outage_since = ? AND action = 'redeem'"
                " AND outcome = 'accepted' AND product_id = ?",
                (to_text(since), product_id),
            ).fetchone()
        return int(row[0])

    def results(self) -> dict[str, int]:
        """How many entries ended how ("waiting" for those not replayed yet)."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT coalesce(r.result, 'waiting'), count(*) FROM entry e"
                " LEFT JOIN replay r ON r.seq = e.seq GROUP BY 1"
            ).fetchall()
        return {str(result): int(count) for result, count in rows}


def _add_new_columns(conn: sqlite3.Connection) -> None:
    """Bring a journal file of an older version up to this one's columns (never drops)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entry'"
    ).fetchone()
    if exists is None:
        return  # a new file: the schema creates it whole
    have = {str(row[1]) for row in conn.execute("PRAGMA table_info(entry)")}
    if "direction" not in have:
        try:
            conn.execute("ALTER TABLE entry ADD COLUMN direction TEXT NOT NULL DEFAULT 'in'")
        except sqlite3.OperationalError as exc:  # another process added it meanwhile
            if "duplicate column" not in str(exc):
                raise


def _entry(row: tuple[object, ...]) -> JournalEntry:
    (seq, client_id, conference, station, staff_id, action, code, product, line_item_id,
     product_id, attendee_id, client_at, outage_since, outcome, reason, message, note,
     direction, result, replayed_at) = row  # fmt: skip
    return JournalEntry(
        seq=int(seq),  # type: ignore[call-overload]
        client_id=uuid.UUID(str(client_id)),
        conference=str(conference),
        station=str(station),
        staff_id=None if staff_id is None else int(staff_id),  # type: ignore[call-overload]
        action=str(action),
        code=str(code),
        product=None if product is None else str(product),
        line_item_id=None if line_item_id is None else int(line_item_id),  # type: ignore[call-overload]
        product_id=None if product_id is None else int(product_id),  # type: ignore[call-overload]
        attendee_id=None if attendee_id is None else int(attendee_id),  # type: ignore[call-overload]
        client_at=from_text(str(client_at)),
        outage_since=from_text(str(outage_since)),
        outcome="accepted" if outcome == "accepted" else "refused",
        reason=str(reason),
        message=str(message),
        note=str(note),
        direction="out" if direction == "out" else "in",
        replayed=None if result is None else result,  # type: ignore[arg-type]
        replayed_at=None if replayed_at is None else from_text(str(replayed_at)),
    )
