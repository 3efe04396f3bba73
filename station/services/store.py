"""The scan store: what every path behind the services offers the rule book.

A store reads the facts of one scan and records the rule book's decision. It
never decides. Which store a station uses is chosen once, at start-up
(``station.services.bootstrap`` / ``ServiceBase``): the ORM store for SQLite,
the PostgreSQL store (guarded functions, two round trips) for PostgreSQL, and
the offline store that comes next.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from station.rulebook import Accept, ScanFacts, ScanRequest
from station.rulebook.facts import RecordKind, ScanRecord, VoidFacts, VoidRequest
from station.rulebook.rules import VoidAccept
from station.services.errors import StationError
from station.services.results import StationContext


@dataclass(frozen=True, slots=True)
class ConferenceRef:
    id: int
    slug: str
    name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class Recorded:
    """A decision the store wrote: when (the recording server's time), and by whom."""

    at: datetime
    staff_name: str | None = None


@dataclass(frozen=True, slots=True)
class ConflictReport:
    """A replayed offline scan the server refused, as the offline station reports it.

    ``kind`` is "overspend" when the refusal means the unit was given away twice (used
    up, already redeemed), else "conflict". ``reason`` is the rule book's reason code on
    replay. The station's name comes from the context; the server adds its own time and,
    for an overspend, who else gave the unit (migration 0013).
    """

    client_id: uuid.UUID
    kind: Literal["overspend", "conflict"]
    action: str
    code: str
    attendee_id: int | None
    line_item_id: int | None
    staff_id: int | None
    client_at: datetime
    reason: str
    message: str


class ScanAttempt(Protocol):
    """One try at a scan: read the facts, then record a decision or log a refusal.

    ``record`` returns None when the facts no longer hold (another station got
    there first, or the client id was recorded meanwhile): nothing was written,
    and the caller reads the facts again and asks the rule book again.
    """

    # False when the facts come from a copy that may be behind (the snapshot-first try,
    # store_first): a refusal on them is not the answer, and the next try reads them.
    final: bool

    def facts(self) -> ScanFacts: ...

    def record(self, accept: Accept, code: str) -> Recorded | None: ...

    def log_refusal(self, error: StationError, code: str) -> None: ...


class VoidAttempt(Protocol):
    """One try at a void: the record's facts, then the void (None: overtaken, read again)."""

    def facts(self) -> VoidFacts: ...

    def record(
        self, accept: VoidAccept, staff_id: int | None, pin_hash: str | None
    ) -> Recorded | None: ...


class ScanStore(Protocol):
    def conference(self, slug: str) -> ConferenceRef: ...

    def attempt(
        self, ctx: StationContext, request: ScanRequest, *, attendee_id: int | None = None
    ) -> AbstractContextManager[ScanAttempt]:
        """A try at ``request``; ``attendee_id`` reads that attendee instead of the code's."""
        ...

    def log_refusal(
        self,
        ctx: StationContext,
        action: str,
        code: str,
        error: StationError,
        *,
        client_at: datetime | None = None,
    ) -> None:
        """A scan refused outside any attempt (unreadable, bad input), logged on its own.

        ``client_at``: when the station saw it, if not now (a replayed offline refusal).
        """
        ...

    def void_attempt(
        self, ctx: StationContext, request: VoidRequest, target: tuple[RecordKind, int] | None
    ) -> AbstractContextManager[VoidAttempt]:
        """A try at voiding ``target`` (kind, id), or this station's last scan when None."""
        ...

    def scan_records(self, ctx: StationContext, code: str) -> tuple[ScanRecord, ...]:
        """Every record of a badge, newest first, voided ones marked (a supervisor's list)."""
        ...

    def record_conflict(self, ctx: StationContext, conflict: ConflictReport) -> bool:
        """Record a refused offline scan once per client id; False: it was already there."""
        ...
