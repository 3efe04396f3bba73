"""Check-in desk and door operations, plus the lookup and the station's counters.

The rules (from the conference's Django service, with its gaps closed) live in
the rule book, ``station.rulebook``; this module names the scans and reads.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from station.domain import ACTIVE_ORDER_STATUSES, Mode, OrderStatus
from station.models import AddOn, Attendee, ScanLog, TicketType
from station.rulebook import ScanRequest, rules, words
from station.rulebook.event_rules import Direction
from station.rulebook.rules import unknown_product
from station.services import hot_sql, search
from station.services.base import ServiceBase
from station.services.errors import ConfigurationError, InvalidInput, NotEligible, Refusal
from station.services.results import (
    AttendeeMatch,
    BadgeData,
    CheckInResult,
    DoorCheckResult,
    ProductChoice,
    StationContext,
    StationCounts,
    StationInfo,
)
from station.services.store import ConferenceRef
from station.text import display_safe

__all__ = ["CheckInService", "parse_product", "resolve_product", "unknown_product"]


def parse_product(product: str) -> tuple[str, str]:
    """Split a door product "ticket:<slug>" / "addon:<slug>"; exactly one kind."""
    kind, sep, slug = product.partition(":")
    if not sep or kind not in ("ticket", "addon") or not slug:
        raise ConfigurationError(
            f"Door product must be 'ticket:<slug>' or 'addon:<slug>' (got {product!r})."
        )
    return kind, slug


def resolve_product(
    session: Session, conference: ConferenceRef, product: str
) -> tuple[str, int, str]:
    """(kind, id, display name) of a product of this conference, or ConfigurationError."""
    kind, slug = parse_product(product)
    model: type[TicketType] | type[AddOn] = TicketType if kind == "ticket" else AddOn
    row = session.execute(
        select(model.id, model.name).where(model.conference_id == conference.id, model.slug == slug)
    ).one_or_none()
    if row is None:
        raise unknown_product(kind, slug, conference.slug)
    return kind, row.id, display_safe(row.name, limit=80)


class CheckInService(ServiceBase):
    """Looks attendees up, checks them in (re-entry allowed) and runs door checks.

    The rules are the rule book's (``station.rulebook``); this class only says
    which scan is which and runs it through ``ServiceBase._scan``.
    """

    @staticmethod
    def validate_order_status(
        status: OrderStatus | None, *, action: str = "check-in"
    ) -> NotEligible | None:
        """None when the order lets the attendee in, else the refusal to raise."""
        if status in ACTIVE_ORDER_STATUSES:
            return None
        return words.order_refused(status, action)

    def station_info(self, ctx: StationContext, mode: Mode, product: str | None) -> StationInfo:
        with self._transaction() as session:
            conference = self._conference_ref(ctx.conference)
            product_name: str | None = None
            if mode is Mode.MEAL and product:
                slug = product.removeprefix("addon:")
                _kind, _id, product_name = resolve_product(session, conference, f"addon:{slug}")
            elif mode is Mode.DOOR:
                if not product:
                    raise ConfigurationError(
                        "Door mode needs a product ('ticket:<slug>' or 'addon:<slug>')."
                    )
                _kind, _id, product_name = resolve_product(session, conference, product)
            return StationInfo(
                conference_slug=conference.slug,
                conference_name=conference.name,
                timezone=conference.timezone,
                mode=mode,
                product_name=product_name,
            )

    def lookup_attendee(self, ctx: StationContext, access_code: str) -> BadgeData:
        facts = self._facts(ctx, access_code)
        if facts.holder is None:
            raise words.not_found(facts.request.code)
        return rules.badge(facts.holder, facts.timezone)

    def get_badge_data(self, ctx: StationContext, access_code: str) -> BadgeData:
        return self.lookup_attendee(ctx, access_code)

    def product_choices(self, ctx: StationContext, access_code: str) -> ProductChoice:
        """A picker's list for this badge; a refusal is logged like any scan's."""
        answer = rules.choices(self._facts(ctx, access_code))
        if isinstance(answer, Refusal):
            raise self._refused(ctx, "redeem", access_code, answer)
        return answer

    def check_in(
        self,
        ctx: StationContext,
        access_code: str,
        *,
        client_id: uuid.UUID | None = None,
        note: str = "",
    ) -> CheckInResult:
        """Record a check-in; the first one of an attendee alone sets checked_in_at."""
        request = ScanRequest("checkin", "", client_id or uuid.uuid4(), note=note)
        answer = self._scan(ctx, request, access_code)
        assert isinstance(answer, CheckInResult)
        return answer

    def find_check_in(self, ctx: StationContext, client_id: uuid.UUID) -> CheckInResult | None:
        """The check-in written under ``client_id``, if any; writes nothing."""
        answer = self._replay(ctx, ScanRequest("checkin", "", client_id))
        assert answer is None or isinstance(answer, CheckInResult)
        return answer

    def find_door_check(
        self, ctx: StationContext, client_id: uuid.UUID, *, product: str
    ) -> DoorCheckResult | None:
        """The door admission written under ``client_id``, if any; writes nothing."""
        parse_product(product)
        answer = self._replay(ctx, ScanRequest("door", "", client_id, product=product))
        assert answer is None or isinstance(answer, DoorCheckResult)
        return answer

    def record_door_check(
        self,
        ctx: StationContext,
        access_code: str,
        *,
        product: str,
        client_id: uuid.UUID | None = None,
        direction: Direction = "in",
    ) -> DoorCheckResult:
        """Admit the attendee to a sub-event if their active order includes the product and
        the door's rules allow it now; ``direction="out"`` records an exit instead."""
        code = self._normalise(ctx, "door", access_code)  # a bad scan before a bad product
        parse_product(product)
        request = ScanRequest(
            "door", "", client_id or uuid.uuid4(), product=product, direction=direction
        )
        del code
        answer = self._scan(ctx, request, access_code)
        assert isinstance(answer, DoorCheckResult)
        return answer

    def search_attendees(
        self, ctx: StationContext, query: str, *, limit: int = 20
    ) -> tuple[AttendeeMatch, ...]:
        """Find badges by part of a name, email, order reference or code, for a lost or
        unreadable badge: case, accents and small typos do not matter (``search``)."""
        text = " ".join(query.split())
        if len(text) < 2:
            return ()
        if len(text) > 100:
            raise InvalidInput("Search text too long — type part of a name, email or code.")
        with self._transaction() as session:
            conference = self._conference_ref(ctx.conference)
            return search.find_attendees(session, conference.id, text, limit=limit)

    def _start_of_day(self, conference: ConferenceRef) -> datetime:
        local_now = self._clock().astimezone(_zone(conference.timezone))
        return local_now.replace(hour=0, minute=0, second=0, microsecond=0)

    def counts(self, ctx: StationContext) -> StationCounts:
        """Counters for the scan screen; today is the conference's local day."""
        if self._hot is not None:
            conference = self._conference_ref(ctx.conference)
            start = self._start_of_day(conference)
            row = self._hot_row(
                hot_sql.COUNTS,
                conference_id=conference.id,
                station=ctx.station,
                day_start=start,
                day_end=start + timedelta(days=1),
            )
            return StationCounts(
                station_today=int(row.station_today),
                conference_checked_in=int(row.conference_checked_in),
                conference_attendees=int(row.conference_attendees),
            )
        with self._transaction() as session:
            conference = self._conference_ref(ctx.conference)
            start_of_day = self._start_of_day(conference)
            station_today = session.scalar(
                select(func.count(ScanLog.id)).where(
                    ScanLog.conference_id == conference.id,
                    ScanLog.station == ctx.station,
                    ScanLog.outcome == "accepted",
                    ScanLog.scanned_at >= start_of_day,
                    ScanLog.scanned_at < start_of_day + timedelta(days=1),
                )
            )
            checked_in, total = session.execute(
                select(func.count(Attendee.checked_in_at), func.count(Attendee.id)).where(
                    Attendee.conference_id == conference.id
                )
            ).one()
            return StationCounts(
                station_today=int(station_today or 0),
                conference_checked_in=int(checked_in),
                conference_attendees=int(total),
            )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
