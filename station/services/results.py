"""Immutable results the services hand to the UI.

No live ORM objects cross this line, so the UI can keep a result across
threads and screens. Text fields are already display-safe (no control or
bidi characters); they are still untrusted and must be shown without markup.
This module imports neither SQLAlchemy nor Textual.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from station.domain import Mode, OrderStatus
from station.services.errors import Reason


@dataclass(frozen=True, slots=True)
class StationContext:
    """Who is scanning where: recorded on every write."""

    conference: str
    station: str
    staff_id: int | None = None


@dataclass(frozen=True, slots=True)
class StationInfo:
    conference_slug: str
    conference_name: str
    timezone: str
    mode: Mode
    product_name: str | None


@dataclass(frozen=True, slots=True)
class ProductLine:
    """One purchased add-on line of an order, with what is left of it."""

    line_item_id: int
    addon_slug: str
    name: str
    description: str
    quantity: int
    redeemed: int

    @property
    def remaining(self) -> int:
        return max(self.quantity - self.redeemed, 0)


@dataclass(frozen=True, slots=True)
class FirstCheckIn:
    at: datetime
    station: str
    staff_name: str | None


@dataclass(frozen=True, slots=True)
class BadgeData:
    attendee_id: int
    access_code: str
    name: str
    email: str
    ticket_type: str
    order_reference: str | None
    order_status: OrderStatus | None
    checked_in: bool
    first_check_in: FirstCheckIn | None
    check_in_count: int
    products: tuple[ProductLine, ...]
    timezone: str
    attention: str | None = None
    """What staff must see even though entry is allowed (order, ticket and add-on notes,
    a partial refund), combined and cleaned by the rule book."""


@dataclass(frozen=True, slots=True)
class AttendeeMatch:
    """One hit of a manual lookup."""

    access_code: str
    name: str
    email: str
    ticket_type: str


@dataclass(frozen=True, slots=True)
class CheckInResult:
    client_id: uuid.UUID
    reason: Reason
    checked_in_at: datetime
    badge: BadgeData
    replayed: bool = False

    @property
    def reentry(self) -> bool:
        return self.reason is Reason.REENTRY


@dataclass(frozen=True, slots=True)
class RedemptionResult:
    client_id: uuid.UUID
    attendee_name: str
    access_code: str
    line_item_id: int
    product: str
    redeemed: int
    quantity: int
    redeemed_at: datetime
    timezone: str
    attention: str | None = None
    replayed: bool = False

    @property
    def remaining(self) -> int:
        return max(self.quantity - self.redeemed, 0)


@dataclass(frozen=True, slots=True)
class DoorCheckResult:
    client_id: uuid.UUID
    attendee_name: str
    access_code: str
    product: str
    checked_at: datetime
    timezone: str
    attention: str | None = None
    replayed: bool = False
    direction: str = "in"
    """"in": admitted; "out": an exit scan recorded."""
    inside: int | None = None
    """People inside after this scan, for a door with a capacity (None: not counted)."""
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    name: str
    has_pin: bool


@dataclass(frozen=True, slots=True)
class StationCounts:
    """Counters for the scan screen."""

    station_today: int
    conference_checked_in: int
    conference_attendees: int


@dataclass(frozen=True, slots=True)
class ProductChoice:
    """A meal line without a fixed product: what this attendee can still redeem."""

    badge: BadgeData
    products: tuple[ProductLine, ...]


ScanAnswer = CheckInResult | RedemptionResult | DoorCheckResult | ProductChoice
"""What one scan can come back with (a refusal comes back raised)."""


@dataclass(frozen=True, slots=True)
class VoidResult:
    """A voided record (or, with ``voided_at`` None, one a supervisor may void); display-safe."""

    kind: str
    record_id: int
    attendee_name: str
    access_code: str
    what: str
    scanned_at: datetime
    voided_at: datetime | None
    reason: str
    by: str | None
    station: str = ""
    already_voided: bool = False


@dataclass(frozen=True, slots=True)
class RoomCount:
    """A door's room: how many are inside now, and its capacity (None: no limit)."""

    product: str
    inside: int
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class DoorClearResult:
    """A supervisor's "everyone out", recorded: ``counted_out`` were inside until then."""

    product: str
    counted_out: int
    cleared_at: datetime
    by: str
