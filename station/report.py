"""Numbers an organiser asks for during the event, per conference.

Attendees and how many are in (as a share of those whose order lets them
in), each add-on's purchased / redeemed / remaining, each ticket type's
sales and arrivals, what every station did, and refused scans by reason.
One read-only snapshot per report (see ``station.reading``), so the numbers
agree with each other while stations keep scanning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, and_, case, exists, func, literal, or_, select

from station.domain import ACTIVE_ORDER_STATUSES
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Conference,
    DoorCheck,
    DoorClear,
    OfflineConflict,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    ScanLog,
    ScanVoid,
    TicketType,
    utcnow,
)
from station.reading import read_connection
from station.rulebook.event_rules import day_start, local_day
from station.rulebook.facts import ProductKind
from station.services import rooms
from station.services.errors import ConfigurationError, Reason
from station.services.void_queries import not_voided

_ACTIVE = [s.value for s in ACTIVE_ORDER_STATUSES]
# The refusals of event rules (station rules), in the order the report lists them.
RULE_REASONS: tuple[str, ...] = (
    Reason.DAILY_LIMIT,
    Reason.CLOSED,
    Reason.NOT_VALID_TODAY,
    Reason.FULL,
    Reason.NEEDS_EXIT,
    Reason.ALREADY_ENTERED,
)
# Redemptions by day: at most this many conference days (the latest), one query.
MAX_REPORT_DAYS = 62


@dataclass(frozen=True, slots=True)
class TicketFigures:
    slug: str
    name: str
    purchased: int
    checked_in: int


@dataclass(frozen=True, slots=True)
class ProductFigures:
    slug: str
    name: str
    purchased: int
    redeemed: int
    remaining: int


@dataclass(frozen=True, slots=True)
class StationFigures:
    station: str
    check_ins: int
    redemptions: int
    door_checks: int
    refused: int


@dataclass(frozen=True, slots=True)
class DoorFigures:
    """A door's room now: who is inside (last standing scan an entry, since "everyone out")."""

    product: str  # "addon:tutorial" / "ticket:speaker", as `station run --product` takes it
    name: str
    inside: int
    capacity: int | None  # None: no capacity set


@dataclass(frozen=True, slots=True)
class DayFigures:
    """Units of one product redeemed on one conference day (its time zone), voids left out."""

    day: date
    product: str  # "addon:lunch" / "ticket:general"
    name: str
    redeemed: int


@dataclass(frozen=True, slots=True)
class ConflictFigures:
    """A replayed offline scan the server refused: who, what, where and when on both sides."""

    kind: str  # "overspend" (given away twice) or "conflict" (any other refusal)
    action: str
    name: str  # the person's name; "" for a badge the server does not know
    code: str
    product: str  # "" when the scan named none
    station: str  # the offline station
    client_at: datetime  # its scan time (its own clock)
    other_station: str | None  # overspend: who else gave the unit, and when
    other_at: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class ConferenceReport:
    conference: str
    name: str
    timezone: str
    generated_at: datetime
    attendees: int
    active_orders: int  # attendees whose order lets them in (paid, partially refunded)
    checked_in: int
    checked_in_active: int
    tickets: tuple[TicketFigures, ...]
    products: tuple[ProductFigures, ...]
    stations: tuple[StationFigures, ...]
    refused: dict[str, int]
    # Scans taken back (check-ins, door admissions, redemptions); no other figure counts them.
    voided: dict[str, int] = field(default_factory=dict)
    # Replayed offline scans the server refused (migration 0013), oldest scan first.
    conflicts: tuple[ConflictFigures, ...] = ()
    # Event rules: rooms of doors, redemptions per conference day, rule refusals by reason.
    doors: tuple[DoorFigures, ...] = ()
    redeemed_by_day: tuple[DayFigures, ...] = ()

    @property
    def rule_refusals(self) -> dict[str, int]:
        """Refused scans an event rule refused, by reason (a part of ``refused``)."""
        return {reason: self.refused[reason] for reason in RULE_REASONS if reason in self.refused}

    @property
    def offline_overspends(self) -> int:
        return sum(1 for c in self.conflicts if c.kind == "overspend")

    @property
    def offline_conflicts(self) -> int:
        return sum(1 for c in self.conflicts if c.kind != "overspend")

    @property
    def checked_in_percent(self) -> float | None:
        """Checked-in share of attendees with an active order (None when there are none)."""
        if not self.active_orders:
            return None
        return round(100 * self.checked_in_active / self.active_orders, 1)

    @property
    def generated_local(self) -> datetime:
        """When the report was made, in the conference's time zone (as stations show time)."""
        return self.generated_at.astimezone(conference_zone(self.timezone))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("tickets", "products", "stations", "doors"):
            data[key] = list(data[key])
        data["redeemed_by_day"] = [
            {**item, "day": item["day"].isoformat()} for item in data["redeemed_by_day"]
        ]
        data["rule_refusals"] = self.rule_refusals
        data["conflicts"] = [
            {**item, "client_at": _iso(c.client_at), "other_at": _iso(c.other_at)}
            for item, c in zip(data["conflicts"], self.conflicts, strict=True)
        ]
        data["offline_overspends"] = self.offline_overspends
        data["offline_conflicts"] = self.offline_conflicts
        data["generated_at"] = _iso(self.generated_at)
        data["generated_at_local"] = self.generated_local.isoformat()
        data["checked_in_percent"] = self.checked_in_percent
        return data


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def conference_zone(name: str) -> ZoneInfo:
    """The conference's time zone; UTC if the stored name is not one this machine knows."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def refusal_words(reason: str) -> str:
    """A refusal reason in the words the station shows for it ("unpaid" -> "Order not paid")."""
    from station.services.errors import Reason
    from station.tui.verdicts import REFUSAL_HEADLINES

    try:
        headline = REFUSAL_HEADLINES[Reason(reason)]
    except (ValueError, KeyError):
        return reason
    return headline[:1] + headline[1:].lower()


def build_reports(engine: Engine, conference: str | None = None) -> list[ConferenceReport]:
    """Reports for one conference, or for every conference when none is named."""
    with read_connection(engine, minutes=5) as conn:
        query = select(Conference.id, Conference.slug, Conference.name, Conference.timezone)
        if conference is not None:
            query = query.where(Conference.slug == conference)
        rows = conn.execute(query.order_by(Conference.slug)).all()
        if conference is not None and not rows:
            raise ConfigurationError(f"Conference {conference!r} does not exist in this database.")
        return [_report(conn, r.id, r.slug, r.name, r.timezone) for r in rows]


def _report(
    conn: Connection, conference_id: int, slug: str, name: str, zone: str
) -> ConferenceReport:
    active = Order.status.in_(_ACTIVE)
    in_ = Attendee.checked_in_at.is_not(None)
    totals = conn.execute(
        select(
            func.count(Attendee.id),
            func.count(case((active, 1))),
            func.count(case((in_, 1))),
            func.count(case((and_(active, in_), 1))),
        )
        .outerjoin(Order, Order.id == Attendee.order_id)
        .where(Attendee.conference_id == conference_id)
    ).one()
    return ConferenceReport(
        conference=slug,
        name=name,
        timezone=zone,
        generated_at=utcnow(),
        attendees=int(totals[0]),
        active_orders=int(totals[1]),
        checked_in=int(totals[2]),
        checked_in_active=int(totals[3]),
        tickets=_tickets(conn, conference_id),
        products=_products(conn, conference_id),
        stations=_stations(conn, conference_id),
        refused=_refused(conn, conference_id),
        voided=_voided(conn, conference_id),
        conflicts=_conflicts(conn, conference_id),
        doors=_doors(conn, conference_id),
        redeemed_by_day=_redeemed_by_day(conn, conference_id, zone),
    )


_PRODUCT_MODELS: tuple[tuple[ProductKind, Any, Any, Any], ...] = (
    ("ticket", TicketType, DoorCheck.ticket_type_id, DoorClear.ticket_type_id),
    ("addon", AddOn, DoorCheck.addon_id, DoorClear.addon_id),
)


def _doors(conn: Connection, conference_id: int) -> tuple[DoorFigures, ...]:
    """Every door with a capacity or any door scan, and how many are inside its room now."""
    figures: list[DoorFigures] = []
    for kind, model, checked, cleared in _PRODUCT_MODELS:
        rows = conn.execute(
            select(model.id, model.slug, model.name, model.capacity)
            .where(
                model.conference_id == conference_id,
                or_(
                    model.capacity.is_not(None),
                    exists().where(checked == model.id),
                    exists().where(cleared == model.id),
                ),
            )
            .order_by(model.slug)
        ).all()
        for row in rows:
            inside = int(conn.scalar(rooms.inside_query(kind, row.id)) or 0)
            figures.append(DoorFigures(f"{kind}:{row.slug}", row.name, inside, row.capacity))
    return tuple(figures)


def _redeemed_by_day(conn: Connection, conference_id: int, zone: str) -> tuple[DayFigures, ...]:
    """Standing redemptions per product per conference day (midnight to midnight in ``zone``).

    The days' bounds are worked out here (SQLite has no time zones) and the rows
    are sorted into them by one CASE: one query whatever the number of redemptions.
    """
    standing = and_(
        ProductRedemption.conference_id == conference_id,
        not_voided("redeem", ProductRedemption.id),
    )
    span = conn.execute(
        select(
            func.min(ProductRedemption.redeemed_at), func.max(ProductRedemption.redeemed_at)
        ).where(standing)
    ).one()
    first: datetime | None = span[0]
    last: datetime | None = span[1]
    if first is None or last is None:
        return ()
    last_day = local_day(last, zone)
    first_day = max(local_day(first, zone), last_day - timedelta(days=MAX_REPORT_DAYS - 1))
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    bounds = [day_start(day + timedelta(days=1), zone) for day in days]
    which = case(
        *((ProductRedemption.redeemed_at < bound, literal(n)) for n, bound in enumerate(bounds)),
        else_=literal(len(days)),
    ).label("day")
    rows = conn.execute(
        select(
            which,
            TicketType.slug,
            AddOn.slug,
            func.coalesce(AddOn.name, TicketType.name),
            func.count(),
        )
        .select_from(ProductRedemption)
        .join(OrderLineItem, OrderLineItem.id == ProductRedemption.order_line_item_id)
        .outerjoin(TicketType, TicketType.id == OrderLineItem.ticket_type_id)
        .outerjoin(AddOn, AddOn.id == OrderLineItem.addon_id)
        .where(standing, ProductRedemption.redeemed_at >= day_start(first_day, zone))
        .group_by(which, TicketType.slug, AddOn.slug, AddOn.name, TicketType.name)
    ).all()
    figures = [
        DayFigures(
            days[int(n)],
            f"addon:{addon}" if addon is not None else f"ticket:{ticket}",
            name or "",
            int(count),
        )
        for n, ticket, addon, name, count in rows
        if int(n) < len(days)
    ]
    return tuple(sorted(figures, key=lambda f: (f.day, f.product)))


def _tickets(conn: Connection, conference_id: int) -> tuple[TicketFigures, ...]:
    active = Order.status.in_(_ACTIVE)
    rows = conn.execute(
        select(
            TicketType.slug,
            TicketType.name,
            func.coalesce(func.sum(case((active, OrderLineItem.quantity), else_=0)), 0),
            func.count(case((and_(active, Attendee.checked_in_at.is_not(None)), Attendee.id))),
        )
        .select_from(TicketType)
        .outerjoin(OrderLineItem, OrderLineItem.ticket_type_id == TicketType.id)
        .outerjoin(Order, Order.id == OrderLineItem.order_id)
        .outerjoin(Attendee, Attendee.order_id == Order.id)
        .where(TicketType.conference_id == conference_id)
        .group_by(TicketType.id, TicketType.slug, TicketType.name)
        .order_by(TicketType.slug)
    ).all()
    return tuple(TicketFigures(r[0], r[1], int(r[2]), int(r[3])) for r in rows)


def _products(conn: Connection, conference_id: int) -> tuple[ProductFigures, ...]:
    used = (
        select(
            ProductRedemption.order_line_item_id.label("line_id"),
            func.count().label("n"),
        )
        .where(
            ProductRedemption.conference_id == conference_id,
            not_voided("redeem", ProductRedemption.id),
        )
        .group_by(ProductRedemption.order_line_item_id)
        .subquery()
    )
    active = Order.status.in_(_ACTIVE)
    redeemed = func.coalesce(used.c.n, 0)
    left = case(
        (and_(active, OrderLineItem.quantity > redeemed), OrderLineItem.quantity - redeemed),
        else_=0,
    )
    rows = conn.execute(
        select(
            AddOn.slug,
            AddOn.name,
            func.coalesce(func.sum(case((active, OrderLineItem.quantity), else_=0)), 0),
            func.coalesce(func.sum(redeemed), 0),
            func.coalesce(func.sum(left), 0),
        )
        .select_from(AddOn)
        .outerjoin(OrderLineItem, OrderLineItem.addon_id == AddOn.id)
        .outerjoin(Order, Order.id == OrderLineItem.order_id)
        .outerjoin(used, used.c.line_id == OrderLineItem.id)
        .where(AddOn.conference_id == conference_id)
        .group_by(AddOn.id, AddOn.slug, AddOn.name)
        .order_by(AddOn.slug)
    ).all()
    return tuple(ProductFigures(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows)


def _stations(conn: Connection, conference_id: int) -> tuple[StationFigures, ...]:
    counts: dict[str, list[int]] = {}
    sources: tuple[tuple[Any, Any], ...] = (
        (CheckIn, and_(CheckIn.conference_id == conference_id, not_voided("checkin", CheckIn.id))),
        (
            ProductRedemption,
            and_(
                ProductRedemption.conference_id == conference_id,
                not_voided("redeem", ProductRedemption.id),
            ),
        ),
        (
            DoorCheck,
            and_(DoorCheck.conference_id == conference_id, not_voided("door", DoorCheck.id)),
        ),
        (ScanLog, and_(ScanLog.conference_id == conference_id, ScanLog.outcome == "refused")),
    )
    for position, (model, where) in enumerate(sources):
        rows = conn.execute(
            select(model.station, func.count()).where(where).group_by(model.station)
        ).all()
        for station, n in rows:
            counts.setdefault(station, [0, 0, 0, 0])[position] = int(n)
    return tuple(StationFigures(name, *counts[name]) for name in sorted(counts))


def _refused(conn: Connection, conference_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(ScanLog.reason, func.count())
        .where(ScanLog.conference_id == conference_id, ScanLog.outcome == "refused")
        .group_by(ScanLog.reason)
        .order_by(func.count().desc(), ScanLog.reason)
    ).all()
    return {reason: int(n) for reason, n in rows}


def _voided(conn: Connection, conference_id: int) -> dict[str, int]:
    """Voids by kind of record ("checkin", "door", "redeem")."""
    rows = conn.execute(
        select(ScanVoid.record_kind, func.count())
        .where(ScanVoid.conference_id == conference_id)
        .group_by(ScanVoid.record_kind)
        .order_by(ScanVoid.record_kind)
    ).all()
    return {kind: int(n) for kind, n in rows}


def _conflicts(conn: Connection, conference_id: int) -> tuple[ConflictFigures, ...]:
    rows = conn.execute(
        select(
            OfflineConflict.kind,
            OfflineConflict.action,
            Person.first_name,
            Person.last_name,
            OfflineConflict.code,
            func.coalesce(AddOn.name, TicketType.name),
            OfflineConflict.station,
            OfflineConflict.client_at,
            OfflineConflict.other_station,
            OfflineConflict.other_at,
            OfflineConflict.reason,
        )
        .outerjoin(Attendee, Attendee.id == OfflineConflict.attendee_id)
        .outerjoin(Person, Person.id == Attendee.person_id)
        .outerjoin(OrderLineItem, OrderLineItem.id == OfflineConflict.order_line_item_id)
        .outerjoin(AddOn, AddOn.id == OrderLineItem.addon_id)
        .outerjoin(TicketType, TicketType.id == OrderLineItem.ticket_type_id)
        .where(OfflineConflict.conference_id == conference_id)
        .order_by(OfflineConflict.client_at, OfflineConflict.id)
    ).all()
    return tuple(
        ConflictFigures(
            kind=r[0],
            action=r[1],
            name=" ".join(part for part in (r[2], r[3]) if part),
            code=r[4],
            product=r[5] or "",
            station=r[6],
            client_at=r[7],
            other_station=r[8],
            other_at=r[9],
            reason=r[10],
        )
        for r in rows
    )


def render(report: ConferenceReport) -> Any:
    """The report as Rich tables; every untrusted string is a Text, never markup."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from station.text import display_safe

    def t(value: str) -> Text:
        return Text(display_safe(value, limit=60))

    percent = report.checked_in_percent
    share = (
        f"{percent:.1f}% of {report.active_orders:,} with an active order"
        if percent is not None
        else "-"
    )
    title = Text.assemble(t(report.name), " (", t(report.conference), ")")
    local = report.generated_local
    as_of = Text(
        f"As of {local:%Y-%m-%d %H:%M:%S} {local.tzname()} "
        f"({display_safe(str(local.tzinfo), limit=64)}, the conference's time zone)"
    )
    summary = Table(show_header=False)
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_column("note")
    summary.add_row("Attendees", f"{report.attendees:,}", "")
    summary.add_row("Checked in", f"{report.checked_in:,}", share)
    parts: list[Any] = [title, as_of, summary]

    if report.tickets:
        tickets = Table(title="Tickets", title_justify="left")
        for name in ("ticket type", "sold (active)", "checked in"):
            tickets.add_column(name, justify="left" if name == "ticket type" else "right")
        for ticket in report.tickets:
            tickets.add_row(t(ticket.name), f"{ticket.purchased:,}", f"{ticket.checked_in:,}")
        parts.append(tickets)
    if report.products:
        products = Table(title="Add-ons", title_justify="left")
        for name in ("add-on", "slug", "purchased", "redeemed", "remaining"):
            products.add_column(name, justify="left" if name in ("add-on", "slug") else "right")
        for p in report.products:
            products.add_row(
                t(p.name), t(p.slug), f"{p.purchased:,}", f"{p.redeemed:,}", f"{p.remaining:,}"
            )
        parts.append(products)
    if report.stations:
        stations = Table(title="Stations", title_justify="left")
        for name in ("station", "check-ins", "redemptions", "door checks", "refused"):
            stations.add_column(name, justify="left" if name == "station" else "right")
        for s in report.stations:
            stations.add_row(
                t(s.station or "(none)"),
                f"{s.check_ins:,}",
                f"{s.redemptions:,}",
                f"{s.door_checks:,}",
                f"{s.refused:,}",
            )
        parts.append(stations)
    if report.refused:
        refused = Table(title="Refused scans", title_justify="left")
        refused.add_column("reason")
        refused.add_column("scans", justify="right")
        for reason, count in report.refused.items():
            refused.add_row(t(refusal_words(reason)), f"{count:,}")
        parts.append(refused)
    parts.extend(_render_rules(report))
    if report.voided:
        voided = Table(title="Voided scans (left out of every figure above)", title_justify="left")
        voided.add_column("scan")
        voided.add_column("voided", justify="right")
        for kind, count in report.voided.items():
            voided.add_row(Text(_VOID_WORDS.get(kind, kind)), f"{count:,}")
        parts.append(voided)
    if report.conflicts:
        parts.append(_render_conflicts(report))
    return Group(*parts)


def _render_rules(report: ConferenceReport) -> list[Any]:
    """Event rules: who is inside each door's room, redemptions per day, rule refusals."""
    from rich.table import Table
    from rich.text import Text

    from station.rulebook.event_rules import day_words
    from station.text import display_safe

    def t(value: str) -> Text:
        return Text(display_safe(value, limit=60))

    parts: list[Any] = []
    if report.doors:
        doors = Table(title="Doors: inside now", title_justify="left")
        for name in ("door", "product", "inside", "capacity"):
            doors.add_column(name, justify="right" if name in ("inside", "capacity") else "left")
        for door in report.doors:
            full = door.capacity is not None and door.inside >= door.capacity
            doors.add_row(
                t(door.name),
                t(door.product),
                Text(f"{door.inside:,}", style="bold" if full else ""),
                "-" if door.capacity is None else f"{door.capacity:,}",
            )
        parts.append(doors)
    if report.redeemed_by_day:
        by_day = Table(
            title=f"Redeemed per day ({display_safe(report.timezone, limit=64)})",
            title_justify="left",
        )
        for name in ("day", "product", "redeemed"):
            by_day.add_column(name, justify="right" if name == "redeemed" else "left")
        for figure in report.redeemed_by_day:
            by_day.add_row(Text(day_words(figure.day)), t(figure.name), f"{figure.redeemed:,}")
        parts.append(by_day)
    if report.rule_refusals:
        refusals = Table(title="Refused by an event rule", title_justify="left")
        for name in ("reason", "what the volunteer saw", "scans"):
            refusals.add_column(name, justify="right" if name == "scans" else "left")
        for reason, count in report.rule_refusals.items():
            refusals.add_row(Text(reason), t(refusal_words(reason)), f"{count:,}")
        parts.append(refusals)
    return parts


_SHOWN_CONFLICTS = 50


def _render_conflicts(report: ConferenceReport) -> Any:
    """Offline overspends and conflicts, each with both stations, in the conference's time."""
    from rich.table import Table
    from rich.text import Text

    from station.text import display_safe

    def t(value: str | None) -> Text:
        return Text(display_safe(value or "", limit=60))

    zone = conference_zone(report.timezone)

    def at(station: str | None, value: datetime | None) -> Text:
        # Day and time, in the event's zone: an outage is read on the day, at 80 columns.
        shown = Text(display_safe(station or "", limit=40))
        if value is not None:
            shown.append(f"\n{value.astimezone(zone):%a %d %H:%M:%S}")
        return shown

    shown = report.conflicts[-_SHOWN_CONFLICTS:]
    more = len(report.conflicts) - len(shown)
    title = (
        f"Offline overspends: {report.offline_overspends:,}  "
        f"conflicts: {report.offline_conflicts:,}"
        + (f" (latest {len(shown)}; station export offline-conflicts has all)" if more else "")
    )
    table = Table(title=title, title_justify="left")
    for name in ("", "person", "product", "offline scan", "the other", "reason"):
        table.add_column(name)
    for c in shown:
        table.add_row(
            Text("overspend" if c.kind == "overspend" else "conflict"),
            t(c.name or f"unknown badge {c.code}"),
            t(c.product),
            at(c.station, c.client_at),
            at(c.other_station, c.other_at),
            t(refusal_words(c.reason)),
        )
    return table


_VOID_WORDS = {"checkin": "check-ins", "door": "door admissions", "redeem": "redemptions"}
