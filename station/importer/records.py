"""What an import source hands to the planner: clean records and located problems.

Both sources (CSV and django-program's preload JSON) are parsed into the same
records, so the diffing and writing code has one shape to deal with and every
problem, whatever its source, reads "line N: what is wrong".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from station.domain import OrderStatus

ProductKind = Literal["ticket", "addon"]
# One wanted line of an order: its product, and its id in the source system if it has one.
LineKey = tuple[ProductKind, str, str | None]

# client_id of a carried-over redemption: uuid5(PRELOAD_NAMESPACE, "conference:line:index").
PRELOAD_NAMESPACE = uuid.UUID("6f1b2c8e-4d1a-5e0b-9a57-3c2f1d0e8b41")
PRELOAD_NOTE = "imported from preload"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with one input row (or the whole file when ``line`` is 1)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong delimiter, not UTF-8, no header...)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True, slots=True)
class WantedProduct:
    """One product line an attendee's order should have after the import."""

    kind: ProductKind
    slug: str
    name: str
    quantity: int
    description: str
    # The line item's id in the source system (django-program); None from a CSV file.
    source_id: str | None = None

    @property
    def key(self) -> LineKey:
        return (self.kind, self.slug, self.source_id)


@dataclass(frozen=True, slots=True)
class CarriedRedemption:
    """A unit already redeemed in the source system, to be blocked here too."""

    kind: ProductKind
    slug: str
    client_id: uuid.UUID
    redeemed_at: datetime
    source_id: str | None = None

    @property
    def key(self) -> LineKey:
        return (self.kind, self.slug, self.source_id)


@dataclass(frozen=True, slots=True)
class AttendeeRecord:
    line: int
    access_code: str
    first_name: str
    last_name: str
    email: str
    order_reference: str | None
    order_status: OrderStatus | None
    products: tuple[WantedProduct, ...] = ()
    carried: tuple[CarriedRedemption, ...] = ()
    checked_in_at: datetime | None = None
    # The order's attention note: None when the source has no such column (the note is
    # kept as it is), "" to clear it.
    order_attention: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """A whole source file: the good records, the bad rows, and notices worth showing."""

    kind: Literal["csv", "preload"]
    records: tuple[AttendeeRecord, ...]
    problems: tuple[Problem, ...]
    notices: tuple[str, ...] = ()
    conference_slug: str | None = None
    generated_at: datetime | None = None
    rows_read: int = 0


def preload_client_id(conference_slug: str, line_item_id: str, index: int) -> uuid.UUID:
    """The same redeemed unit gets the same id on every import, so nothing doubles."""
    return uuid.uuid5(PRELOAD_NAMESPACE, f"{conference_slug}:{line_item_id}:{index}")


def preload_check_in_id(conference_slug: str, access_code: str) -> uuid.UUID:
    """The carried-over first check-in of an attendee, the same on every import."""
    return uuid.uuid5(PRELOAD_NAMESPACE, f"{conference_slug}:check-in:{access_code}")
