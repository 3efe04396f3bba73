"""Reads of the manual lookup (search): plain values from an open session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from station.domain import OrderStatus
from station.models import OrderLineItem, TicketType
from station.rulebook.words import person_name, ticket_name


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


def ticket_type_name(session: Session, attendee: AttendeeRow) -> str:
    if attendee.order_id is None:
        return ticket_name(None)
    name = session.scalar(
        select(TicketType.name)
        .join(OrderLineItem, OrderLineItem.ticket_type_id == TicketType.id)
        .where(OrderLineItem.order_id == attendee.order_id)
        .order_by(OrderLineItem.id.desc())
        .limit(1)
    )
    return ticket_name(name)
