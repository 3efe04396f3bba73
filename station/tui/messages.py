"""Every custom message of the station UI.

Service calls run in worker threads and report back only through these, so
the screens never touch a result before the service has returned one.
"""

from __future__ import annotations

from textual.message import Message

from station.offline.link import LinkState
from station.scanflow.flow import Scan
from station.scanflow.pending import PendingScan
from station.services.errors import StationError
from station.services.results import (
    AttendeeMatch,
    DoorClearResult,
    RoomCount,
    ScanAnswer,
    StaffMember,
    StationInfo,
    VoidResult,
)
from station.services.tallies import StationTally
from station.tui.verdicts import Verdict


class BurstPauseDue(Message):
    """The held keys' pause timer ran out. Posted, not acted on in the timer, so the
    decision comes after every key that had already arrived: a stall of the app
    (a garbage collection, a slow repaint) is not a pause of the scanner."""


class ScanSubmitted(Message):
    """Text that a scanner (or a person) typed and ended with the terminator."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ScanAnswered(Message):
    """The scan worker's report on one scan: an answer, a StationError (a refusal, or the
    database away), or neither (the call crashed). ``kept``: an unknown outcome's
    pending entry reached the disk."""

    def __init__(
        self,
        scan: Scan,
        answer: ScanAnswer | None,
        error: StationError | None,
        *,
        kept: bool = True,
    ) -> None:
        super().__init__()
        self.scan = scan
        self.answer = answer
        self.error = error
        self.kept = kept


class ScanFollowed(Message):
    """The turn of a scan of a code that was already waiting: it shares that answer."""

    def __init__(self, scan: Scan) -> None:
        super().__init__()
        self.scan = scan


class ScanRepeated(Message):
    """The turn of a scan the double-scan guard answers with the earlier verdict."""

    def __init__(self, scan: Scan, previous: Verdict) -> None:
        super().__init__()
        self.scan = scan
        self.previous = previous


class PendingConfirmed(Message):
    """A scan shown as not recorded turned out to be recorded (its answer was lost)."""

    def __init__(self, entry: PendingScan, answer: ScanAnswer) -> None:
        super().__init__()
        self.entry = entry
        self.answer = answer


class RedeemRequested(Message):
    """The picker chose a line item to redeem one unit of."""

    def __init__(self, code: str, line_item_id: int) -> None:
        super().__init__()
        self.code = code
        self.line_item_id = line_item_id


class WorkCrashed(Message):
    """A worker raised something that is not a StationError: a bug, shown, never fatal."""

    def __init__(self, group: str, error: BaseException) -> None:
        super().__init__()
        self.group = group
        self.error = error


class DatabaseChecked(Message):
    """Result of a probe or counts refresh: whether the database answered."""

    def __init__(self, counts: StationTally | None, error: StationError | None = None) -> None:
        super().__init__()
        self.counts = counts
        self.error = error


class LinkChecked(Message):
    """Offline mode's state (online or not, scans waiting, conflicts found on replay)."""

    def __init__(self, state: LinkState) -> None:
        super().__init__()
        self.state = state


class StationInfoLoaded(Message):
    def __init__(self, info: StationInfo | None, error: StationError | None = None) -> None:
        super().__init__()
        self.info = info
        self.error = error


class StaffListed(Message):
    def __init__(self, staff: tuple[StaffMember, ...], error: StationError | None = None) -> None:
        super().__init__()
        self.staff = staff
        self.error = error


class SignInChecked(Message):
    def __init__(self, member: StaffMember | None, error: StationError | None = None) -> None:
        super().__init__()
        self.member = member
        self.error = error


class SearchFinished(Message):
    def __init__(
        self,
        query: str,
        matches: tuple[AttendeeMatch, ...],
        error: StationError | None = None,
        *,
        more: bool = False,
    ) -> None:
        super().__init__()
        self.query = query
        self.matches = matches
        self.error = error
        self.more = more
        """The search stopped at its limit: there are more matches than ``matches``."""


class VoidCandidateLoaded(Message):
    """The station's last scan, for the operator's "void it?" (None: there is none)."""

    def __init__(self, last: VoidResult | None, error: StationError | None = None) -> None:
        super().__init__()
        self.last = last
        self.error = error


class VoidRecordsLoaded(Message):
    """A badge's scans, for a supervisor to pick the one to void."""

    def __init__(
        self, code: str, records: tuple[VoidResult, ...], error: StationError | None = None
    ) -> None:
        super().__init__()
        self.code = code
        self.records = records
        self.error = error


class VoidFinished(Message):
    """A void recorded (``result``) or refused (``error``)."""

    def __init__(self, result: VoidResult | None, error: StationError | None = None) -> None:
        super().__init__()
        self.result = result
        self.error = error


class RoomLoaded(Message):
    """A door's room before "everyone out" is confirmed (how many it will count out)."""

    def __init__(self, room: RoomCount | None, error: StationError | None = None) -> None:
        super().__init__()
        self.room = room
        self.error = error


class DoorCleared(Message):
    """A supervisor's "everyone out" recorded (``result``) or refused (``error``)."""

    def __init__(self, result: DoorClearResult | None, error: StationError | None = None) -> None:
        super().__init__()
        self.result = result
        self.error = error
