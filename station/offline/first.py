"""The PostgreSQL store, deciding on the station's snapshot first: one round trip.

Every PostgreSQL station with offline mode on (the default there) keeps a snapshot
of its conference, kept current by the offline keeper. A scan's first try takes its facts from
there, the rule book decides, and only the guarded write goes to the server, with
its premises: the records it saw (first entry, units used, scans at the door) and
the versions of every row it read (migration 0020). The write checks both under the
attendee's lock; if the snapshot was behind it writes nothing and answers 'stale'.
Anything the snapshot cannot answer for sure goes to ``PgStore``'s read as before:

- a refusal (the snapshot may be behind on something that would allow the scan):
  the try is not final, and the services read the facts and decide again, so every
  refusal shown is decided on the database's facts and logged with them;
- a stale premise, a guard's refusal of the write, or a client id already used (a
  retry whose first answer was lost): nothing was written; read and decide again;
- a badge the snapshot does not know, a snapshot older than ``max_age``, a replayed
  offline scan, a badge this station wrote for
  since the snapshot's last sync (its own write is not in the copy yet), and the
  first scan after start (the server's clock is not known yet).

The decision's "now" is the station's clock, as offline. It is used only while it
agrees with the server's recording clock (station_now(), compared on every answer)
within two seconds, so opening hours and days are judged as on the read path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from station.offline.journal import from_text
from station.offline.snapshot import Premise, Snapshot
from station.rulebook import Accept, ScanFacts, ScanRequest
from station.rulebook.facts import ProductKind, RecordKind, ScanRecord, Target, VoidRequest
from station.services.errors import DatabaseUnavailable, StationError
from station.services.results import StationContext
from station.services.store import ConferenceRef, ConflictReport, Recorded, VoidAttempt
from station.services.store_pg import PgAttempt, PgStore

Clock = Callable[[], datetime]
log = logging.getLogger("station.offline")

_CHECK_VIOLATION = "23514"  # a guarded function's RAISE ... check_violation
# Not doors: a door's answer shows how many are inside, others' records no premise covers.
_ACTIONS = frozenset({"checkin", "redeem"})
# How far the station's clock may be from the server's recording clock for a decision
# on it: NTP keeps a venue's machines within milliseconds; a demo clock the server does
# not follow (a station role's), or a clock that is simply wrong, sends scans to the read.
_MAX_SKEW = timedelta(seconds=2)


class SnapshotFirstStore:
    """``PgStore`` whose scans try the snapshot's facts first (see the module)."""

    def __init__(
        self, pg: PgStore, snapshot: Snapshot, clock: Clock, *, max_age: timedelta
    ) -> None:
        self.pg = pg
        self.snapshot = snapshot
        self._clock = clock  # the sync's clock: its synced_at and our writes compare
        self._max_age = max_age
        self._lock = threading.Lock()
        self._tried: dict[Any, None] = {}  # client ids whose snapshot try is spent (FIFO)
        self._written: dict[int, datetime] = {}  # attendee -> our last write (sync clock)
        self._copy: _CopyState | None = None
        self.first_tries = 0
        self.first_tries_recorded = 0

    # Everything but the scan's attempt is PgStore's.
    def conference(self, slug: str) -> ConferenceRef:
        return self.pg.conference(slug)

    def log_refusal(
        self,
        ctx: StationContext,
        action: str,
        code: str,
        error: StationError,
        *,
        client_at: datetime | None = None,
    ) -> None:
        self.pg.log_refusal(ctx, action, code, error, client_at=client_at)

    def void_attempt(
        self, ctx: StationContext, request: VoidRequest, target: tuple[RecordKind, int] | None
    ) -> AbstractContextManager[VoidAttempt]:
        return self.pg.void_attempt(ctx, request, target)

    def scan_records(self, ctx: StationContext, code: str) -> tuple[ScanRecord, ...]:
        return self.pg.scan_records(ctx, code)

    def record_conflict(self, ctx: StationContext, conflict: ConflictReport) -> bool:
        return self.pg.record_conflict(ctx, conflict)

    def attempt(
        self, ctx: StationContext, request: ScanRequest, *, attendee_id: int | None = None
    ) -> AbstractContextManager[Any]:
        first = self._first_try(ctx, request, attendee_id)
        if first is not None:
            return nullcontext(first)
        return self._read(ctx, request, attendee_id)

    @contextmanager
    def _read(
        self, ctx: StationContext, request: ScanRequest, attendee_id: int | None
    ) -> Iterator[_Noting]:
        with self.pg.attempt(ctx, request, attendee_id=attendee_id) as attempt:
            yield _Noting(self, attempt)

    def wrote(self, attendee_id: int) -> None:
        with self._lock:
            self._written[attendee_id] = self._clock()

    def _first_try(
        self, ctx: StationContext, request: ScanRequest, attendee_id: int | None
    ) -> SnapshotAttempt | None:
        if attendee_id is not None or request.client_at is not None:
            return None
        skew = self.pg.skew
        if request.action not in _ACTIONS or skew is None or abs(skew) > _MAX_SKEW:
            return None
        with self._lock:
            if request.client_id in self._tried:
                return None
            self._tried[request.client_id] = None
            if len(self._tried) > 256:
                del self._tried[next(iter(self._tried))]
        conference = self.pg.conference(ctx.conference)
        snapshot = self.snapshot
        found = snapshot.held(request.code)
        if found is None:
            return None
        holder, premise = found
        if premise is None:
            return None
        state = self._state(premise, conference.id)
        now = self._clock()
        if state is None or now - state.synced > self._max_age:
            return None
        wanted = request.wanted_product()
        target = state.target(snapshot, wanted) if wanted is not None else None
        with self._lock:
            ours = self._written.get(holder.attendee_id)
            if ours is not None and ours >= state.synced:
                return None  # our own write is not in the copy yet
            if ours is not None:
                del self._written[holder.attendee_id]
        facts = ScanFacts(
            request=request,
            conference_id=conference.id,
            timezone=conference.timezone,
            holder=holder,
            target=target,
            target_missing=wanted is not None and target is None,
            prior=None,  # a client id already used: the write answers 'duplicate'
            now=now,
            door=None,  # doors read first (_ACTIONS)
        )
        self.first_tries += 1
        versions = "{" + ",".join(map(str, sorted(premise.versions + state.products))) + "}"
        marks = "{" + premise.records + "}"
        return SnapshotAttempt(self, ctx, request, conference, facts, versions, marks)

    def _state(self, premise: Premise, conference_id: int) -> _CopyState | None:
        """What changes only with a sync, kept for each state of the copy (known by the
        sync's start and product versions, read with the holder)."""
        state = self._copy
        key = (premise.synced_at, premise.products)
        if state is not None and state.key == key:
            return state
        have = self.snapshot.conference()
        if have is None or have.id != conference_id:
            return None
        synced = from_text(premise.synced_at)
        products = tuple(int(v) for v in premise.products.split(",") if v)
        state = _CopyState(key, synced, products)
        self._copy = state
        with self._lock:  # writes older than this sync are in the copy now
            self._written = {a: at for a, at in self._written.items() if at >= synced}
        return state


class _CopyState:
    def __init__(self, key: tuple[str, str], synced: datetime, products: tuple[int, ...]) -> None:
        self.key = key
        self.synced = synced
        self.products = products
        self._targets: dict[tuple[ProductKind, str], Target | None] = {}

    def target(self, snapshot: Snapshot, wanted: tuple[ProductKind, str]) -> Target | None:
        if wanted not in self._targets:
            self._targets[wanted] = snapshot.target(*wanted)
        return self._targets[wanted]


class SnapshotAttempt:
    """The first try: facts from the snapshot, the write with every premise."""

    final = False  # a refusal here is decided again on the database's facts

    def __init__(
        self,
        store: SnapshotFirstStore,
        ctx: StationContext,
        request: ScanRequest,
        conference: ConferenceRef,
        facts: ScanFacts,
        versions: str,
        records: str,
    ) -> None:
        self._store = store
        self._facts = facts
        self._write = PgAttempt(store.pg, ctx, request, conference, None)
        self._write.versions = versions
        self._write.records = records

    def facts(self) -> ScanFacts:
        return self._facts

    def record(self, accept: Accept, code: str) -> Recorded | None:
        try:
            recorded = self._write.record(accept, code)
        except DatabaseUnavailable as refused:
            if getattr(refused.__cause__, "sqlstate", None) != _CHECK_VIOLATION and (
                getattr(getattr(refused.__cause__, "orig", None), "sqlstate", None)
                != _CHECK_VIOLATION
            ):
                raise
            log.debug("a guard refused what the snapshot allowed: read again")
            return None  # the snapshot was behind
        if recorded is not None:
            self._store.first_tries_recorded += 1
            self._store.wrote(accept.attendee_id)
            log.debug("decided on the snapshot, recorded in one round trip")
        else:
            log.debug("the snapshot was behind for attendee %s: read again", accept.attendee_id)
        return recorded

    def log_refusal(self, error: StationError, code: str) -> None:
        raise AssertionError("a refusal on the snapshot's facts is decided again, not logged")


class _Noting:
    """PgStore's attempt, noting the attendee of each write it makes."""

    def __init__(self, store: SnapshotFirstStore, attempt: PgAttempt) -> None:
        self._store = store
        self._attempt = attempt
        self.final = True

    def facts(self) -> ScanFacts:
        return self._attempt.facts()

    def record(self, accept: Accept, code: str) -> Recorded | None:
        recorded = self._attempt.record(accept, code)
        if recorded is not None:
            self._store.wrote(accept.attendee_id)
        return recorded

    def log_refusal(self, error: StationError, code: str) -> None:
        self._attempt.log_refusal(error, code)
