"""Replaying the journal into the database, exactly once, and saying what it cost.

Entries go in journal order, each with its original client id, product and
station time, through the same services and database guards as a live scan.
A scan already recorded (the answer of an earlier replay was lost) is found by
its client id and not recorded again. A scan accepted offline that the server
refuses now is recorded as an offline overspend or conflict (the rule book
says which), so the organiser learns what the outage cost and to whom. A
refusal decided offline goes to the scan log with the station's time.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from station.offline.journal import Journal, JournalEntry, ReplayResult
from station.rulebook import ScanRequest
from station.rulebook.rules import replay_refusal_kind
from station.services.base import ServiceBase
from station.services.errors import DatabaseUnavailable, Reason, Refusal, StationError
from station.services.results import StationContext
from station.services.store import ConflictReport

log = logging.getLogger("station.offline")


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    recorded: int = 0
    logged: int = 0
    overspends: int = 0
    conflicts: int = 0
    waiting: int = 0
    """Entries still waiting (the database went away again mid-replay)."""

    @property
    def replayed(self) -> int:
        return self.recorded + self.logged + self.overspends + self.conflicts


class Replayer:
    """Sends one station's waiting journal entries through ``services``."""

    def __init__(
        self,
        journal: Journal,
        services: ServiceBase,
        clock: Callable[[], datetime],
        *,
        on_conflict: Callable[[JournalEntry, Refusal], None] | None = None,
    ) -> None:
        self._journal = journal
        self._services = services
        self._clock = clock
        self._on_conflict = on_conflict

    def replay(self, *, batch: int = 2000, lanes: int = 4) -> ReplayOutcome:
        """Everything waiting; stops (DatabaseUnavailable) if the database goes.

        Entries go in ``lanes`` parallel lanes, one connection each; all entries of
        one attendee go in the same lane, in journal order, so what depends on order
        (a first check-in, the last unit of a lunch) is decided as it happened. A door
        scan goes in its door's lane instead (all scans of one door in journal order):
        a room's inside count depends on everyone's entries and exits, and a door
        decides nothing from a holder's check-ins or redemptions. What
        became of each entry is marked in the journal a batch at a time (one fsync
        per batch, not per scan); the marks made are kept when it stops.
        """
        counts = {"recorded": 0, "logged": 0, "overspend": 0, "conflict": 0}
        while True:
            waiting = self._journal.waiting(batch)
            if not waiting:
                break
            by_lane: dict[int, list[JournalEntry]] = {}
            for entry in waiting:
                by_lane.setdefault(_lane_of(entry, lanes), []).append(entry)
            marks: list[tuple[int, ReplayResult, datetime, str]] = []
            lock = threading.Lock()
            try:
                with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="replay") as pool:
                    done = [
                        pool.submit(self._lane, entries, marks, counts, lock)
                        for entries in by_lane.values()
                    ]
                for future in done:
                    future.result()  # the first lane's failure, once every lane stopped
            finally:
                self._journal.mark_many(marks)
        return ReplayOutcome(
            counts["recorded"], counts["logged"], counts["overspend"], counts["conflict"], 0
        )

    def _lane(
        self,
        entries: list[JournalEntry],
        marks: list[tuple[int, ReplayResult, datetime, str]],
        counts: dict[str, int],
        lock: threading.Lock,
    ) -> None:
        for entry in entries:
            result, detail = self._send(entry)
            with lock:
                marks.append((entry.seq, result, self._clock(), detail))
                counts[result] += 1

    def replay_one(self, entry: JournalEntry) -> str:
        """One entry, marked at once (tests; ``replay`` batches its marks)."""
        result, detail = self._send(entry)
        self._journal.mark(entry.seq, result, self._clock(), detail)
        return result

    def _send(self, entry: JournalEntry) -> tuple[ReplayResult, str]:
        ctx = StationContext(entry.conference, entry.station, entry.staff_id)
        if entry.outcome == "refused":
            error = Refusal(entry.message or "refused offline", reason=_reason(entry.reason))
            error.attendee_id = entry.attendee_id
            self._services.replay_refusal(ctx, entry.action, entry.code, error, entry.client_at)
            return "logged", ""
        request = ScanRequest(
            entry.action,  # type: ignore[arg-type]
            entry.code,
            entry.client_id,
            # a meal line's scan names its product (the server picks the line), a picker's its line
            product=entry.product,
            line_item_id=entry.line_item_id if entry.product is None else None,
            note=entry.note,
            client_at=entry.client_at,
            direction=entry.direction,
        )
        try:
            self._services.replay_scan(ctx, request)
        except DatabaseUnavailable:
            raise
        except StationError as refused:  # a refusal, or a product the server no longer has
            return self._conflict(ctx, entry, refused), refused.message[:300]
        return "recorded", ""

    def _conflict(
        self, ctx: StationContext, entry: JournalEntry, refused: StationError
    ) -> ReplayResult:
        kind = replay_refusal_kind(refused.reason)
        self._services.record_conflict(
            ctx,
            ConflictReport(
                client_id=entry.client_id,
                kind="overspend" if kind == "overspend" else "conflict",
                action=entry.action,
                code=entry.code,
                attendee_id=refused.attendee_id or entry.attendee_id,
                line_item_id=entry.line_item_id,
                staff_id=entry.staff_id,
                client_at=entry.client_at,
                reason=str(refused.reason),
                message=refused.message[:300],
            ),
        )
        result: ReplayResult = "overspend" if kind == "overspend" else "conflict"
        log.warning("offline %s on replay at %s: %s", result, entry.station, refused.reason)
        if self._on_conflict is not None and isinstance(refused, Refusal):
            self._on_conflict(entry, refused)
        return result


def _lane_of(entry: JournalEntry, lanes: int) -> int:
    """A door scan's lane is its door's; any other scan's its attendee's."""
    if entry.action == "door" and entry.product:
        return zlib.crc32(entry.product.encode()) % lanes
    return (entry.attendee_id or 0) % lanes


def _reason(raw: str) -> Reason:
    try:
        return Reason(raw)
    except ValueError:
        return Reason.INVALID_INPUT
