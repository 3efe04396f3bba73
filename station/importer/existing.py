"""Load what the database already holds for an import, in a handful of bulk queries.

The planner diffs the file against this snapshot in memory, so an import of
100,000 attendees costs a few dozen statements to read, not one per row.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Integer, String, any_, func, literal, select
from sqlalchemy.dialects import postgresql

from station.domain import OrderStatus
from station.importer.records import PRELOAD_NOTE, AttendeeRecord, ProductKind
from station.models import (
    AddOn,
    Attendee,
    Conference,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    TicketType,
)

CHUNK = 2000  # keys per IN (...) list: well below every driver's parameter limit
_T = TypeVar("_T")


def chunked(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def matching(
    conn: Connection, column: Any, values: Sequence[Any], element: Any
) -> Iterator[ColumnElement[bool]]:
    """``column IN values`` conditions, as few as the database allows.

    PostgreSQL takes the whole list as one array parameter (``= ANY(:array)``),
    which keeps the SQL text short: psycopg parses long statements in Python.
    Elsewhere the list is cut into IN lists of CHUNK parameters.
    """
    if conn.dialect.name == "postgresql":
        for part in chunked(values, 50_000):
            yield column == any_(literal(list(part), postgresql.ARRAY(element)))
        return
    for part in chunked(values):
        yield column.in_(part)


def username_for(code: str) -> str:
    """The login name of a person created by an import: stable, unique with the code."""
    name = f"attendee-{code.lower()}"
    if len(name) <= 150:
        return name
    return "attendee-sha256-" + hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ConferenceRow:
    id: int
    slug: str
    timezone: str


@dataclass(frozen=True, slots=True)
class ExistingAttendee:
    id: int
    person_id: int
    order_id: int | None
    checked_in_at: datetime | None
    first_name: str
    last_name: str
    email: str


@dataclass(frozen=True, slots=True)
class ExistingPerson:
    id: int
    first_name: str
    last_name: str
    email: str


@dataclass(frozen=True, slots=True)
class ExistingOrder:
    id: int
    person_id: int
    status: OrderStatus
    owner_codes: frozenset[str]
    attention: str | None = None


@dataclass(frozen=True, slots=True)
class ExistingLine:
    id: int
    kind: ProductKind
    slug: str
    quantity: int
    description: str
    source_id: str | None = None


@dataclass
class Snapshot:
    conference: ConferenceRow | None
    products: dict[tuple[ProductKind, str], int] = field(default_factory=dict)
    attendees: dict[str, ExistingAttendee] = field(default_factory=dict)
    foreign_codes: dict[str, str] = field(default_factory=dict)  # code -> other conference slug
    people: dict[str, ExistingPerson] = field(default_factory=dict)  # by username
    people_here: set[int] = field(default_factory=set)  # persons with an attendee here
    orders: dict[str, ExistingOrder] = field(default_factory=dict)  # by reference
    lines: dict[int, list[ExistingLine]] = field(default_factory=dict)  # by order id
    redeemed: dict[int, int] = field(default_factory=dict)  # by line id
    carried_ids: set[uuid.UUID] = field(default_factory=set)
    ticket_slugs_by_name: dict[str, str] = field(default_factory=dict)  # casefolded name


def find_conference(conn: Connection, slug: str) -> ConferenceRow | None:
    row = conn.execute(
        select(Conference.id, Conference.slug, Conference.timezone).where(Conference.slug == slug)
    ).one_or_none()
    return ConferenceRow(row.id, row.slug, row.timezone) if row else None


def load_snapshot(
    conn: Connection, conference: ConferenceRow | None, records: Sequence[AttendeeRecord]
) -> Snapshot:
    """Everything the planner compares against, except redeemed counts (see below)."""
    snapshot = Snapshot(conference)
    codes = [r.access_code for r in records]
    if conference is not None:
        _load_products(conn, conference.id, snapshot)
        _load_attendees(conn, conference.id, snapshot)
        _load_orders(conn, conference.id, snapshot)
        _load_lines(conn, conference.id, snapshot)
        if any(r.carried for r in records):
            snapshot.carried_ids = set(
                conn.scalars(
                    select(ProductRedemption.client_id).where(
                        ProductRedemption.conference_id == conference.id,
                        ProductRedemption.note == PRELOAD_NOTE,
                    )
                )
            )
    unknown = [c for c in codes if c not in snapshot.attendees]
    _load_foreign_codes(conn, conference, unknown, snapshot)
    _load_people(conn, [username_for(c) for c in unknown], snapshot)
    return snapshot


def load_redeemed(conn: Connection, conference_id: int, line_ids: Iterable[int]) -> dict[int, int]:
    """Redeemed units per line, read AFTER those lines are locked (see lock_lines)."""
    wanted = sorted(set(line_ids))
    counts: dict[int, int] = {}
    for condition in matching(conn, ProductRedemption.order_line_item_id, wanted, Integer()):
        rows = conn.execute(
            select(ProductRedemption.order_line_item_id, func.count())
            .where(ProductRedemption.conference_id == conference_id, condition)
            .group_by(ProductRedemption.order_line_item_id)
        )
        counts.update({line_id: int(n) for line_id, n in rows.all()})
    return counts


def lock_lines(conn: Connection, line_ids: Iterable[int]) -> None:
    """Take the row locks the redemption service takes, so counts cannot move under us.

    Redeeming locks the line item and then counts; locking first here means a
    lowered quantity is checked against every redemption committed before it.
    SQLite holds the whole database lock from BEGIN, so this is PostgreSQL only.
    """
    if conn.dialect.name != "postgresql":
        return
    wanted = sorted(set(line_ids))
    for condition in matching(conn, OrderLineItem.id, wanted, Integer()):
        conn.execute(select(OrderLineItem.id).where(condition).with_for_update()).all()


def _load_products(conn: Connection, conference_id: int, snapshot: Snapshot) -> None:
    tickets = conn.execute(
        select(TicketType.slug, TicketType.id, TicketType.name)
        .where(TicketType.conference_id == conference_id)
        .order_by(TicketType.id)
    ).all()
    addons = conn.execute(
        select(AddOn.slug, AddOn.id).where(AddOn.conference_id == conference_id)
    ).all()
    snapshot.products.update({("ticket", slug): product_id for slug, product_id, _ in tickets})
    for slug, _id, name in tickets:
        snapshot.ticket_slugs_by_name.setdefault(name.casefold(), slug)
    snapshot.products.update({("addon", slug): product_id for slug, product_id in addons})


def _load_attendees(conn: Connection, conference_id: int, snapshot: Snapshot) -> None:
    rows = conn.execute(
        select(
            Attendee.id,
            Attendee.access_code,
            Attendee.person_id,
            Attendee.order_id,
            Attendee.checked_in_at,
            Person.first_name,
            Person.last_name,
            Person.email,
        )
        .join(Person, Person.id == Attendee.person_id)
        .where(Attendee.conference_id == conference_id)
    )
    for r in rows.all():
        snapshot.attendees[r.access_code] = ExistingAttendee(
            r.id, r.person_id, r.order_id, r.checked_in_at, r.first_name, r.last_name, r.email
        )
        snapshot.people_here.add(r.person_id)


def _load_orders(conn: Connection, conference_id: int, snapshot: Snapshot) -> None:
    """Orders by reference, each with the codes of the attendees it is attached to."""
    owners: defaultdict[int, set[str]] = defaultdict(set)
    for code, attendee in snapshot.attendees.items():
        if attendee.order_id is not None:
            owners[attendee.order_id].add(code)
    rows = conn.execute(
        select(
            Order.id, Order.reference, Order.person_id, Order.status, Order.checkin_attention
        ).where(Order.conference_id == conference_id)
    ).all()
    for r in rows:
        snapshot.orders[r.reference] = ExistingOrder(
            r.id, r.person_id, r.status, frozenset(owners.get(r.id, ())), r.checkin_attention
        )


def _load_lines(conn: Connection, conference_id: int, snapshot: Snapshot) -> None:
    slugs: dict[tuple[str, int | None], str] = {
        (kind, pid): slug for (kind, slug), pid in snapshot.products.items()
    }
    rows = conn.execute(
        select(
            OrderLineItem.id,
            OrderLineItem.order_id,
            OrderLineItem.quantity,
            OrderLineItem.description,
            OrderLineItem.ticket_type_id,
            OrderLineItem.addon_id,
            OrderLineItem.source_line_id,
        )
        .join(Order, Order.id == OrderLineItem.order_id)
        .where(Order.conference_id == conference_id)
        .order_by(OrderLineItem.id)
    )
    lines = snapshot.lines
    for line_id, order_id, quantity, description, ticket_id, addon_id, source_id in rows.all():
        kind: ProductKind = "ticket" if ticket_id is not None else "addon"
        slug = slugs[(kind, ticket_id if ticket_id is not None else addon_id)]
        line = ExistingLine(line_id, kind, slug, quantity, description, source_id)
        if order_id in lines:
            lines[order_id].append(line)
        else:
            lines[order_id] = [line]


def _load_foreign_codes(
    conn: Connection, conference: ConferenceRow | None, codes: Sequence[str], snapshot: Snapshot
) -> None:
    for condition in matching(conn, Attendee.access_code, codes, String()):
        query = (
            select(Attendee.access_code, Conference.slug)
            .join(Conference, Conference.id == Attendee.conference_id)
            .where(condition)
        )
        if conference is not None:
            query = query.where(Attendee.conference_id != conference.id)
        found = conn.execute(query).all()
        snapshot.foreign_codes.update({row.access_code: row.slug for row in found})


def _load_people(conn: Connection, usernames: Sequence[str], snapshot: Snapshot) -> None:
    for condition in matching(conn, Person.username, usernames, String()):
        rows = conn.execute(
            select(
                Person.id, Person.username, Person.first_name, Person.last_name, Person.email
            ).where(condition)
        ).all()
        for r in rows:
            snapshot.people[r.username] = ExistingPerson(r.id, r.first_name, r.last_name, r.email)
