"""Reads shared by the check-in and redemption services.

They take an open session and return plain values, so each service method
can compose them inside its own single transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from station.domain import OrderStatus
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    Staff,
    TicketType,
)
from station.services.base import ConferenceRef
from station.services.errors import AttendeeNotFound
from station.services.results import BadgeData, FirstCheckIn, ProductLine
from station.text import display_safe

GENERAL_ADMISSION = "General Admission"


@dataclass(frozen=True, slots=True)
class AttendeeRow:
    id: int
    access_code: str
    order_id: int | None
    order_status: OrderStatus | None
    order_reference: str | None
    first_name: str
    last_name: str
    username: str
    email: str
    checked_in_at_set: bool

    @property
    def name(self) -> str:
        return person_name(self.first_name, self.last_name, self.username)


def person_name(first_name: str, last_name: str, username: str) -> str:
    """The name a screen shows: first and last, else the username; display-safe."""
    full = f"{first_name} {last_name}".strip()
    return display_safe(full or username, limit=120)


def find_attendee(session: Session, conference: ConferenceRef, code: str) -> AttendeeRow:
    """The attendee with this (normalised) code in this conference, or AttendeeNotFound."""
    row = session.execute(
        select(
            Attendee.id,
            Attendee.access_code,
            Attendee.order_id,
            Attendee.checked_in_at,
            Order.status,
            Order.reference,
            Person.first_name,
            Person.last_name,
            Person.username,
            Person.email,
        )
        .join(Person, Person.id == Attendee.person_id)
        .outerjoin(Order, Order.id == Attendee.order_id)
        .where(Attendee.conference_id == conference.id, Attendee.access_code == code)
    ).one_or_none()
    if row is None:
        raise not_found(code)
    return AttendeeRow(
        id=row.id,
        access_code=row.access_code,
        order_id=row.order_id,
        order_status=row.status,
        order_reference=row.reference,
        first_name=row.first_name,
        last_name=row.last_name,
        username=row.username,
        email=row.email,
        checked_in_at_set=row.checked_in_at is not None,
    )


def not_found(code: str) -> AttendeeNotFound:
    return AttendeeNotFound(f"Badge {display_safe(code, limit=40)} not found for this conference.")


def ticket_name(name: str | None) -> str:
    return display_safe(name, limit=80) if name else GENERAL_ADMISSION


def product_lines(session: Session, attendee: AttendeeRow) -> tuple[ProductLine, ...]:
    """Every add-on line of the attendee's order with its redeemed count, in order."""
    if attendee.order_id is None:
        return ()
    redeemed = (
        select(func.count(ProductRedemption.id))
        .where(
            ProductRedemption.order_line_item_id == OrderLineItem.id,
            ProductRedemption.attendee_id == attendee.id,
        )
        .correlate(OrderLineItem)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            OrderLineItem.id,
            OrderLineItem.description,
            OrderLineItem.quantity,
            AddOn.slug,
            AddOn.name,
            redeemed.label("redeemed"),
        )
        .join(AddOn, AddOn.id == OrderLineItem.addon_id)
        .where(OrderLineItem.order_id == attendee.order_id)
        .order_by(OrderLineItem.id)
    ).all()
    return tuple(
        ProductLine(
            line_item_id=r.id,
            addon_slug=r.slug,
            name=display_safe(r.name, limit=80),
            description=display_safe(r.description, limit=120),
            quantity=r.quantity,
            redeemed=r.redeemed,
        )
        for r in rows
    )


def ticket_type_name(session: Session, attendee: AttendeeRow) -> str:
    if attendee.order_id is None:
        return GENERAL_ADMISSION
    name = session.scalar(
        select(TicketType.name)
        .join(OrderLineItem, OrderLineItem.ticket_type_id == TicketType.id)
        .where(OrderLineItem.order_id == attendee.order_id)
        .order_by(OrderLineItem.id.desc())
        .limit(1)
    )
    return ticket_name(name)


def first_check_in(session: Session, attendee_id: int) -> tuple[FirstCheckIn | None, int]:
    """The earliest check-in (when, where, by whom) and how many there are."""
    count = session.scalar(select(func.count(CheckIn.id)).where(CheckIn.attendee_id == attendee_id))
    if not count:
        return None, 0
    row = session.execute(
        select(CheckIn.checked_in_at, CheckIn.station, Staff.name)
        .outerjoin(Staff, Staff.id == CheckIn.staff_id)
        .where(CheckIn.attendee_id == attendee_id)
        .order_by(CheckIn.checked_in_at, CheckIn.id)
        .limit(1)
    ).one()
    first = FirstCheckIn(
        at=row.checked_in_at,
        station=display_safe(row.station, limit=60),
        staff_name=display_safe(row.name, limit=60) if row.name else None,
    )
    return first, int(count)


def badge_data(session: Session, conference: ConferenceRef, attendee: AttendeeRow) -> BadgeData:
    first, count = first_check_in(session, attendee.id)
    email = session.scalar(select(Person.email).join(Attendee).where(Attendee.id == attendee.id))
    return BadgeData(
        attendee_id=attendee.id,
        access_code=attendee.access_code,
        name=attendee.name,
        email=display_safe(email or "", limit=120),
        ticket_type=ticket_type_name(session, attendee),
        order_reference=display_safe(attendee.order_reference or "") or None,
        order_status=attendee.order_status,
        checked_in=first is not None or attendee.checked_in_at_set,
        first_check_in=first,
        check_in_count=count,
        products=product_lines(session, attendee),
        timezone=conference.timezone,
    )
