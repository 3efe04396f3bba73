"""The offline scan store: facts from the snapshot, records into the journal.

It implements the same ``ScanStore`` protocol as the database stores, so an
offline scan takes the same path through the services and the same rule book;
only where facts come from and where a decision goes differ. This station's
own offline scans are added to the snapshot's counts (so one station never
gives a person more than the snapshot says they have left), and the outage's
policy facts (``OfflineFacts``) let the rule book bound the risk.

Event rules get the facts the online stores fill (``store_orm``): the time the
scan is decided at (the station's clock; the journal records that same time),
each product's rules, when each used unit went, and at a door the holder's
scans there, its last "everyone out" and its room's inside count, from the
snapshot plus this station's journaled scans not replayed yet (which replay
will record after everything the snapshot knows, so they count as the latest).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime

from station.domain import Mode
from station.offline.journal import Journal, NewEntry
from station.offline.settings import OfflineRules
from station.offline.snapshot import Snapshot
from station.rulebook import Accept, Holder, Prior, ScanFacts, ScanRequest
from station.rulebook.facts import (
    DoorState,
    FirstEntry,
    OfflineFacts,
    RecordKind,
    ScanRecord,
    Target,
    VoidRequest,
)
from station.rulebook.rules import unknown_product
from station.services.checkin import parse_product
from station.services.errors import DatabaseUnavailable, StationError
from station.services.results import StationContext, StationInfo
from station.services.store import ConferenceRef, ConflictReport, Recorded, VoidAttempt
from station.text import display_safe

NO_SNAPSHOT = (
    "Database not reachable and no offline copy of the attendee list yet — "
    "scan NOT recorded, try again."
)
NEEDS_DATABASE = "Database not reachable — this needs the database; try again when back online."


class OfflineStore:
    def __init__(
        self,
        snapshot: Snapshot,
        journal: Journal,
        clock: Callable[[], datetime],
        rules: OfflineRules | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.journal = journal
        self._clock = clock
        self._rules = rules or OfflineRules()

    def conference(self, slug: str) -> ConferenceRef:
        have = self.snapshot.conference()
        if have is None or have.slug != slug:
            raise DatabaseUnavailable(NO_SNAPSHOT)
        return ConferenceRef(have.id, have.slug, display_safe(have.name), have.timezone)

    def station_info(self, ctx: StationContext, mode: Mode, product: str | None) -> StationInfo:
        """What the header shows, from the snapshot (a station restarted mid-outage)."""
        conference = self.conference(ctx.conference)
        name: str | None = None
        if mode is not Mode.CHECKIN and product:
            wanted = product if mode is Mode.DOOR else f"addon:{product.removeprefix('addon:')}"
            kind, slug = parse_product(wanted)
            target = self.snapshot.target("ticket" if kind == "ticket" else "addon", slug)
            if target is None:
                raise unknown_product(kind, slug, conference.slug)
            name = display_safe(target.name, limit=80)
        return StationInfo(conference.slug, conference.name, conference.timezone, mode, name)

    @contextmanager
    def attempt(
        self, ctx: StationContext, request: ScanRequest, *, attendee_id: int | None = None
    ) -> Iterator[OfflineAttempt]:
        conference = self.conference(ctx.conference)
        yield OfflineAttempt(self, ctx, request, conference, attendee_id)

    def log_refusal(
        self,
        ctx: StationContext,
        action: str,
        code: str,
        error: StationError,
        *,
        client_at: datetime | None = None,
    ) -> None:
        now = self._clock()
        self._journal(
            ctx,
            ScanRequest("lookup", code, uuid.uuid4(), client_at=client_at),
            action=action,
            code=code,
            attendee_id=error.attendee_id,
            outcome="refused",
            reason=str(error.reason),
            message=error.message,
            at=client_at or now,
        )

    def void_attempt(
        self, ctx: StationContext, request: VoidRequest, target: tuple[RecordKind, int] | None
    ) -> AbstractContextManager[VoidAttempt]:
        raise DatabaseUnavailable(NEEDS_DATABASE)

    def record_conflict(self, ctx: StationContext, conflict: ConflictReport) -> bool:
        raise DatabaseUnavailable(NEEDS_DATABASE)

    def scan_records(self, ctx: StationContext, code: str) -> tuple[ScanRecord, ...]:
        raise DatabaseUnavailable(NEEDS_DATABASE)

    def _journal(
        self,
        ctx: StationContext,
        request: ScanRequest,
        *,
        action: str,
        code: str,
        attendee_id: int | None,
        outcome: str,
        reason: str,
        message: str,
        at: datetime,
        line_item_id: int | None = None,
        product_id: int | None = None,
        product: str | None = None,
    ) -> int | None:
        since = self.journal.begin_outage(at)
        return self.journal.append(
            NewEntry(
                client_id=request.client_id,
                conference=ctx.conference,
                station=ctx.station[:100],
                staff_id=ctx.staff_id,
                action=action,
                code=display_safe(code, limit=256),
                product=product or request.product,
                line_item_id=line_item_id,
                product_id=product_id,
                attendee_id=attendee_id,
                client_at=at,
                outage_since=since,
                outcome="accepted" if outcome == "accepted" else "refused",
                reason=reason,
                message=message[:300],
                note=request.note,
                direction=request.direction if action == "door" else "in",
            )
        )

    def offline_facts(
        self, request: ScanRequest, product_id: int | None, slug: str
    ) -> OfflineFacts:
        now = self._clock()
        since = self.journal.current_outage() or now
        redeemed = 0 if product_id is None else self.journal.redeemed_in_outage(since, product_id)
        return OfflineFacts(
            since=since,
            now=request.client_at or now,
            policy=self._rules.policy(slug),
            redeemed=redeemed,
            cap=self._rules.cap,
            max_seconds=self._rules.max_seconds,
        )


class OfflineAttempt:
    final = True  # facts from the store itself: a refusal on them is the answer

    def __init__(
        self,
        store: OfflineStore,
        ctx: StationContext,
        request: ScanRequest,
        conference: ConferenceRef,
        attendee_id: int | None,
    ) -> None:
        self._store = store
        self._ctx = ctx
        self._request = request
        self._conference = conference
        self._attendee_id = attendee_id

    def facts(self) -> ScanFacts:
        store, request = self._store, self._request
        snapshot = store.snapshot
        target = None
        missing = False
        wanted = request.wanted_product()
        if wanted is not None:
            target = snapshot.target(*wanted)
            missing = target is None
        holder = snapshot.holder(code=request.code, attendee_id=self._attendee_id)
        if holder is not None:
            holder = _with_own_scans(store, holder)
        prior = _prior(store, request)
        offline = None
        if request.action == "redeem" and holder is not None:
            offline = store.offline_facts(request, *_product_of(holder, request, target))
        door = None
        if request.action == "door" and holder is not None and target is not None:
            door = _door_state(store, holder.attendee_id, target)
        return ScanFacts(
            request=request,
            conference_id=self._conference.id,
            timezone=self._conference.timezone,
            holder=holder,
            target=target,
            target_missing=missing,
            prior=prior,
            offline=offline,
            now=request.client_at or store._clock(),
            door=door,
        )

    def record(self, accept: Accept, code: str) -> Recorded | None:
        at = self._request.client_at or self._store._clock()
        line = accept.line
        door = accept.target if accept.action == "door" else None
        seq = self._store._journal(
            self._ctx,
            self._request,
            action=accept.action,
            code=code,
            attendee_id=accept.attendee_id,
            outcome="accepted",
            reason=str(accept.reason),
            message=accept.message,
            at=at,
            line_item_id=None if line is None else line.id,
            product_id=door.id if door is not None else None if line is None else line.product_id,
            product=None if door is None else door_product(door),
        )
        if seq is None:
            return None  # journaled meanwhile under this client id: read again, replay it
        return Recorded(at=at)

    def log_refusal(self, error: StationError, code: str) -> None:
        self._store._journal(
            self._ctx,
            self._request,
            action=self._request.action,
            code=code,
            attendee_id=error.attendee_id,
            outcome="refused",
            reason=str(error.reason),
            message=error.message,
            at=self._request.client_at or self._store._clock(),
        )


def _product_of(holder: Holder, request: ScanRequest, target: object) -> tuple[int | None, str]:
    """The add-on a redemption is of (id, slug), for its offline policy and cap."""
    if request.line_item_id is not None:
        for line in holder.lines:
            if line.id == request.line_item_id:
                return line.product_id, line.slug
        return None, ""
    wanted = request.wanted_product()
    product_id = getattr(target, "id", None)
    return product_id, wanted[1] if wanted else ""


def _with_own_scans(store: OfflineStore, holder: Holder) -> Holder:
    """The snapshot's holder plus this station's offline scans it cannot know yet."""
    own = store.journal.unsynced_uses(holder.attendee_id, store.snapshot.synced_at())
    if not own:
        return holder
    entries = holder.entries
    first = holder.first_entry
    used: dict[int, list[datetime]] = {}
    station: dict[int, str] = {}
    for entry in own:
        if entry.action == "checkin":
            entries += 1
            if first is None:
                first = FirstEntry(entry.client_at, entry.station, None)
        elif entry.action == "redeem" and entry.line_item_id is not None:
            used.setdefault(entry.line_item_id, []).append(entry.client_at)
            station[entry.line_item_id] = entry.station
    lines = tuple(
        line._replace(
            used=line.used + len(used[line.id]),
            last_used_at=max(used[line.id]),
            last_station=station[line.id],
            used_times=line.used_times + tuple(used[line.id]),
        )
        if line.id in used
        else line
        for line in holder.lines
    )
    return holder._replace(
        entries=entries,
        first_entry=first,
        checked_in=holder.checked_in or entries > 0,
        lines=lines,
    )


def door_product(target: Target) -> str:
    """How a door's product is journaled with its accepted scans ("ticket:<slug>")."""
    return f"{target.kind}:{target.slug}"


def _door_state(store: OfflineStore, attendee_id: int, target: Target) -> DoorState:
    """The door's facts from the snapshot, plus this station's scans there not synced yet.

    Those come after everything the snapshot knows (replay records them later, in
    journal order), so they are the holder's latest scans and may change who is inside.
    """
    snapshot = store.snapshot
    with_inside = target.rules.capacity is not None
    known = snapshot.door(attendee_id, target.kind, target.id, with_inside=with_inside)
    own = store.journal.unsynced_door_scans(door_product(target), snapshot.synced_at())
    if not own:
        return known
    events = known.events + tuple(
        (entry.client_at, entry.direction) for entry in own if entry.attendee_id == attendee_id
    )
    inside = known.inside
    if inside is not None:
        people = {entry.attendee_id for entry in own if entry.attendee_id is not None}
        before = snapshot.last_directions(target.kind, target.id, people)
        latest = {person: direction for person, (_at, direction) in before.items()}
        for entry in own:
            if entry.attendee_id is not None:
                latest[entry.attendee_id] = entry.direction
        for person in people:
            was_in = person in before and before[person][1] == "in"
            inside += int(latest[person] == "in") - int(was_in)
        inside = max(inside, 0)
    return DoorState(events=events, cleared_at=known.cleared_at, inside=inside)


def _prior(store: OfflineStore, request: ScanRequest) -> Prior | None:
    """This client id's accepted offline scan, if journaled (its answer was lost)."""
    entry = store.journal.find(request.client_id)
    if entry is None or entry.outcome != "accepted" or entry.attendee_id is None:
        return None
    if entry.action != request.action:
        return None
    if entry.action == "redeem":
        holder = store.snapshot.holder(attendee_id=entry.attendee_id)
        used = 0
        if holder is not None:
            holder = _with_own_scans(store, holder)
            used = next((li.used for li in holder.lines if li.id == entry.line_item_id), 0)
        return Prior(entry.attendee_id, entry.client_at, line_item_id=entry.line_item_id,
                     used_then=used)  # fmt: skip
    return Prior(entry.attendee_id, entry.client_at)
