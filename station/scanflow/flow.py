"""The life of one scan, from its code to a confirmed outcome.

::

    start ──▶ WAITING ──▶ ANSWERED                 (recorded, or refused and logged)
      │          ├──────▶ NOT_RECORDED ──▶ CONFIRMED   (unknown outcome, kept pending;
      │          │                                      later found recorded)
      │          └──────▶ FAILED                   (a look-up that broke: nothing to keep)
      ├──▶ FOLLOWING ──▶ ANSWERED / NOT_RECORDED   (the same code while one is waiting:
      │                                             it ends as that scan did, in its turn)
      └──▶ REJECTED                                (not a badge: refused before any service)

Every scan gets exactly one of these ends, and scans are answered in the
order they arrived (the app sends them through one worker, one at a time).
A write whose outcome is unknown keeps its client id in :class:`PendingScans`
until an answer confirms it: the same code scanned again at this station
(also after a restart) is sent with that id, so the services replay the
original instead of writing twice.

Plain Python: the app feeds it what happened and shows what it says.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from station.scanflow.pending import PendingSaveFailed, PendingScan, PendingScans

WRITES = frozenset({"checkin", "redeem", "door"})
"""Actions that record something: their unknown outcomes are kept pending."""


class Stage(enum.Enum):
    WAITING = "waiting"
    FOLLOWING = "following"
    ANSWERED = "answered"
    NOT_RECORDED = "not_recorded"
    FAILED = "failed"
    REJECTED = "rejected"
    CONFIRMED = "confirmed"


ENDS = frozenset({Stage.ANSWERED, Stage.NOT_RECORDED, Stage.FAILED, Stage.REJECTED})


class BadTransition(Exception):
    """A scan was told of an answer it cannot have (a bug in the caller)."""


@dataclass(slots=True)
class Scan:
    """One scan on its way; ``seq`` is its place in the arrival order."""

    seq: int
    code: str
    action: str
    """checkin, redeem, door, products (a picker's look-up), repeat (the double-scan
    guard answers it) or rejected."""
    target: str
    conference: str
    client_id: uuid.UUID
    at: datetime
    started: float
    """Monotonic time the scan was started (for its scan-to-verdict time)."""
    line_item_id: int | None = None
    stage: Stage = Stage.WAITING
    retry: bool = False
    """It reuses the client id of an earlier scan whose answer was lost."""
    follows: int | None = None
    leader: Scan | None = None
    """The scan of ``follows``: its end is this one's end."""
    """The waiting scan of the same code whose answer this one shares."""
    kept: bool = True
    """For NOT_RECORDED: the pending entry reached the disk (False: memory only)."""

    @property
    def writes(self) -> bool:
        return self.action in WRITES

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.conference, self.action, self.target, self.code)

    def pending_entry(self) -> PendingScan:
        return PendingScan(
            client_id=str(self.client_id),
            conference=self.conference,
            action=self.action,
            target=self.target,
            code=self.code,
            first_at=self.at.astimezone(UTC).isoformat(),
        )


@dataclass(slots=True)
class ScanFlow:
    """Every scan of one station, in arrival order."""

    conference: str
    pending: PendingScans
    follow_duplicates: bool = True
    """The same code again while it is waiting shares its answer (the double-scan
    guard is on); off, it is a scan of its own, with its own client id."""
    _seq: int = 0
    _shown: int = 0
    _waiting: dict[int, Scan] = field(default_factory=dict)

    # ------------------------------------------------------------ starting

    def start(
        self,
        code: str,
        action: str,
        *,
        at: datetime,
        started: float,
        target: str = "",
        line_item_id: int | None = None,
    ) -> Scan:
        """A decoded code to act on. It follows a waiting scan of the same code, or is
        sent with the client id of a pending one, or with a new id."""
        scan = self._new(code, action, target, at, started, line_item_id)
        leader = self._waiting_with(scan.key)
        if leader is not None and (self.follow_duplicates or not scan.writes):
            scan.stage = Stage.FOLLOWING
            scan.follows = leader.seq
            scan.leader = leader
            scan.client_id = leader.client_id
        elif leader is None and scan.writes:
            earlier = self.pending.find(scan.key, at)
            if earlier is not None:
                scan.client_id = earlier.id
                scan.retry = True
        self._waiting[scan.seq] = scan
        return scan

    def repeat(self, code: str, *, at: datetime, started: float) -> Scan:
        """The same code again within the double-scan window: nothing is sent; in its turn
        (after the scans before it) it shows the earlier verdict again and ends."""
        scan = self._new(code, "repeat", "", at, started, None)
        self._waiting[scan.seq] = scan
        return scan

    def reject(self, shown: str, *, at: datetime, started: float) -> Scan:
        """The decoder refused what was scanned: it ends here (the app logs it)."""
        scan = self._new(shown, "rejected", "", at, started, None)
        scan.stage = Stage.REJECTED
        return scan

    def _new(
        self,
        code: str,
        action: str,
        target: str,
        at: datetime,
        started: float,
        line_item_id: int | None,
    ) -> Scan:
        self._seq += 1
        return Scan(
            seq=self._seq,
            code=code,
            action=action,
            target=target,
            conference=self.conference,
            client_id=uuid.uuid4(),
            at=at,
            started=started,
            line_item_id=line_item_id,
        )

    def _waiting_with(self, key: tuple[str, str, str, str]) -> Scan | None:
        for scan in self._waiting.values():
            if scan.stage is Stage.WAITING and scan.key == key:
                return scan
        return None

    # ------------------------------------------------------------- answers

    def begin(self, scan: Scan) -> None:
        """A write is about to leave: note it in the pending file first (no fsync), so a
        station killed before the answer comes sends the same id when the code is
        scanned again after its restart. Called from the worker, before the write."""
        if not scan.writes or self.pending.get(str(scan.client_id)) is not None:
            return  # a retry: its entry is in the pending file already
        self.pending.note_in_flight(scan.pending_entry())

    def settle(self, scan: Scan) -> None:
        """The write's outcome is known: the pending file forgets it (from the worker)."""
        if scan.writes:
            self.pending.forget_in_flight(str(scan.client_id))
            self.pending.remove(str(scan.client_id))

    def keep_pending(self, scan: Scan) -> bool:
        """Make an unknown outcome durable before it is shown; False if only memory has it.

        Called from the worker that ran the write, before it reports, so "NOT
        RECORDED" is never on screen before the pending entry is on disk.
        """
        if not scan.writes:
            return True
        entry = self.pending.get(str(scan.client_id)) or scan.pending_entry()
        try:
            self.pending.add(entry)
        except PendingSaveFailed:
            return False  # the in-flight note stays: the best this disk can keep
        self.pending.forget_in_flight(entry.client_id)
        return True

    def answered(self, scan: Scan) -> None:
        """A known outcome (recorded, or refused)."""
        self._end(scan, Stage.ANSWERED)
        if scan.writes:
            self.pending.remove(str(scan.client_id))

    def not_recorded(self, scan: Scan, *, kept: bool) -> None:
        """The outcome is unknown: writes stay pending under their client id."""
        scan.kept = kept
        self._end(scan, Stage.NOT_RECORDED if scan.writes else Stage.FAILED)

    def followed(self, follower: Scan) -> Scan:
        """A follower's turn: it ends as the scan it followed did, and that scan is
        returned. Its turn comes after that scan's answer, since scans are answered in
        the order they arrived; a follower of a scan kept only in memory is not said to
        be safe on disk."""
        leader = follower.leader
        if follower.stage is not Stage.FOLLOWING or leader is None or leader.stage not in ENDS:
            raise BadTransition(f"scan {follower.seq} has no ended scan to follow")
        del self._waiting[follower.seq]
        follower.stage = leader.stage
        follower.kept = leader.kept
        return leader

    def confirmed(self, client_id: uuid.UUID, at: datetime) -> None:
        """A pending write was found recorded after all. A rescan in the next moments
        still replays it (the volunteer saw "not recorded"); later the code is new."""
        self.pending.mark_recorded(str(client_id), at)

    def _end(self, scan: Scan, stage: Stage) -> None:
        if scan.stage is not Stage.WAITING or self._waiting.pop(scan.seq, None) is None:
            raise BadTransition(f"scan {scan.seq} is {scan.stage.value}, not waiting")
        scan.stage = stage

    # -------------------------------------------------------------- showing

    def show(self, scan: Scan) -> bool:
        """Whether this scan's verdict goes on the banner: never one older than shown."""
        if scan.seq < self._shown:
            return False
        self._shown = scan.seq
        return True

    @property
    def busy(self) -> bool:
        """Some scan is still waiting for its answer ("CHECKING…")."""
        return bool(self._waiting)

    def waiting(self) -> tuple[Scan, ...]:
        return tuple(self._waiting.values())

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def shown_seq(self) -> int:
        return self._shown

    def note_shown(self) -> int:
        """Something not a scan took the banner (a repeat, a notice): it counts as newest."""
        self._seq += 1
        self._shown = self._seq
        return self._seq
