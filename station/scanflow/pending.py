"""Scans whose outcome is unknown, kept on disk until an answer confirms them.

When a write's answer is lost (the connection dropped, the server went away,
a timeout), the write may or may not have committed. The scan keeps its client
id until an answer arrives: a rescan of the same code at this station, after
a restart too, sends the same id, so the services replay the original instead
of writing a second check-in or redeeming a second unit.

The file is rewritten whole (temporary file, fsync, rename, fsync of the
directory) under an exclusive lock, so two processes of the same station (two
SSH sessions with one configuration) merge their changes instead of losing
one, and a power cut leaves either the old or the new file, never half of one.
A write is noted before it leaves in a small file of its own process
(``<station>.inflight-<pid>``: no lock, no merge, no fsync; that outlives a
crash or a kill -9, at about a tenth of a millisecond) and forgotten when its
answer comes; the next start of the station takes the notes of processes that
are gone in as pending. A write whose answer does not come is merged into the
pending file and synced before the station shows "NOT RECORDED", so a power cut
keeps it too.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger("station.pending")

KEEP_FOR = timedelta(hours=24)
"""A pending scan older than this is dropped: its day at the event is over."""
REPLAY_WINDOW = timedelta(minutes=2)
"""A pending scan found recorded still answers a rescan this long (the volunteer scans
again after "not recorded"); after that the same code is a new scan (a second voucher)."""
_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class PendingSaveFailed(Exception):
    """The pending scan could not be made durable (disk full, read-only, gone)."""


@dataclass(frozen=True, slots=True)
class PendingScan:
    """One unconfirmed write: the same ``key`` scanned again reuses ``client_id``."""

    client_id: str
    conference: str
    action: str
    """checkin, redeem or door."""
    target: str
    """The product, ``line:<id>`` for a picker's choice, or "" for a check-in."""
    code: str
    first_at: str
    """When it was first scanned (ISO 8601, UTC)."""
    recorded_at: str | None = None
    """When the station learnt that the write had reached the database after all."""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.conference, self.action, self.target, self.code)

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self.client_id)

    def started(self) -> datetime:
        return datetime.fromisoformat(self.first_at)

    def current(self, now: datetime) -> bool:
        """Still to be answered by a rescan: unknown for a day, recorded for a moment."""
        if self.recorded_at is not None:
            return now - datetime.fromisoformat(self.recorded_at) < REPLAY_WINDOW
        return now - self.started() < KEEP_FOR


def file_for(directory: Path, station: str) -> Path:
    """One file per station name, safe whatever the name holds.

    A name that had to be changed (or shortened) gets a digest of the real one, so
    two stations whose names differ only in unsafe characters ("日本", "中国") do not
    share a file and continue each other's scans.
    """
    name = _UNSAFE.sub("_", station).strip("._-")[:64]
    if not name or name != station:
        digest = hashlib.sha256(station.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        name = f"{name or 'station'}-{digest}"
    return directory / f"{name}.json"


class PendingScans:
    """The pending scans of one station; ``path`` None keeps them in memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, PendingScan] = {}
        self._in_flight: dict[str, PendingScan] = {}
        self._in_flight_file = (
            None if path is None else path.with_name(f"{path.stem}.inflight-{os.getpid()}")
        )
        # The scan worker adds entries while the UI thread looks them up.
        self._lock = threading.RLock()

    def load(self, now: datetime) -> None:
        """Read what an earlier run left; a damaged file is set aside, never fatal.

        A file that can be read is used even where nothing can be written (no lock
        file, no room to drop old entries): forgetting a readable pending scan would
        turn its rescan into a second write.
        """
        if self.path is None:
            return
        with self._lock:
            try:
                with self._locked():
                    entries = self._read()
                    orphans = self._orphans()
                    known = {e.client_id for e in entries}
                    entries += [e for e in orphans.values() if e.client_id not in known]
                    current = [e for e in entries if e.current(now)]
                    if orphans or len(current) != len(entries):
                        self._write(current)  # synced before the in-flight files go
                    self._drop_orphan_files()
            except OSError as error:
                log.warning("cannot lock or tidy pending scans in %s: %s", self.path, error)
                try:
                    current = [e for e in self._read() if e.current(now)]
                except OSError as unreadable:
                    log.error("cannot read pending scans from %s: %s", self.path, unreadable)
                    current = []
            self._entries = {e.client_id: e for e in current}

    def note_in_flight(self, entry: PendingScan) -> None:
        """A write about to leave, kept until :meth:`forget_in_flight` in one small file of
        this process: no lock, no merge, no fsync (a crash or a kill -9 leaves it in the
        kernel's hands, which is enough); the next start takes it in as pending."""
        with self._lock:
            self._in_flight[entry.client_id] = entry
            self._write_in_flight()

    def forget_in_flight(self, client_id: str) -> None:
        with self._lock:
            if self._in_flight.pop(client_id, None) is not None:
                self._write_in_flight()

    def _write_in_flight(self) -> None:
        target = self._in_flight_file
        if target is None:
            return
        try:
            if not self._in_flight:
                with contextlib.suppress(FileNotFoundError):
                    os.truncate(target, 0)  # empty: nothing on its way
                return
            body = json.dumps(
                {"version": _VERSION, "pending": [asdict(e) for e in self._in_flight.values()]}
            )
            try:
                target.write_text(body, encoding="utf-8")
            except FileNotFoundError:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(body, encoding="utf-8")
        except OSError as error:
            log.warning("cannot note a scan on its way in %s: %s", target, error)

    def _orphan_files(self) -> list[Path]:
        """In-flight files of station processes that are gone (this one's pid included:
        a process that had it before us ended)."""
        assert self.path is not None
        found = []
        for candidate in self.path.parent.glob(f"{glob.escape(self.path.stem)}.inflight-*"):
            pid = candidate.name.rpartition("-")[2]
            if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
                found.append(candidate)
        return found

    def _orphans(self) -> dict[str, PendingScan]:
        entries: dict[str, PendingScan] = {}
        for orphan in self._orphan_files():
            try:
                raw = orphan.read_bytes()
                for entry in _parse(raw) if raw.strip() else []:
                    entries[entry.client_id] = entry
            except (OSError, ValueError) as error:
                log.error("cannot read the scans on their way in %s: %s", orphan, error)
        return entries

    def _drop_orphan_files(self) -> None:
        for orphan in self._orphan_files():
            with contextlib.suppress(OSError):
                orphan.unlink()

    def find(self, key: tuple[str, str, str, str], now: datetime) -> PendingScan | None:
        """The pending scan a new scan of ``key`` at ``now`` continues, if any."""
        with self._lock:
            for entry in self._entries.values():
                if entry.key == key and entry.current(now):
                    return entry
        return None

    def entries(self) -> tuple[PendingScan, ...]:
        with self._lock:
            return tuple(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, client_id: str) -> PendingScan | None:
        with self._lock:
            return self._entries.get(client_id)

    def add(self, entry: PendingScan, *, sync: bool = True) -> None:
        """Keep ``entry``; PendingSaveFailed if the disk would not take it.

        ``sync``: on the disk itself before returning (fsync), so a power cut keeps it;
        without, in the file as the kernel holds it, which outlives a crash or kill -9.
        """
        with self._lock:
            self._entries[entry.client_id] = entry
            self._save(add=entry, sync=sync)

    def mark_recorded(self, client_id: str, at: datetime) -> None:
        """The write was found in the database: a rescan in the next moments replays it.

        One past its day is forgotten instead: marking it would make it current again,
        beside a newer pending scan of the same code that a rescan must continue.
        """
        with self._lock:
            entry = self._entries.get(client_id)
            if entry is None:
                return
            if not entry.current(at):
                self.remove(client_id)
                return
            entry = replace(entry, recorded_at=at.astimezone(UTC).isoformat())
            self._entries[client_id] = entry
        try:
            with self._lock:
                self._save(add=entry)
        except PendingSaveFailed as error:
            log.warning("cannot note confirmed scan %s: %s", client_id, error)

    def remove(self, client_id: str) -> None:
        """Forget a confirmed scan (best effort: a stale entry only costs a replay)."""
        with self._lock:
            if self._entries.pop(client_id, None) is None:
                return
        try:
            with self._lock:
                self._save(remove=client_id, sync=False)
        except PendingSaveFailed as error:
            log.warning("cannot forget confirmed scan %s: %s", client_id, error)

    def _save(
        self, *, add: PendingScan | None = None, remove: str | None = None, sync: bool = True
    ) -> None:
        if self.path is None:
            return
        try:
            with self._locked():
                merged = {e.client_id: e for e in self._read()}
                if add is not None:
                    merged[add.client_id] = add
                if remove is not None:
                    merged.pop(remove, None)
                self._write(list(merged.values()), sync=sync)
        except OSError as error:
            raise PendingSaveFailed(f"{self.path}: {error.strerror or error}") from error

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _read(self) -> list[PendingScan]:
        assert self.path is not None
        try:
            raw = self.path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return []
        try:
            return _parse(raw)
        except ValueError as error:
            aside = self.path.with_name(f"{self.path.name}.damaged-{os.getpid()}")
            try:
                os.replace(self.path, aside)
            except OSError as stuck:
                log.error("pending scans file %s is damaged (%s): %s", self.path, error, stuck)
            else:
                message = "pending scans file %s is damaged (%s); moved to %s"
                log.error(message, self.path, error, aside)
            return []

    def _write(self, entries: list[PendingScan], *, sync: bool = True) -> None:
        assert self.path is not None
        body = json.dumps({"version": _VERSION, "pending": [asdict(e) for e in entries]}, indent=1)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "w", encoding="utf-8") as out:
                out.write(body)
                out.flush()
                if sync:
                    os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()  # a full disk is not made fuller by each attempt
            raise
        if not sync:
            return
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


_REQUIRED = frozenset({"client_id", "conference", "action", "target", "code", "first_at"})
_FIELDS = _REQUIRED | {"recorded_at"}


def _parse(raw: bytes) -> list[PendingScan]:
    """The entries in a file's bytes; ValueError for anything ``_write`` would not make.

    Checked to the last field, so a damaged file fails here, where it is set aside,
    and never later in ``find`` or ``load`` (a crash at start-up or on a scan).
    """
    try:
        data = json.loads(raw)
    except RecursionError as error:
        raise ValueError("nested too deeply") from error
    if not isinstance(data, dict) or not isinstance(data.get("pending"), list):
        raise ValueError("no list of pending scans")
    return [_entry(item) for item in data["pending"]]


def _entry(item: object) -> PendingScan:
    if not isinstance(item, dict) or not _REQUIRED <= item.keys() <= _FIELDS:
        raise ValueError("an entry without the fields of a pending scan")
    texts = {name: _text(item, name) for name in _REQUIRED}
    recorded_at = None if item.get("recorded_at") is None else _text(item, "recorded_at")
    entry = PendingScan(**texts, recorded_at=recorded_at)
    uuid.UUID(entry.client_id)
    for stamp in (entry.first_at, recorded_at):
        if stamp is not None and datetime.fromisoformat(stamp).utcoffset() is None:
            raise ValueError(f"a time without its zone: {stamp!r}")
    return entry


def _text(item: dict[object, object], name: str) -> str:
    value = item[name]
    if not isinstance(value, str):
        raise ValueError(f"{name} is not text")
    return value
