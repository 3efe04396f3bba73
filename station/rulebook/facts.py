"""What a store tells the rule book about one scan: plain frozen data, raw text.

Texts are as stored (untrusted); the rule book cleans what it shows. Times are
aware datetimes. A store fills these from whatever it reads (rows, a function's
answer, a snapshot); the rule book never sees a row.

The types every scan makes (the request, the holder and their lines, the facts) are
named tuples: a frozen dataclass sets each field through ``object.__setattr__``, about
three times the cost of building a tuple, and a scan makes about ten of them (see the
README's "Benchmarks"). The rest stay frozen dataclasses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple

from station.domain import OrderStatus
from station.rulebook.event_rules import NO_RULES, Direction, ProductRules

Action = Literal["checkin", "door", "redeem", "lookup"]
ProductKind = Literal["ticket", "addon"]


class ScanRequest(NamedTuple):
    """One scan as the station sends it: what to do, with which code, under which id.

    ``product`` is a door's "ticket:<slug>"/"addon:<slug>" or a meal line's add-on
    slug; ``line_item_id`` is a picker's chosen line. ``code`` is already normalised.
    The server records its own time; ``client_at`` is stored beside it.
    """

    action: Action
    code: str
    client_id: uuid.UUID
    product: str | None = None
    line_item_id: int | None = None
    note: str = ""
    client_at: datetime | None = None
    """When the station saw the scan, if not now (an offline scan replayed later)."""
    direction: Direction = "in"
    """A door's scan: an entry ("in") or an exit ("out")."""

    def with_code(self, code: str) -> ScanRequest:
        """This request for the normalised ``code``: ``_replace`` without its walk over
        the fields, as every scan makes one."""
        return ScanRequest(
            self.action,
            code,
            self.client_id,
            self.product,
            self.line_item_id,
            self.note,
            self.client_at,
            self.direction,
        )

    def wanted_product(self) -> tuple[ProductKind, str] | None:
        """(kind, slug) of the product a store looks up for this scan, or None.

        A meal line names an add-on ("lunch" or "addon:lunch"), a door a ticket type
        or an add-on ("ticket:x"); a picker's chosen line and a check-in name none.
        """
        if self.product is None or self.line_item_id is not None:
            return None
        if self.action == "redeem":
            return "addon", self.product.removeprefix("addon:")
        if self.action == "door":
            kind, _sep, slug = self.product.partition(":")
            return ("ticket" if kind == "ticket" else "addon"), slug
        return None


class Line(NamedTuple):
    """One line of the holder's order, with how many of its units are used."""

    id: int
    kind: ProductKind
    product_id: int
    slug: str
    name: str
    description: str
    quantity: int
    used: int = 0
    last_used_at: datetime | None = None
    last_station: str = ""
    attention: str = ""
    """The product's attention note (its ticket type's or add-on's), raw; "" for none."""
    rules: ProductRules = NO_RULES
    """The event rules of the line's product (opening hours, valid dates, a daily limit)."""
    used_times: tuple[datetime, ...] = ()
    """When each used unit went (recording time), for a daily limit; filled on a redemption."""


class FirstEntry(NamedTuple):
    at: datetime
    station: str
    staff_name: str | None


class Holder(NamedTuple):
    """The attendee behind a badge code, with their order as it stands."""

    attendee_id: int
    access_code: str
    first_name: str
    last_name: str
    username: str
    email: str
    order_status: OrderStatus | None
    order_reference: str | None
    checked_in: bool
    first_entry: FirstEntry | None
    entries: int
    lines: tuple[Line, ...]
    order_attention: str = ""
    """The order's attention note, raw; "" for none."""


@dataclass(frozen=True, slots=True)
class Target:
    """The product a door or a meal line is for, as this conference names it."""

    kind: ProductKind
    id: int
    slug: str
    name: str
    rules: ProductRules = NO_RULES


@dataclass(frozen=True, slots=True)
class DoorState:
    """A door's scan: the holder's scans at this door, and the room, since it was cleared.

    ``events`` are the holder's standing (not voided) entries and exits at the door's
    product since ``cleared_at`` (the last "everyone out", None: never), oldest first, at
    their recording times. ``inside`` is how many people are inside now (None: not read,
    the door has no capacity).
    """

    events: tuple[tuple[datetime, Direction], ...] = ()
    cleared_at: datetime | None = None
    inside: int | None = None


@dataclass(frozen=True, slots=True)
class Prior:
    """A record already written under the scan's client id (its answer was lost)."""

    attendee_id: int
    at: datetime
    line_item_id: int | None = None
    entries_before: int = 0
    used_then: int = 0


OfflinePolicy = Literal["allow", "refuse"]


@dataclass(frozen=True, slots=True)
class OfflineFacts:
    """What an offline decision adds: the product's policy and this outage so far.

    ``redeemed`` counts this station's offline redemptions of the product in the
    current outage; ``cap`` (None: no cap) bounds them; after ``max_seconds``
    offline (None: no limit) the station redeems nothing until it is back.
    """

    since: datetime
    now: datetime
    policy: OfflinePolicy = "allow"
    redeemed: int = 0
    cap: int | None = None
    max_seconds: float | None = None


class ScanFacts(NamedTuple):
    """Everything a decision depends on, read in one go.

    ``target`` is None when the scan has no product (check-in, picker) or when
    the station's product does not exist (``target_missing``).
    """

    request: ScanRequest
    conference_id: int
    timezone: str
    holder: Holder | None
    target: Target | None = None
    target_missing: bool = False
    prior: Prior | None = None
    offline: OfflineFacts | None = None
    """Set when the facts come from the station's snapshot (the database is away)."""
    now: datetime | None = None
    """The time the scan is decided at: the recording server's clock (the station's own
    offline). Event rules need it; None only where no rule can apply (a lookup)."""
    door: DoorState | None = None
    """A door scan's history at that door (None for other scans)."""


RecordKind = Literal["checkin", "door", "redeem"]


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """An accepted scan as a void sees it: what, whose, when, where, and whether voided."""

    kind: RecordKind
    id: int
    attendee_id: int
    at: datetime
    station: str
    first_name: str
    last_name: str
    username: str
    access_code: str
    product: str = ""
    voided: bool = False


@dataclass(frozen=True, slots=True)
class VoidRequest:
    """A void as the station asks for it. ``supervisor``: a supervisor's PIN was checked."""

    client_id: uuid.UUID
    reason: str
    supervisor: bool
    now: datetime
    window_seconds: float


@dataclass(frozen=True, slots=True)
class VoidFacts:
    """The record to void (None: nothing found) and whether it is this station's last scan."""

    request: VoidRequest
    record: ScanRecord | None
    last_at_station: bool
