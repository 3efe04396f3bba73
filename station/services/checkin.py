"""Check-in desk and door operations.

The rules come from the conference's Django service (order statuses, re-entry,
badge fields, door checks) with its gaps closed: door checks refuse inactive
orders and products the attendee did not buy, codes match case-insensitively,
bad input is refused before any query, and every scan attempt is logged.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from station.codes import normalise_access_code
from station.domain import ACTIVE_ORDER_STATUSES, Mode, OrderStatus
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    DoorCheck,
    OrderLineItem,
    ScanLog,
    TicketType,
)
from station.services import hot_paths, hot_sql, queries, search
from station.services.base import ConferenceRef, ServiceBase
from station.services.errors import (
    ConfigurationError,
    InvalidInput,
    NotEligible,
    Reason,
    Refusal,
    not_admitted,
)
from station.services.results import (
    AttendeeMatch,
    BadgeData,
    CheckInResult,
    DoorCheckResult,
    FirstCheckIn,
    StationContext,
    StationCounts,
    StationInfo,
)
from station.text import display_safe

_STATUS_REASONS = {
    OrderStatus.PENDING: Reason.UNPAID,
    OrderStatus.CANCELLED: Reason.CANCELLED,
    OrderStatus.REFUNDED: Reason.REFUNDED,
}


# The door refusal the statement decides and logs itself, in the words made here.
_DOOR_WORDS_FOR_SQL = (("#not_purchased", not_admitted(hot_paths.HOLES[0])),)


def parse_product(product: str) -> tuple[str, str]:
    """Split a door product "ticket:<slug>" / "addon:<slug>"; exactly one kind."""
    kind, sep, slug = product.partition(":")
    if not sep or kind not in ("ticket", "addon") or not slug:
        raise ConfigurationError(
            f"Door product must be 'ticket:<slug>' or 'addon:<slug>' (got {product!r})."
        )
    return kind, slug


def unknown_product(kind: str, slug: str, conference_slug: str) -> ConfigurationError:
    label = "Ticket type" if kind == "ticket" else "Add-on"
    return ConfigurationError(f"{label} {slug!r} does not exist in conference {conference_slug!r}.")


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
    """Looks attendees up, checks them in (re-entry allowed) and runs door checks."""

    @staticmethod
    def validate_order_status(
        status: OrderStatus | None, *, action: str = "check-in"
    ) -> NotEligible | None:
        """None when the order lets the attendee in, else the refusal to raise."""
        if status is None:
            return NotEligible(
                f"Attendee has no order — {action} not allowed.", reason=Reason.NO_ORDER
            )
        if status in ACTIVE_ORDER_STATUSES:
            return None
        return NotEligible(
            f"Order status is '{status.label}' — {action} not allowed.",
            reason=_STATUS_REASONS.get(status, Reason.UNPAID),
        )

    def station_info(self, ctx: StationContext, mode: Mode, product: str | None) -> StationInfo:
        with self._transaction() as session:
            conference = self._conference(session, ctx.conference)
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
        code = normalise_access_code(access_code)
        if self._hot is not None:
            row = self._hot_row(hot_sql.LOOKUP, conference=ctx.conference, code=code, refusals="{}")
            if row.conference_id is None:
                raise hot_paths.unknown_conference(ctx.conference)
            if row.attendee_id is None:
                raise queries.not_found(code)
            return hot_paths.badge(row)
        with self._transaction() as session:
            conference = self._conference(session, ctx.conference)
            attendee = queries.find_attendee(session, conference, code)
            return queries.badge_data(session, conference, attendee)

    def get_badge_data(self, ctx: StationContext, access_code: str) -> BadgeData:
        return self.lookup_attendee(ctx, access_code)

    def check_in(
        self,
        ctx: StationContext,
        access_code: str,
        *,
        client_id: uuid.UUID | None = None,
        note: str = "",
    ) -> CheckInResult:
        """Record a check-in; the first one of an attendee alone sets checked_in_at."""
        client_id = client_id or uuid.uuid4()
        if self._hot is not None:
            return self._hot_check_in(ctx, access_code, client_id, note)
        return self._exactly_once(
            ctx,
            "checkin",
            access_code,
            replayed=lambda session: self._replayed_check_in(session, ctx, client_id),
            attempt=lambda session, code: self._check_in(session, ctx, code, client_id, note),
        )

    def _hot_check_in(
        self, ctx: StationContext, access_code: str, client_id: uuid.UUID, note: str
    ) -> CheckInResult:
        """One statement: look up, decide, write check-in and scan log, return the badge."""
        code = self._normalise(ctx, "checkin", access_code)
        now = self._clock()
        row = self._hot_row(
            hot_sql.CHECK_IN,
            conference=ctx.conference,
            code=code,
            refused_code=display_safe(access_code, limit=256),
            refusals=hot_paths.refusals_json("check-in", self.validate_order_status),
            not_found_message=queries.not_found(code).message,
            client_id=client_id,
            now=now,
            station=ctx.station[:100],
            staff_id=ctx.staff_id,
            note=note,
        )
        if row.conference_id is None:
            raise hot_paths.unknown_conference(ctx.conference)
        if row.replay and row.attendee_id is not None and row.prior_attendee_id == row.attendee_id:
            return CheckInResult(
                client_id=client_id,
                reason=Reason.REENTRY if row.prior_earlier else Reason.OK,
                checked_in_at=hot_paths.utc(row.prior_at),
                badge=hot_paths.badge(row),
                replayed=True,
            )
        eligible = row.attendee_id is not None and row.refusal is None
        if row.replay or (eligible and row.check_in_id is None):
            # A retry racing its original, or of another badge: rebuilt the general way.
            return self._replay_check_in(ctx, client_id)
        # Refusals below were logged by the statement itself.
        if row.attendee_id is None:
            raise queries.not_found(code)
        refusal = self.validate_order_status(hot_paths.order_status(row.order_status))
        if refusal is not None:
            raise refusal.concerning(row.attendee_id, hot_paths.attendee_name(row))
        own = FirstCheckIn(
            at=now,
            station=display_safe(ctx.station[:100], limit=60),
            staff_name=display_safe(row.staff_name, limit=60) if row.staff_name else None,
        )
        return CheckInResult(
            client_id=client_id,
            reason=Reason.OK if row.first_time else Reason.REENTRY,
            checked_in_at=now,
            badge=hot_paths.badge(row, own_check_in=own),
        )

    def find_check_in(self, ctx: StationContext, client_id: uuid.UUID) -> CheckInResult | None:
        """The check-in written under ``client_id``, if any; writes nothing."""
        with self._transaction() as session:
            return self._replayed_check_in(session, ctx, client_id)

    def find_door_check(
        self, ctx: StationContext, client_id: uuid.UUID, *, product: str
    ) -> DoorCheckResult | None:
        """The door admission written under ``client_id``, if any; writes nothing."""
        with self._transaction() as session:
            return self._replayed_door_check(session, ctx, client_id, product)

    def _replay_check_in(self, ctx: StationContext, client_id: uuid.UUID) -> CheckInResult:
        with self._transaction() as session:
            replay = self._replayed_check_in(session, ctx, client_id)
        assert replay is not None
        return replay

    def _check_in(
        self, session: Session, ctx: StationContext, code: str, client_id: uuid.UUID, note: str
    ) -> CheckInResult:
        conference = self._conference(session, ctx.conference)
        attendee = queries.find_attendee(session, conference, code)
        refusal = self.validate_order_status(attendee.order_status)
        if refusal is not None:
            raise refusal.concerning(attendee.id, attendee.name)
        now = self._clock()
        session.execute(
            insert(CheckIn).values(
                client_id=client_id,
                attendee_id=attendee.id,
                conference_id=conference.id,
                checked_in_at=now,
                staff_id=ctx.staff_id,
                station=ctx.station[:100],
                note=note,
            )
        )
        # Guarded so two desks checking the same person in at once agree on who was first.
        first = session.execute(  # type: ignore[attr-defined]
            update(Attendee)
            .where(Attendee.id == attendee.id, Attendee.checked_in_at.is_(None))
            .values(checked_in_at=now, updated_at=now)
        ).rowcount
        reason = Reason.OK if first else Reason.REENTRY
        self._log_scan(
            session,
            ctx,
            action="checkin",
            code=code,
            reason=reason,
            accepted=True,
            conference_id=conference.id,
            attendee_id=attendee.id,
        )
        badge = queries.badge_data(session, conference, attendee)
        return CheckInResult(client_id=client_id, reason=reason, checked_in_at=now, badge=badge)

    def _replayed_check_in(
        self, session: Session, ctx: StationContext, client_id: uuid.UUID
    ) -> CheckInResult | None:
        original = session.execute(
            select(CheckIn.id, CheckIn.attendee_id, CheckIn.checked_in_at).where(
                CheckIn.client_id == client_id
            )
        ).one_or_none()
        if original is None:
            return None
        conference = self._conference(session, ctx.conference)
        code = session.scalar(
            select(Attendee.access_code).where(Attendee.id == original.attendee_id)
        )
        attendee = queries.find_attendee(session, conference, code or "")
        earlier = session.scalar(
            select(func.count(CheckIn.id)).where(
                CheckIn.attendee_id == original.attendee_id, CheckIn.id < original.id
            )
        )
        return CheckInResult(
            client_id=client_id,
            reason=Reason.REENTRY if earlier else Reason.OK,
            checked_in_at=original.checked_in_at,
            badge=queries.badge_data(session, conference, attendee),
            replayed=True,
        )

    def record_door_check(
        self,
        ctx: StationContext,
        access_code: str,
        *,
        product: str,
        client_id: uuid.UUID | None = None,
    ) -> DoorCheckResult:
        """Admit the attendee to a sub-event if their active order includes the product."""
        client_id = client_id or uuid.uuid4()
        if self._hot is not None:
            return self._hot_door_check(ctx, access_code, product, client_id)
        return self._exactly_once(
            ctx,
            "door",
            access_code,
            replayed=lambda session: self._replayed_door_check(session, ctx, client_id, product),
            attempt=lambda session, code: self._door_check(session, ctx, code, product, client_id),
        )

    def _hot_door_check(
        self, ctx: StationContext, access_code: str, product: str, client_id: uuid.UUID
    ) -> DoorCheckResult:
        """One statement: look up, decide, write door check and scan log."""
        # A bad scan is refused (and logged) before the product is looked at, as in general.
        code = self._normalise(ctx, "door", access_code)
        kind, slug = parse_product(product)
        now = self._clock()
        row = self._hot_row(
            hot_sql.DOOR_CHECK,
            conference=ctx.conference,
            code=code,
            refused_code=display_safe(access_code, limit=256),
            refusals=hot_paths.refusals_json(
                "entry", self.validate_order_status, _DOOR_WORDS_FOR_SQL
            ),
            not_found_message=queries.not_found(code).message,
            kind=kind,
            product=slug,
            client_id=client_id,
            now=now,
            station=ctx.station[:100],
            staff_id=ctx.staff_id,
        )
        if row.conference_id is None:
            raise hot_paths.unknown_conference(ctx.conference)
        if row.product_id is None:
            raise unknown_product(kind, slug, ctx.conference)
        if row.replay and row.attendee_id is not None and row.prior_attendee_id == row.attendee_id:
            return DoorCheckResult(
                client_id=client_id,
                attendee_name=hot_paths.attendee_name(row),
                access_code=row.access_code,
                product=display_safe(row.product_name, limit=80),
                checked_at=hot_paths.utc(row.prior_at),
                timezone=row.timezone,
                attention=_attention(hot_paths.order_status(row.order_status)),
                replayed=True,
            )
        eligible = row.attendee_id is not None and row.refusal is None and row.bought
        if row.replay or (eligible and row.door_check_id is None):
            with self._transaction() as session:
                replay = self._replayed_door_check(session, ctx, client_id, product)
            assert replay is not None
            return replay
        if row.attendee_id is None:
            raise queries.not_found(code)
        ineligible = self.validate_order_status(
            hot_paths.order_status(row.order_status), action="entry"
        )
        if ineligible is not None:
            ineligible.concerning(row.attendee_id, hot_paths.attendee_name(row))
            raise ineligible
        product_name = display_safe(row.product_name, limit=80)
        if not row.bought:  # logged by the statement, as are the refusals above
            raise not_admitted(product_name).concerning(
                row.attendee_id, hot_paths.attendee_name(row)
            )
        return DoorCheckResult(
            client_id=client_id,
            attendee_name=hot_paths.attendee_name(row),
            access_code=row.access_code,
            product=product_name,
            checked_at=now,
            timezone=row.timezone,
            attention=_attention(hot_paths.order_status(row.order_status)),
        )

    def _door_check(
        self, session: Session, ctx: StationContext, code: str, product: str, client_id: uuid.UUID
    ) -> DoorCheckResult:
        conference = self._conference(session, ctx.conference)
        kind, product_id, product_name = resolve_product(session, conference, product)
        attendee = queries.find_attendee(session, conference, code)
        refusal: Refusal | None = self.validate_order_status(attendee.order_status, action="entry")
        if refusal is None:
            column = OrderLineItem.ticket_type_id if kind == "ticket" else OrderLineItem.addon_id
            bought = attendee.order_id is not None and session.scalar(
                select(func.count(OrderLineItem.id)).where(
                    OrderLineItem.order_id == attendee.order_id,
                    column == product_id,
                    OrderLineItem.quantity > 0,
                )
            )
            if not bought:
                refusal = not_admitted(product_name)
        if refusal is not None:
            raise refusal.concerning(attendee.id, attendee.name)
        now = self._clock()
        session.execute(
            insert(DoorCheck).values(
                client_id=client_id,
                attendee_id=attendee.id,
                conference_id=conference.id,
                ticket_type_id=product_id if kind == "ticket" else None,
                addon_id=product_id if kind == "addon" else None,
                checked_at=now,
                staff_id=ctx.staff_id,
                station=ctx.station[:100],
            )
        )
        self._log_scan(
            session,
            ctx,
            action="door",
            code=code,
            reason=Reason.OK,
            accepted=True,
            conference_id=conference.id,
            attendee_id=attendee.id,
        )
        return DoorCheckResult(
            client_id=client_id,
            attendee_name=attendee.name,
            access_code=attendee.access_code,
            product=product_name,
            checked_at=now,
            timezone=conference.timezone,
            attention=_attention(attendee.order_status),
        )

    def _replayed_door_check(
        self, session: Session, ctx: StationContext, client_id: uuid.UUID, product: str
    ) -> DoorCheckResult | None:
        original = session.execute(
            select(DoorCheck.attendee_id, DoorCheck.checked_at).where(
                DoorCheck.client_id == client_id
            )
        ).one_or_none()
        if original is None:
            return None
        conference = self._conference(session, ctx.conference)
        _kind, _id, product_name = resolve_product(session, conference, product)
        code = session.scalar(
            select(Attendee.access_code).where(Attendee.id == original.attendee_id)
        )
        attendee = queries.find_attendee(session, conference, code or "")
        return DoorCheckResult(
            client_id=client_id,
            attendee_name=attendee.name,
            access_code=attendee.access_code,
            product=product_name,
            checked_at=original.checked_at,
            timezone=conference.timezone,
            attention=_attention(attendee.order_status),
            replayed=True,
        )

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
            conference = self._conference(session, ctx.conference)
            return search.find_attendees(session, conference.id, text, limit=limit)

    def _start_of_day(self, conference: ConferenceRef) -> datetime:
        local_now = self._clock().astimezone(_zone(conference.timezone))
        return local_now.replace(hour=0, minute=0, second=0, microsecond=0)

    def counts(self, ctx: StationContext) -> StationCounts:
        """Counters for the scan screen; today is the conference's local day."""
        if self._hot is not None:
            conference = self._hot_conference(ctx.conference)
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
            conference = self._conference(session, ctx.conference)
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


def _attention(status: OrderStatus | None) -> str | None:
    if status is OrderStatus.PARTIALLY_REFUNDED:
        return "Order partially refunded — check what is still included."
    return None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
