"""The ORM scan store: SQLite's path (and PostgreSQL's, for the differential test).

One transaction per attempt. SQLite takes its write lock at BEGIN (BEGIN
IMMEDIATE), so the facts cannot change before the decision is written; on
PostgreSQL the attendee row is locked before anything is counted. A premise
therefore always holds here; a client id recorded by a racing retry still
surfaces, as DuplicateClientId, and the caller asks again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from station.domain import OrderStatus
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Conference,
    DoorCheck,
    OfflineConflict,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    ScanLog,
    ScanVoid,
    Staff,
    TicketType,
)
from station.rulebook import Accept, Holder, Line, Prior, ScanFacts, ScanRequest, Target
from station.rulebook.event_rules import ProductRules, RuleSyntaxError
from station.rulebook.facts import FirstEntry, RecordKind, ScanRecord, VoidFacts, VoidRequest
from station.rulebook.rules import VoidAccept
from station.services import rooms, void_queries
from station.services.errors import ConfigurationError, StationError
from station.services.results import StationContext
from station.services.store import ConferenceRef, ConflictReport, Recorded
from station.text import display_safe

Clock = Callable[[], datetime]


def unknown_conference(slug: str) -> ConfigurationError:
    return ConfigurationError(f"Conference {slug!r} does not exist in this database.")


class OrmStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        transaction: Callable[[], Any],
        *,
        lock_rows: bool,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._transaction = transaction
        self._lock_rows = lock_rows
        self._conferences: dict[str, ConferenceRef] = {}

    def conference(self, slug: str) -> ConferenceRef:
        ref = self._conferences.get(slug)
        if ref is None:
            with self._transaction() as session:
                ref = self.conference_in(session, slug)
        return ref

    def conference_in(self, session: Session, slug: str) -> ConferenceRef:
        ref = self._conferences.get(slug)
        if ref is None:
            row = session.execute(
                select(Conference.id, Conference.slug, Conference.name, Conference.timezone).where(
                    Conference.slug == slug
                )
            ).one_or_none()
            if row is None:
                raise unknown_conference(slug)
            ref = ConferenceRef(row.id, row.slug, display_safe(row.name), row.timezone)
            self._conferences[slug] = ref
        return ref

    @contextmanager
    def attempt(
        self, ctx: StationContext, request: ScanRequest, *, attendee_id: int | None = None
    ) -> Iterator[OrmAttempt]:
        with self._transaction() as session:
            conference = self.conference_in(session, ctx.conference)
            yield OrmAttempt(self, session, ctx, request, conference, attendee_id)

    @contextmanager
    def void_attempt(
        self, ctx: StationContext, request: VoidRequest, target: tuple[RecordKind, int] | None
    ) -> Iterator[OrmVoidAttempt]:
        with self._transaction() as session:
            conference = self.conference_in(session, ctx.conference)
            yield OrmVoidAttempt(self, session, ctx, request, conference, target)

    def scan_records(self, ctx: StationContext, code: str) -> tuple[ScanRecord, ...]:
        with self._transaction() as session:
            conference = self.conference_in(session, ctx.conference)
            return void_queries.for_attendee(session, conference.id, code)

    def record_conflict(self, ctx: StationContext, conflict: ConflictReport) -> bool:
        """A refused offline scan, once per client id (the database's triggers guard it)."""
        with self._transaction() as session:
            conference = self.conference_in(session, ctx.conference)
            exists = select(OfflineConflict.id).where(
                OfflineConflict.client_id == conflict.client_id
            )
            if session.scalar(exists) is not None:
                return False
            station = ctx.station[:100]
            other = (
                other_redemption(session, conflict.line_item_id, station)
                if conflict.kind == "overspend"
                else None
            )
            session.execute(
                insert(OfflineConflict).values(
                    client_id=conflict.client_id,
                    conference_id=conference.id,
                    attendee_id=conflict.attendee_id,
                    kind=conflict.kind,
                    action=conflict.action,
                    code=display_safe(conflict.code, limit=256),
                    order_line_item_id=conflict.line_item_id,
                    station=station,
                    staff_id=conflict.staff_id,
                    client_at=conflict.client_at,
                    received_at=self._clock(),
                    reason=conflict.reason[:40],
                    message=conflict.message[:300],
                    other_station=other[0] if other else None,
                    other_at=other[1] if other else None,
                )
            )
            return True

    def log_refusal(
        self,
        ctx: StationContext,
        action: str,
        code: str,
        error: StationError,
        *,
        client_at: datetime | None = None,
    ) -> None:
        with self._transaction() as session:
            conference_id: int | None
            try:
                conference_id = self.conference_in(session, ctx.conference).id
            except ConfigurationError:
                conference_id = None
            self.log(session, ctx, conference_id, action, code, error, client_at=client_at)

    def log(
        self,
        session: Session,
        ctx: StationContext,
        conference_id: int | None,
        action: str,
        code: str,
        error: StationError,
        *,
        client_at: datetime | None = None,
    ) -> None:
        now = self._clock()
        session.execute(
            insert(ScanLog).values(
                conference_id=conference_id,
                attendee_id=error.attendee_id,
                scanned_at=now,
                client_at=client_at or now,
                station=ctx.station[:100],
                staff_id=ctx.staff_id,
                action=action,
                code=display_safe(code, limit=256),
                outcome="refused",
                reason=str(error.reason),
                message=error.message[:300],
            )
        )


class OrmAttempt:
    final = True  # facts from the store itself: a refusal on them is the answer

    def __init__(
        self,
        store: OrmStore,
        session: Session,
        ctx: StationContext,
        request: ScanRequest,
        conference: ConferenceRef,
        attendee_id: int | None,
    ) -> None:
        self._store = store
        self._session = session
        self._ctx = ctx
        self._request = request
        self._conference = conference
        self._attendee_id = attendee_id

    def facts(self) -> ScanFacts:
        session, request = self._session, self._request
        target, missing = _target(session, self._conference.id, request)
        holder = None
        row = _attendee(session, self._conference.id, request.code, self._attendee_id)
        if row is not None:
            if self._store._lock_rows and request.action != "lookup":
                session.execute(
                    select(Attendee.id).where(Attendee.id == row.id).with_for_update(key_share=True)
                )
            holder = _holder(session, row)
        door = None
        if request.action == "door" and holder is not None and target is not None:
            capacity = target.rules.capacity is not None
            if (
                capacity and request.direction == "in" and self._store._lock_rows
            ):  # entries to a room take turns (as 0014)
                model: type[TicketType] | type[AddOn] = (
                    TicketType if target.kind == "ticket" else AddOn
                )
                session.execute(
                    select(model.id).where(model.id == target.id).with_for_update(key_share=True)
                )
            door = rooms.door_state(session, holder.attendee_id, target.kind, target.id,
                                    with_inside=capacity)  # fmt: skip
        return ScanFacts(
            request=request,
            conference_id=self._conference.id,
            timezone=self._conference.timezone,
            holder=holder,
            target=target,
            target_missing=missing,
            prior=_prior(session, request),
            now=self._store._clock(),
            door=door,
        )

    def record(self, accept: Accept, code: str) -> Recorded | None:
        session, ctx, request = self._session, self._ctx, self._request
        now = self._store._clock()
        common: dict[str, Any] = {
            "client_id": request.client_id,
            "attendee_id": accept.attendee_id,
            "conference_id": self._conference.id,
            "client_at": request.client_at or now,
            "staff_id": ctx.staff_id,
            "station": ctx.station[:100],
        }
        if accept.action == "checkin":
            session.execute(insert(CheckIn).values(checked_in_at=now, note=request.note, **common))
            if accept.first:
                session.execute(
                    update(Attendee)
                    .where(Attendee.id == accept.attendee_id, Attendee.checked_in_at.is_(None))
                    .values(checked_in_at=now, updated_at=now)
                )
        elif accept.action == "door":
            target = accept.target
            assert target is not None
            session.execute(
                insert(DoorCheck).values(
                    checked_at=now,
                    ticket_type_id=target.id if target.kind == "ticket" else None,
                    addon_id=target.id if target.kind == "addon" else None,
                    direction=accept.direction,
                    **common,
                )
            )
        else:
            assert accept.line is not None
            session.execute(
                insert(ProductRedemption).values(
                    redeemed_at=now,
                    order_line_item_id=accept.line.id,
                    note=request.note,
                    **common,
                )
            )
        session.execute(
            insert(ScanLog).values(
                conference_id=self._conference.id,
                attendee_id=accept.attendee_id,
                scanned_at=now,
                client_at=request.client_at or now,
                station=ctx.station[:100],
                staff_id=ctx.staff_id,
                action=accept.action,
                code=display_safe(code, limit=256),
                outcome="accepted",
                reason=str(accept.reason),
                message=accept.message[:300],
            )
        )
        staff = (
            session.scalar(select(Staff.name).where(Staff.id == ctx.staff_id))
            if ctx.staff_id is not None and accept.action == "checkin"
            else None
        )
        return Recorded(at=now, staff_name=staff)

    def log_refusal(self, error: StationError, code: str) -> None:
        self._store.log(
            self._session,
            self._ctx,
            self._conference.id,
            self._request.action,
            code,
            error,
            client_at=self._request.client_at,
        )


def other_redemption(
    session: Session, line_item_id: int | None, station: str
) -> tuple[str, datetime] | None:
    """Who else gave a unit of the line: the latest redemption that stands, by another
    station if there is one (as station_offline_conflict() finds it)."""
    if line_item_id is None:
        return None
    row = session.execute(
        select(ProductRedemption.station, ProductRedemption.redeemed_at)
        .where(
            ProductRedemption.order_line_item_id == line_item_id,
            void_queries.not_voided("redeem", ProductRedemption.id),
        )
        .order_by(
            (ProductRedemption.station == station).asc(),
            ProductRedemption.redeemed_at.desc(),
            ProductRedemption.id.desc(),
        )
        .limit(1)
    ).one_or_none()
    return None if row is None else (row.station, row.redeemed_at)


def _target(
    session: Session, conference_id: int, request: ScanRequest
) -> tuple[Target | None, bool]:
    wanted = request.wanted_product()
    if wanted is None:
        return None, False
    kind, slug = wanted
    model: type[TicketType] | type[AddOn] = TicketType if kind == "ticket" else AddOn
    row = session.execute(
        select(
            model.id,
            model.slug,
            model.name,
            model.daily_limit,
            model.open_hours,
            model.valid_dates,
            model.reentry,
            model.capacity,
        ).where(model.conference_id == conference_id, model.slug == slug)
    ).one_or_none()
    if row is None:
        return None, True
    return Target(kind, row.id, row.slug, row.name, rules_of(row)), False


def _rule_columns() -> list[Any]:
    """A line's product's rule columns, from whichever of ticket type and add-on it is."""
    return [
        func.coalesce(getattr(TicketType, name), getattr(AddOn, name)).label(name)
        for name in RULE_COLUMNS
    ]


RULE_COLUMNS = ("daily_limit", "open_hours", "valid_dates", "reentry", "capacity")


def rules_of(row: Any) -> ProductRules:
    """The rule book's rules from a row with the rule columns; unreadable ones are a
    configuration error (someone wrote the columns by hand)."""
    try:
        return ProductRules.from_columns(
            row.daily_limit, row.open_hours, row.valid_dates, row.reentry, row.capacity
        )
    except RuleSyntaxError as error:
        raise ConfigurationError(f"A product's rules cannot be read: {error}") from None


def _attendee(session: Session, conference_id: int, code: str, attendee_id: int | None) -> Any:
    query = (
        select(
            Attendee.id,
            Attendee.access_code,
            Attendee.order_id,
            Attendee.checked_in_at,
            Order.status,
            Order.reference,
            Order.checkin_attention,
            Person.first_name,
            Person.last_name,
            Person.username,
            Person.email,
        )
        .join(Person, Person.id == Attendee.person_id)
        .outerjoin(Order, Order.id == Attendee.order_id)
        .where(Attendee.conference_id == conference_id)
    )
    if attendee_id is not None:
        query = query.where(Attendee.id == attendee_id)
    else:
        query = query.where(Attendee.access_code == code)
    return session.execute(query).one_or_none()


def _holder(session: Session, row: Any) -> Holder:
    lines: tuple[Line, ...] = ()
    if row.order_id is not None:
        used: dict[int, list[Any]] = {}
        for use in session.execute(
            select(
                ProductRedemption.order_line_item_id,
                ProductRedemption.redeemed_at,
                ProductRedemption.station,
            )
            .where(
                ProductRedemption.attendee_id == row.id,
                void_queries.not_voided("redeem", ProductRedemption.id),
            )
            .order_by(ProductRedemption.redeemed_at, ProductRedemption.id)
        ):
            used.setdefault(use.order_line_item_id, []).append(use)
        rows = session.execute(
            select(
                OrderLineItem.id,
                OrderLineItem.ticket_type_id,
                OrderLineItem.addon_id,
                OrderLineItem.description,
                OrderLineItem.quantity,
                func.coalesce(TicketType.slug, AddOn.slug).label("slug"),
                func.coalesce(TicketType.name, AddOn.name).label("name"),
                func.coalesce(TicketType.checkin_attention, AddOn.checkin_attention).label(
                    "attention"
                ),
                *_rule_columns(),
            )
            .outerjoin(TicketType, TicketType.id == OrderLineItem.ticket_type_id)
            .outerjoin(AddOn, AddOn.id == OrderLineItem.addon_id)
            .where(OrderLineItem.order_id == row.order_id)
            .order_by(OrderLineItem.id)
        ).all()
        made = []
        for li in rows:
            uses = used.get(li.id, []) if li.addon_id is not None else []
            made.append(
                Line(
                    id=li.id,
                    kind="addon" if li.addon_id is not None else "ticket",
                    product_id=li.addon_id if li.addon_id is not None else li.ticket_type_id,
                    slug=li.slug or "",
                    name=li.name or "",
                    description=li.description or "",
                    quantity=li.quantity,
                    used=len(uses),
                    last_used_at=uses[-1].redeemed_at if uses else None,
                    last_station=uses[-1].station if uses else "",
                    attention=li.attention or "",
                    rules=rules_of(li),
                    used_times=tuple(use.redeemed_at for use in uses),
                )
            )
        lines = tuple(made)
    entries = int(
        session.scalar(
            select(func.count(CheckIn.id)).where(
                CheckIn.attendee_id == row.id, void_queries.not_voided("checkin", CheckIn.id)
            )
        )
        or 0
    )
    first = None
    if entries:
        earliest = session.execute(
            select(CheckIn.checked_in_at, CheckIn.station, Staff.name)
            .outerjoin(Staff, Staff.id == CheckIn.staff_id)
            .where(CheckIn.attendee_id == row.id, void_queries.not_voided("checkin", CheckIn.id))
            .order_by(CheckIn.checked_in_at, CheckIn.id)
            .limit(1)
        ).one()
        first = FirstEntry(earliest.checked_in_at, earliest.station, earliest.name)
    return Holder(
        attendee_id=row.id,
        access_code=row.access_code,
        first_name=row.first_name,
        last_name=row.last_name,
        username=row.username,
        email=row.email or "",
        order_status=OrderStatus(row.status) if row.status else None,
        order_reference=row.reference,
        checked_in=row.checked_in_at is not None or entries > 0,
        first_entry=first,
        entries=entries,
        lines=lines,
        order_attention=row.checkin_attention or "",
    )


def _prior(session: Session, request: ScanRequest) -> Prior | None:
    client_id: uuid.UUID = request.client_id
    if request.action == "checkin":
        found = session.execute(
            select(CheckIn.id, CheckIn.attendee_id, CheckIn.checked_in_at).where(
                CheckIn.client_id == client_id
            )
        ).one_or_none()
        if found is None:
            return None
        before = session.scalar(
            select(func.count(CheckIn.id)).where(
                CheckIn.attendee_id == found.attendee_id, CheckIn.id < found.id
            )
        )
        return Prior(found.attendee_id, found.checked_in_at, entries_before=int(before or 0))
    if request.action == "door":
        door = session.execute(
            select(DoorCheck.attendee_id, DoorCheck.checked_at).where(
                DoorCheck.client_id == client_id
            )
        ).one_or_none()
        return None if door is None else Prior(door.attendee_id, door.checked_at)
    if request.action == "redeem":
        used = session.execute(
            select(
                ProductRedemption.id,
                ProductRedemption.attendee_id,
                ProductRedemption.order_line_item_id,
                ProductRedemption.redeemed_at,
            ).where(ProductRedemption.client_id == client_id)
        ).one_or_none()
        if used is None:
            return None
        then = session.scalar(
            select(func.count(ProductRedemption.id)).where(
                ProductRedemption.attendee_id == used.attendee_id,
                ProductRedemption.order_line_item_id == used.order_line_item_id,
                ProductRedemption.id <= used.id,
            )
        )
        return Prior(
            used.attendee_id,
            used.redeemed_at,
            line_item_id=used.order_line_item_id,
            used_then=int(then or 0),
        )
    return None


class OrmVoidAttempt:
    """A void in one transaction: the record's facts, then the void and its log row."""

    def __init__(
        self,
        store: OrmStore,
        session: Session,
        ctx: StationContext,
        request: VoidRequest,
        conference: ConferenceRef,
        target: tuple[RecordKind, int] | None,
    ) -> None:
        self._store = store
        self._session = session
        self._ctx = ctx
        self._request = request
        self._conference = conference
        self._target = target

    def facts(self) -> VoidFacts:
        return void_facts(self._session, self._ctx, self._request, self._conference, self._target)

    def record(self, accept: VoidAccept, staff_id: int | None, pin_hash: str | None) -> Recorded:
        session, ctx = self._session, self._ctx
        now = self._store._clock()
        session.execute(
            insert(ScanVoid).values(
                client_id=self._request.client_id,
                conference_id=self._conference.id,
                attendee_id=accept.attendee_id,
                record_kind=accept.kind,
                record_id=accept.record_id,
                staff_id=staff_id,
                station=ctx.station[:100],
                reason=accept.reason[:300],
                voided_at=now,
                client_at=now,
            )
        )
        if accept.kind == "checkin":
            # "First check-in" is the earliest one not voided (as station_void() does).
            voided_at = session.scalar(
                select(CheckIn.checked_in_at).where(CheckIn.id == accept.record_id)
            )
            earliest = session.scalar(
                select(func.min(CheckIn.checked_in_at)).where(
                    CheckIn.attendee_id == accept.attendee_id,
                    void_queries.not_voided("checkin", CheckIn.id),
                )
            )
            session.execute(
                update(Attendee)
                .where(Attendee.id == accept.attendee_id, Attendee.checked_in_at == voided_at)
                .values(checked_in_at=earliest, updated_at=now)
            )
        session.execute(
            insert(ScanLog).values(
                conference_id=self._conference.id,
                attendee_id=accept.attendee_id,
                scanned_at=now,
                client_at=now,
                station=ctx.station[:100],
                staff_id=staff_id,
                action="void",
                code=f"{accept.kind}:{accept.record_id}",
                outcome="accepted",
                reason="void",
                message=accept.reason[:300],
            )
        )
        return Recorded(at=now)  # who voided: the service names a supervisor


def void_facts(
    session: Session | Connection,
    ctx: StationContext,
    request: VoidRequest,
    conference: ConferenceRef,
    target: tuple[RecordKind, int] | None,
) -> VoidFacts:
    """The record to void (the station's last when no target) and whether it is the last."""
    last = void_queries.last_at_station(session, conference.id, ctx.station)
    if target is None:
        return VoidFacts(request, last, last_at_station=last is not None)
    record = void_queries.record(session, conference.id, *target)
    is_last = record is not None and last is not None and (last.kind, last.id) == target
    return VoidFacts(request, record, last_at_station=is_last)
