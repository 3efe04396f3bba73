"""Build conference data for tests in a few readable lines, on a real database."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from station.domain import OrderStatus
from station.models import (
    AddOn,
    Attendee,
    Conference,
    Order,
    OrderLineItem,
    Person,
    Staff,
    TicketType,
)
from station.pins import hash_pin

_counter = itertools.count(1)


@dataclass
class Built:
    """Ids of what a builder call made, so tests can assert on rows."""

    attendee_id: int
    access_code: str
    order_id: int | None
    line_items: dict[str, int] = field(default_factory=dict)


@dataclass
class ConferenceBuilder:
    sessions: sessionmaker[Session]
    slug: str = "pycon-test"
    name: str = "PyCon Test"
    timezone: str = "Europe/Berlin"
    conference_id: int = 0

    def __post_init__(self) -> None:
        with self.sessions.begin() as s:
            existing = s.scalar(select(Conference).where(Conference.slug == self.slug))
            if existing is None:
                existing = Conference(slug=self.slug, name=self.name, timezone=self.timezone)
                s.add(existing)
                s.flush()
            self.conference_id = existing.id

    def ticket_type(
        self, slug: str, name: str | None = None, *, attention: str | None = None
    ) -> int:
        with self.sessions.begin() as s:
            found = s.scalar(
                select(TicketType).where(
                    TicketType.conference_id == self.conference_id, TicketType.slug == slug
                )
            )
            if found is None:
                found = TicketType(
                    conference_id=self.conference_id,
                    slug=slug,
                    name=name or slug,
                    checkin_attention=attention,
                )
                s.add(found)
                s.flush()
            return found.id

    def addon(self, slug: str, name: str | None = None, *, attention: str | None = None) -> int:
        with self.sessions.begin() as s:
            found = s.scalar(
                select(AddOn).where(AddOn.conference_id == self.conference_id, AddOn.slug == slug)
            )
            if found is None:
                found = AddOn(
                    conference_id=self.conference_id,
                    slug=slug,
                    name=name or slug,
                    checkin_attention=attention,
                )
                s.add(found)
                s.flush()
            return found.id

    def staff(self, name: str, pin: str | None = None, *, supervisor: bool = False) -> int:
        with self.sessions.begin() as s:
            member = Staff(
                name=name, pin_hash=hash_pin(pin) if pin else None, supervisor=supervisor
            )
            s.add(member)
            s.flush()
            return member.id

    def attendee(
        self,
        code: str | None = None,
        *,
        first_name: str = "Ada",
        last_name: str = "Lovelace",
        email: str | None = None,
        username: str | None = None,
        status: OrderStatus | None = OrderStatus.PAID,
        ticket: str | None = "general",
        addons: dict[str, int] | None = None,
        attention: str | None = None,
    ) -> Built:
        """An attendee with an order (unless status is None) holding a ticket and add-ons.

        ``attention`` is the order's attention note.

        ``addons`` maps add-on slug to purchased quantity; the add-on's name is its slug
        unless it was created earlier with another name.
        """
        n = next(_counter)
        code = code or f"CODE{n:06d}"
        ticket_id = self.ticket_type(ticket) if ticket else None
        addon_ids = {slug: self.addon(slug) for slug in (addons or {})}
        with self.sessions.begin() as s:
            person = Person(
                username=username or f"user{n}-{code.lower()}",
                first_name=first_name,
                last_name=last_name,
                email=email if email is not None else f"user{n}@example.org",
            )
            s.add(person)
            s.flush()
            order = None
            line_items: dict[str, int] = {}
            if status is not None:
                order = Order(
                    conference_id=self.conference_id,
                    person_id=person.id,
                    reference=f"ORD-{n:06d}",
                    status=status,
                    checkin_attention=attention,
                )
                s.add(order)
                s.flush()
                if ticket_id is not None:
                    item = OrderLineItem(
                        order_id=order.id,
                        description=f"Ticket {ticket}",
                        quantity=1,
                        ticket_type_id=ticket_id,
                    )
                    s.add(item)
                    s.flush()
                    line_items[f"ticket:{ticket}"] = item.id
                for slug, quantity in (addons or {}).items():
                    item = OrderLineItem(
                        order_id=order.id,
                        description=f"{slug} x{quantity}",
                        quantity=quantity,
                        addon_id=addon_ids[slug],
                    )
                    s.add(item)
                    s.flush()
                    line_items[slug] = item.id
            attendee = Attendee(
                person_id=person.id,
                conference_id=self.conference_id,
                order_id=order.id if order else None,
                access_code=code.upper(),
            )
            s.add(attendee)
            s.flush()
            return Built(attendee.id, attendee.access_code, order.id if order else None, line_items)
