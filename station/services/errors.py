"""Domain errors: each one line a volunteer understands, each with a reason code.

The reason codes are a small, stable vocabulary shared by the UI (which words
and colour to show), the scan log and the reports. Never rename one.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Self


class Reason(enum.StrEnum):
    OK = "ok"
    REENTRY = "reentry"
    NOT_FOUND = "not_found"
    OTHER_CONFERENCE = "other_conference"
    NO_ORDER = "no_order"
    UNPAID = "unpaid"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    NOT_PURCHASED = "not_purchased"
    FULLY_REDEEMED = "fully_redeemed"
    INVALID_INPUT = "invalid_input"
    DATABASE_UNAVAILABLE = "database_unavailable"
    CONFIGURATION = "configuration"
    VOID_NOT_ALLOWED = "void_not_allowed"
    OFFLINE_LIMIT = "offline_limit"
    # Event rules (station rules): a per-day cap, opening hours, valid dates, a room's
    # capacity, a door's re-entry policy.
    DAILY_LIMIT = "daily_limit"
    CLOSED = "closed"
    NOT_VALID_TODAY = "not_valid_today"
    FULL = "full"
    NEEDS_EXIT = "needs_exit"
    ALREADY_ENTERED = "already_entered"


class StationError(Exception):
    """Base of every error the station shows to a person."""

    reason: Reason = Reason.INVALID_INPUT
    # Set when the refusal concerns a known attendee, so the scan log and the screen can
    # name them (the name is display-safe).
    attendee_id: int | None = None
    attendee_name: str | None = None

    def __init__(self, message: str, *, reason: Reason | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self)

    def concerning(self, attendee_id: int, name: str | None) -> Self:
        """This error is about that attendee; returns itself, to raise."""
        self.attendee_id = attendee_id
        self.attendee_name = name or None
        return self


class Refusal(StationError):
    """A scan that was understood and refused; nothing was written but the scan log.

    ``logged`` is False when the refusal is shown although its scan-log row could
    not be written (the database was unreachable for a scan refused before any query).
    """

    logged: bool = True


class InvalidInput(Refusal):
    reason = Reason.INVALID_INPUT


class AttendeeNotFound(Refusal):
    reason = Reason.NOT_FOUND


class NotEligible(Refusal):
    """The attendee's order does not allow entry (no order, unpaid, cancelled, refunded)."""

    reason = Reason.NO_ORDER


class NotPurchased(Refusal):
    reason = Reason.NOT_PURCHASED


class FullyRedeemed(Refusal):
    """Every purchased unit was already used; says when and where the last one went."""

    reason = Reason.FULLY_REDEEMED

    def __init__(
        self,
        message: str,
        *,
        product: str,
        redeemed: int,
        quantity: int,
        last_redeemed_at: datetime | None,
        last_station: str,
    ) -> None:
        super().__init__(message)
        self.product = product
        self.redeemed = redeemed
        self.quantity = quantity
        self.last_redeemed_at = last_redeemed_at
        self.last_station = last_station


class OfflineLimit(Refusal):
    """A redemption the offline policy keeps for when the database is back."""

    reason = Reason.OFFLINE_LIMIT


class RuleRefusal(Refusal):
    """A scan an event rule refuses for now; ``allows_at`` is when it will allow again
    (None: not on any later day, or not by time: a room that is full, a missing exit)."""

    def __init__(self, message: str, *, reason: Reason, allows_at: datetime | None = None) -> None:
        super().__init__(message, reason=reason)
        self.allows_at = allows_at


class VoidRefused(Refusal):
    """A void the rule book does not allow (too old, not the last scan, not a supervisor)."""

    reason = Reason.VOID_NOT_ALLOWED


class DatabaseUnavailable(StationError):
    """The database could not be reached or timed out; nothing was recorded."""

    reason = Reason.DATABASE_UNAVAILABLE

    def __init__(
        self, message: str = "Database not reachable — scan NOT recorded, try again."
    ) -> None:
        super().__init__(message)


class DatabaseBusy(DatabaseUnavailable):
    """The server is up but a lock or statement timed out; nothing was recorded.

    A subclass, so everything that catches DatabaseUnavailable still does, while
    the UI can tell "busy, try again" from "offline" without reading the words.
    """

    def __init__(self, message: str = "Database busy — scan NOT recorded, try again.") -> None:
        super().__init__(message)


class ConfigurationError(StationError):
    """The station is set up wrongly (unknown conference, product or operator)."""

    reason = Reason.CONFIGURATION
