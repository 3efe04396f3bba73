"""Every custom message of the station UI.

Service calls run in worker threads and report back only through these, so
the screens never touch a result before the service has returned one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from textual.message import Message

from station.services.errors import StationError
from station.services.results import (
    AttendeeMatch,
    BadgeData,
    CheckInResult,
    DoorCheckResult,
    ProductLine,
    RedemptionResult,
    StaffMember,
    StationContext,
    StationCounts,
    StationInfo,
)

ScanResult = CheckInResult | RedemptionResult | DoorCheckResult


@dataclass(frozen=True, slots=True)
class ScanTicket:
    """One scan on its way through the flow; ``seq`` orders what the banner shows."""

    seq: int
    client_id: uuid.UUID
    code: str
    action: str
    """checkin, redeem, door, products (meal picker) or rejected (refused by the decoder)."""
    ctx: StationContext
    at: datetime
    started: float
    line_item_id: int | None = None


class BurstPauseDue(Message):
    """The held keys' pause timer ran out. Posted, not acted on in the timer, so the
    decision comes after every key that had already arrived: a stall of the app
    (a garbage collection, a slow repaint) is not a pause of the scanner."""


class ScanSubmitted(Message):
    """Text that a scanner (or a person) typed and ended with the terminator."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ScanSucceeded(Message):
    def __init__(self, ticket: ScanTicket, result: ScanResult) -> None:
        super().__init__()
        self.ticket = ticket
        self.result = result


class ScanFailed(Message):
    """A refusal, or the database being away; nothing but the scan log was written."""

    def __init__(self, ticket: ScanTicket, error: StationError) -> None:
        super().__init__()
        self.ticket = ticket
        self.error = error


class ProductsLoaded(Message):
    """What an attendee can still redeem, for the picker."""

    def __init__(
        self, ticket: ScanTicket, products: tuple[ProductLine, ...], badge: BadgeData | None
    ) -> None:
        super().__init__()
        self.ticket = ticket
        self.products = products
        self.badge = badge


class RedeemRequested(Message):
    """The picker chose a line item to redeem one unit of."""

    def __init__(self, code: str, line_item_id: int) -> None:
        super().__init__()
        self.code = code
        self.line_item_id = line_item_id


class WorkCrashed(Message):
    """A worker raised something that is not a StationError: a bug, shown, never fatal."""

    def __init__(self, group: str, error: BaseException, ticket: ScanTicket | None) -> None:
        super().__init__()
        self.group = group
        self.error = error
        self.ticket = ticket


class DatabaseChecked(Message):
    """Result of a probe or counts refresh: whether the database answered."""

    def __init__(self, counts: StationCounts | None, error: StationError | None = None) -> None:
        super().__init__()
        self.counts = counts
        self.error = error


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
    ) -> None:
        super().__init__()
        self.query = query
        self.matches = matches
        self.error = error
