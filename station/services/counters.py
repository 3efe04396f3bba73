"""Read-only counting for the scan screen's counters, one transaction per call.

Kept apart from the services that decide scans: nothing here writes, and the
queries only count what the station is for (see ``StationTally``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from station.domain import ACTIVE_ORDER_STATUSES, Mode
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    DoorCheck,
    Order,
    OrderLineItem,
    ProductRedemption,
    ScanLog,
    ScanVoid,
    TicketType,
)
from station.services import rooms
from station.services.base import ServiceBase
from station.services.errors import ConfigurationError
from station.services.results import StationContext
from station.services.store import ConferenceRef
from station.services.tallies import StationTally
from station.services.void_queries import not_voided


class CounterService(ServiceBase):
    """Counts for the counters line; every method is a read."""

    @classmethod
    def sharing(cls, other: ServiceBase) -> CounterService:
        """On another service's sessions and clock (its engine, its idea of today)."""
        return cls(other._sessions, clock=other._clock, hot_paths=False)

    def tally(self, ctx: StationContext, mode: Mode, product: str | None) -> StationTally:
        with self._transaction() as session:
            conference = self._conference_ref(ctx.conference)
            start = self._start_of_day(conference)
            end = start + timedelta(days=1)
            station_today = session.scalar(
                select(func.count(ScanLog.id)).where(
                    ScanLog.conference_id == conference.id,
                    ScanLog.station == ctx.station,
                    ScanLog.outcome == "accepted",
                    ScanLog.action != "void",
                    ScanLog.scanned_at >= start,
                    ScanLog.scanned_at < end,
                )
            )
            # Voids made here today take their scan back (a void is not a scan).
            voided_here = session.scalar(
                select(func.count(ScanVoid.id)).where(
                    ScanVoid.conference_id == conference.id,
                    ScanVoid.station == ctx.station,
                    ScanVoid.voided_at >= start,
                    ScanVoid.voided_at < end,
                )
            )
            station_today = max(0, int(station_today or 0) - int(voided_here or 0))
            inside: int | None = None
            capacity: int | None = None
            if mode is Mode.MEAL:
                today, done, total = _meal(session, conference, product, start, end)
            elif mode is Mode.DOOR:
                today, done = _door(session, conference, product, start, end)
                inside, capacity = _room(session, conference, product)
                total = None
            else:
                today, done, total = _desk(session, conference, start, end)
            return StationTally(
                mode=mode,
                today=today,
                done=done,
                total=total,
                station_today=int(station_today or 0),
                inside=inside if mode is Mode.DOOR else None,
                capacity=capacity if mode is Mode.DOOR else None,
            )

    def _start_of_day(self, conference: ConferenceRef) -> datetime:
        local_now = self._clock().astimezone(_zone(conference.timezone))
        return local_now.replace(hour=0, minute=0, second=0, microsecond=0)


def _desk(
    session: Session, conference: ConferenceRef, start: datetime, end: datetime
) -> tuple[int, int, int]:
    today = session.scalar(
        select(func.count(distinct(CheckIn.attendee_id))).where(
            CheckIn.conference_id == conference.id,
            CheckIn.checked_in_at >= start,
            CheckIn.checked_in_at < end,
            not_voided("checkin", CheckIn.id),
        )
    )
    done, total = session.execute(
        select(func.count(Attendee.checked_in_at), func.count(Attendee.id)).where(
            Attendee.conference_id == conference.id
        )
    ).one()
    return int(today or 0), int(done), int(total)


def _addon_id(session: Session, conference: ConferenceRef, slug: str) -> int:
    addon_id = session.scalar(
        select(AddOn.id).where(AddOn.conference_id == conference.id, AddOn.slug == slug)
    )
    if addon_id is None:
        raise ConfigurationError(
            f"Add-on {slug!r} does not exist in conference {conference.slug!r}."
        )
    return int(addon_id)


def _meal(
    session: Session,
    conference: ConferenceRef,
    product: str | None,
    start: datetime,
    end: datetime,
) -> tuple[int, int, int]:
    """Units of the station's add-on served today and in all, and how many were bought.
    Without a product (a line serving whatever the badge holds): every add-on."""
    addon_id = _addon_id(session, conference, product.removeprefix("addon:")) if product else None
    served = (
        select(func.count(ProductRedemption.id))
        .join(OrderLineItem, OrderLineItem.id == ProductRedemption.order_line_item_id)
        .where(
            ProductRedemption.conference_id == conference.id,
            not_voided("redeem", ProductRedemption.id),
        )
    )
    bought = (
        select(func.coalesce(func.sum(OrderLineItem.quantity), 0))
        .join(Order, Order.id == OrderLineItem.order_id)
        .where(
            Order.conference_id == conference.id,
            Order.status.in_(ACTIVE_ORDER_STATUSES),
            OrderLineItem.addon_id.is_not(None),
        )
    )
    if addon_id is not None:
        served = served.where(OrderLineItem.addon_id == addon_id)
        bought = bought.where(OrderLineItem.addon_id == addon_id)
    today = session.scalar(
        served.where(ProductRedemption.redeemed_at >= start, ProductRedemption.redeemed_at < end)
    )
    done = session.scalar(served)
    total = session.scalar(bought)
    return int(today or 0), int(done or 0), int(total or 0)


def _door(
    session: Session,
    conference: ConferenceRef,
    product: str | None,
    start: datetime,
    end: datetime,
) -> tuple[int, int]:
    """People admitted by this door's product today and on any day (each person once)."""
    admitted = select(func.count(distinct(DoorCheck.attendee_id))).where(
        DoorCheck.conference_id == conference.id,
        DoorCheck.direction == "in",  # an exit scan admits nobody
        not_voided("door", DoorCheck.id),
    )
    kind, _sep, slug = (product or "").partition(":")
    if kind == "ticket":
        ticket_id = session.scalar(
            select(TicketType.id).where(
                TicketType.conference_id == conference.id, TicketType.slug == slug
            )
        )
        admitted = admitted.where(DoorCheck.ticket_type_id == ticket_id)
    elif kind == "addon":
        admitted = admitted.where(DoorCheck.addon_id == _addon_id(session, conference, slug))
    today = session.scalar(
        admitted.where(DoorCheck.checked_at >= start, DoorCheck.checked_at < end)
    )
    done = session.scalar(admitted)
    return int(today or 0), int(done or 0)


def _room(
    session: Session, conference: ConferenceRef, product: str | None
) -> tuple[int | None, int | None]:
    """People inside the door's room now, and its capacity (None: no limit)."""
    kind, _sep, slug = (product or "").partition(":")
    model: type[TicketType] | type[AddOn] = TicketType if kind == "ticket" else AddOn
    row = session.execute(
        select(model.id, model.capacity).where(
            model.conference_id == conference.id, model.slug == slug
        )
    ).one_or_none()
    if row is None:
        return None, None
    return rooms.inside(session, "ticket" if kind == "ticket" else "addon", row.id), row.capacity


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
