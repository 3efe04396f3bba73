"""A believable demo conference, seeded in about a second.

The data is built to show every path a volunteer meets: paid and unpaid
orders, people with no order, meals bought once or three times, a tutorial
door, someone already checked in, a lunch already eaten, and a name full of
markup and a terminal escape (which must show as plain text). Names come from
many languages and scripts because real registration lists do.

Everything but timestamps is deterministic for a given ``seed``: the same
codes come back after ``--reset``, so printed sample codes stay valid.
Showcase attendees carry their case in the person's username
(``demo-con-showcase-<case>``), so the sample list is read back from the
database instead of being remembered.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select

from station.domain import OrderStatus
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Conference,
    DoorCheck,
    DoorClear,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    RoomCount,
    ScanLog,
    ScanVoid,
    Staff,
    TicketType,
    refresh_search_keys,
)
from station.pins import hash_pin
from station.text import display_safe

__all__ = [
    "CODE_ALPHABET",
    "DEMO_NAME",
    "DEMO_SLUG",
    "MIN_ATTENDEES",
    "SUPERVISOR_PIN",
    "DemoSample",
    "DemoSummary",
    "demo_summary",
    "format_summary",
    "reset_demo",
    "seed_demo",
]

DEMO_SLUG = "demo-con"
DEMO_NAME = "DemoCon 2026"
DEMO_TIMEZONE = "Europe/Berlin"
# Upper case and digits without the look-alikes 0/O and 1/I.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
SUPERVISOR_PIN = "2468"
STAFF_WITHOUT_PIN = ("Ana", "Ben", "Chidi")
SUPERVISOR = "Supervisor"

TICKET_TYPES = (("general", "Conference pass"), ("student", "Student"), ("speaker", "Speaker"))
ADDONS = (
    ("lunch-day-1", "Lunch Day 1"),
    ("lunch-day-2", "Lunch Day 2"),
    ("meal-voucher", "Meal voucher"),
    ("tutorial-sqlalchemy", "Tutorial: SQLAlchemy in depth"),
    ("social", "Social event"),
)
_ADDON_NAMES = dict(ADDONS)
# Event rules of the demo's products (see station.rulebook.event_rules): a meal voucher is
# one lunch a day in lunch hours; the tutorial's room holds two, and someone who left
# comes back in only after an exit scan.
ADDON_RULES: dict[str, dict[str, object]] = {
    "meal-voucher": {"daily_limit": 1, "open_hours": "11:30-14:30"},
    "tutorial-sqlalchemy": {"capacity": 2, "reentry": "after_exit"},
}
_TICKET_NAMES = dict(TICKET_TYPES)
_USERNAME_PREFIX = f"{DEMO_SLUG}-"
_SHOWCASE_PREFIX = f"{DEMO_SLUG}-showcase-"

# Given names and family names per language; surnames chosen so any pairing reads right.
_NAMES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("Jürgen", "Anke", "Lukas", "Sabine", "Matthias", "Lea"),
     ("Müller", "Schröder", "Weiß", "Becker", "Hoffmann", "Krüger")),
    (("Øyvind", "Ingrid", "Åsa", "Björn", "Sigrid", "Mikael"),
     ("Håland", "Lindqvist", "Sæther", "Johansson", "Nyström", "Bjørnstad")),
    (("José", "María", "Lucía", "Andrés", "Inés", "Iñaki"),
     ("García", "Fernández", "Núñez", "López", "Ibáñez", "Peña")),
    (("João", "Conceição", "Gonçalo", "Thaís", "Luís"),
     ("Gonçalves", "Araújo", "Simões", "Magalhães", "Conceição")),
    (("Đorđe", "Milica", "Nikola", "Jelena", "Dušan", "Ana"),
     ("Petrović", "Đukić", "Jovanović", "Šarić", "Kovačević", "Živković")),
    (("太郎", "花子", "健", "由美", "翔太", "さくら"),
     ("山田", "佐藤", "鈴木", "高橋", "田中", "渡辺")),
    (("Αλέξανδρος", "Ελένη", "Γιώργος", "Κατερίνα", "Νίκος", "Δήμητρα"),
     ("Οικονόμου", "Γεωργίου", "Νικολάου", "Βασιλείου", "Αντωνίου", "Δημητρίου")),
    (("Ngozi", "Chidi", "Oluwaseun", "Adaeze", "Emeka", "Funmilayo"),
     ("Okafor", "Adeyemi", "Nwosu", "Okonkwo", "Balogun", "Eze")),
    (("Siobhán", "Seán", "Aoife", "Pádraig", "Niamh", "Caoimhe"),
     ("O'Connor", "Kelly", "Murphy", "Byrne", "Ó Súilleabháin", "McCarthy")),
    (("Minh", "Thảo", "Quang", "Hương", "Đức", "Lan"),
     ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ")),
    (("Priya", "Arjun", "Ananya", "Rohan", "Lakshmi", "Vikram"),
     ("Sharma", "Iyer", "Patel", "Reddy", "Banerjee", "Nair")),
    (("伟", "芳", "静", "Wei", "Xiaoming", "Li Na"),
     ("王", "张", "陈", "Wang", "Zhang", "Chen")),
    (("Youssef", "Fatima", "Omar", "Layla", "Karim", "Nour"),
     ("El-Sayed", "Haddad", "Mansour", "Khoury", "Abdallah", "Saleh")),
    (("Łukasz", "Małgorzata", "Wojciech", "Zofia", "Grzegorz", "Agnieszka"),
     ("Nowak", "Wójcik", "Kowalczyk", "Mazur", "Krawczyk", "Wróbel")),
    (("Ayşe", "Mehmet", "Çağla", "Emre", "Gülşen", "Barış"),
     ("Yılmaz", "Öztürk", "Şahin", "Çelik", "Doğan", "Aydın")),
    (("Zoë", "Chloé", "Jérôme", "Hélène", "François", "Maëlle"),
     ("Lefèvre", "Bérenger", "Dubois", "Mercier", "Rousseau", "Faure")),
    (("Дмитрий", "Сергей", "Алексей", "Иван"),
     ("Соколов", "Кузнецов", "Попов", "Лебедев")),
    (("지훈", "서연", "민준", "지은"), ("김", "이", "박", "최")),
    (("Emily", "James", "Olivia", "Michael", "Grace", "Daniel"),
     ("Smith", "Johnson", "Williams", "Brown", "Taylor", "Davies")),
    (("Wanjiru", "Otieno", "Amani", "Achieng", "Baraka"),
     ("Kamau", "Odhiambo", "Mwangi", "Wekesa", "Njoroge")),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Showcase:
    case: str
    label: str
    first_name: str
    last_name: str
    status: OrderStatus | None
    ticket: str = "general"
    addons: tuple[tuple[str, int], ...] = ()
    checked_in: bool = False
    redeemed: str | None = None  # an add-on slug already used up


# The first attendees, one per case a volunteer should see; printed as sample codes.
_SHOWCASE = (
    _Showcase("paid-lunch", "paid, Lunch Day 1 x1, tutorial", "Zoë", "Lefèvre",
              OrderStatus.PAID,
              addons=(("lunch-day-1", 1), ("lunch-day-2", 1), ("tutorial-sqlalchemy", 1))),
    _Showcase("meal-voucher", "Meal voucher x3 (1 a day)", "Øyvind", "Håland", OrderStatus.PAID,
              addons=(("meal-voucher", 3),)),
    _Showcase("tutorial", "paid, tutorial + social", "Siobhán", "O'Connor", OrderStatus.PAID,
              ticket="student", addons=(("tutorial-sqlalchemy", 1), ("social", 1))),
    _Showcase("checked-in", "checked in (re-entry), tutorial", "Minh", "Nguyễn",
              OrderStatus.PAID, ticket="speaker",
              addons=(("lunch-day-1", 1), ("tutorial-sqlalchemy", 1)), checked_in=True),
    _Showcase("lunch-used", "Lunch Day 1 already redeemed", "Ingrid", "Lindqvist",
              OrderStatus.PAID, addons=(("lunch-day-1", 1),), checked_in=True,
              redeemed="lunch-day-1"),
    _Showcase("partially-refunded", "partially refunded", "José", "Núñez",
              OrderStatus.PARTIALLY_REFUNDED, addons=(("lunch-day-1", 1),)),
    _Showcase("pending", "order pending (unpaid)", "Đorđe", "Petrović", OrderStatus.PENDING,
              addons=(("lunch-day-1", 1),)),
    _Showcase("cancelled", "order cancelled", "太郎", "山田", OrderStatus.CANCELLED,
              addons=(("lunch-day-2", 1),)),
    _Showcase("refunded", "order refunded", "Αλέξανδρος", "Οικονόμου", OrderStatus.REFUNDED,
              addons=(("social", 1),)),
    _Showcase("no-order", "no order", "Ngozi", "Okafor", None),
    _Showcase("markup", "name with markup and a terminal escape", "[bold]Bob[/]",
              "Tables\x1b]0;pwned\x07", OrderStatus.PAID, addons=(("lunch-day-1", 1),)),
)  # fmt: skip

MIN_ATTENDEES = len(_SHOWCASE)

_STATUS_WEIGHTS = (
    (OrderStatus.PAID, 86),
    (OrderStatus.PENDING, 4),
    (OrderStatus.CANCELLED, 3),
    (OrderStatus.REFUNDED, 3),
    (OrderStatus.PARTIALLY_REFUNDED, 4),
)
_NO_ORDER_SHARE = 0.03
_TICKET_WEIGHTS = (("general", 75), ("student", 15), ("speaker", 10))
# (slug, share of orders that bought it, quantity)
_ADDON_SHARES = (
    ("lunch-day-1", 0.60, 1),
    ("lunch-day-2", 0.55, 1),
    ("meal-voucher", 0.15, 3),
    # Only the three showcase holders: the room (capacity 2) is the demo's full room.
    ("tutorial-sqlalchemy", 0.0, 1),
    ("social", 0.35, 1),
)
_CHECKED_IN_SHARE = 0.10
_DESKS = ("Registration 1", "Registration 2")
_ASCII_FOLD = str.maketrans(
    {"Đ": "D", "đ": "d", "Ø": "O", "ø": "o", "Æ": "AE", "æ": "ae", "ß": "ss",
     "Ł": "L", "ł": "l", "ı": "i", "Þ": "Th", "þ": "th"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoSample:
    case: str
    label: str
    code: str
    name: str  # as stored: may hold markup and escapes; make it display-safe to show it


@dataclass(frozen=True, slots=True)
class DemoSummary:
    conference: str
    conference_name: str
    attendees: int
    staff: tuple[str, ...]
    supervisor: str
    supervisor_pin: str
    samples: tuple[DemoSample, ...]


@dataclass(slots=True)
class _Planned:
    """One attendee to insert, before ids exist."""

    first_name: str
    last_name: str
    code: str
    username: str
    status: OrderStatus | None
    ticket: str
    addons: tuple[tuple[str, int], ...]
    checked_in: bool
    redeemed: str | None


def seed_demo(
    engine: Engine, *, attendees: int = 2000, seed: int = 42, reset: bool = False
) -> DemoSummary:
    """Create the demo conference unless it exists (then reuse it); ``reset`` re-seeds.

    One transaction and bulk inserts, so 2,000 attendees take about a second
    on SQLite and a half-seeded conference can never be left behind.
    """
    if attendees < MIN_ATTENDEES:
        raise ValueError(f"the demo needs at least {MIN_ATTENDEES} attendees")
    with engine.begin() as conn:
        exists = _conference_id(conn) is not None
        if exists and reset:
            _delete_demo(conn)
        if reset or not exists:
            _insert_demo(conn, _plan(attendees, random.Random(seed)), random.Random(seed + 1))
    summary = demo_summary(engine)
    assert summary is not None
    return summary


def reset_demo(engine: Engine) -> None:
    """Remove the demo conference and everything that hangs off it (staff stay)."""
    with engine.begin() as conn:
        _delete_demo(conn)


def demo_summary(engine: Engine) -> DemoSummary | None:
    """What the demo holds, read back from the database; None if there is no demo."""
    with engine.connect() as conn:
        conference_id = _conference_id(conn)
        if conference_id is None:
            return None
        count = conn.scalar(
            select(func.count())
            .select_from(Attendee)
            .where(Attendee.conference_id == conference_id)
        )
        rows = conn.execute(
            select(Person.username, Person.first_name, Person.last_name, Attendee.access_code)
            .join(Attendee, Attendee.person_id == Person.id)
            .where(
                Attendee.conference_id == conference_id,
                Person.username.startswith(_SHOWCASE_PREFIX, autoescape=True),
            )
        ).all()
        by_case = {row.username.removeprefix(_SHOWCASE_PREFIX): row for row in rows}
        staff = conn.scalars(
            select(Staff.name).where(Staff.name.in_((*STAFF_WITHOUT_PIN, SUPERVISOR)))
        ).all()
    samples = tuple(
        DemoSample(
            case.case,
            case.label,
            by_case[case.case].access_code,
            f"{by_case[case.case].first_name} {by_case[case.case].last_name}",
        )
        for case in _SHOWCASE
        if case.case in by_case
    )
    return DemoSummary(
        conference=DEMO_SLUG,
        conference_name=DEMO_NAME,
        attendees=count or 0,
        staff=tuple(name for name in STAFF_WITHOUT_PIN if name in staff),
        supervisor=SUPERVISOR if SUPERVISOR in staff else "",
        supervisor_pin=SUPERVISOR_PIN,
        samples=samples,
    )


def format_summary(summary: DemoSummary) -> str:
    """The sample codes as plain text for the terminal and ``demo-codes.txt``.

    Names go through ``display_safe`` so the markup showcase cannot retitle the terminal.
    """

    def show(text: str) -> str:
        return display_safe(text, limit=34)

    staff = ", ".join(summary.staff)
    lines = [
        f"{summary.conference_name} ({summary.conference}): {summary.attendees} attendees",
        f"Operators: {staff} (no PIN); {summary.supervisor} (PIN {summary.supervisor_pin})",
        "Sample badge codes (type one and press Enter, or scan it):",
    ]
    width = max((len(s.label) for s in summary.samples), default=0)
    lines += [f"  {s.code}  {s.label:<{width}}  {show(s.name)}" for s in summary.samples]
    lines += [
        "Other stations: station demo --mode meal --product lunch-day-1",
        "                station demo --mode door --product addon:tutorial-sqlalchemy"
        "   (room of 2; F6: in/out)",
        "                station demo --mode meal --product meal-voucher"
        ' --clock "2026-06-15 12:00"',
    ]
    return "\n".join(lines)


# --- planning (pure, deterministic) ----------------------------------------------------


def _plan(attendees: int, rng: random.Random) -> list[_Planned]:
    codes = _codes(rng)
    planned = [
        _Planned(
            first_name=case.first_name,
            last_name=case.last_name,
            code=next(codes),
            username=f"{_SHOWCASE_PREFIX}{case.case}",
            status=case.status,
            ticket=case.ticket,
            addons=case.addons,
            checked_in=case.checked_in,
            redeemed=case.redeemed,
        )
        for case in _SHOWCASE
    ]
    statuses = [s for s, _ in _STATUS_WEIGHTS]
    status_weights = [w for _, w in _STATUS_WEIGHTS]
    tickets = [t for t, _ in _TICKET_WEIGHTS]
    ticket_weights = [w for _, w in _TICKET_WEIGHTS]
    for n in range(len(planned) + 1, attendees + 1):
        given, family = rng.choice(_NAMES)
        status: OrderStatus | None = None
        if rng.random() >= _NO_ORDER_SHARE:
            status = rng.choices(statuses, status_weights)[0]
        addons = tuple((slug, qty) for slug, share, qty in _ADDON_SHARES if rng.random() < share)
        if status is OrderStatus.PARTIALLY_REFUNDED and addons:
            addons = addons[:-1]  # the refunded part
        planned.append(
            _Planned(
                first_name=rng.choice(given),
                last_name=rng.choice(family),
                code=next(codes),
                username=f"{_USERNAME_PREFIX}{n:05d}",
                status=status,
                ticket=rng.choices(tickets, ticket_weights)[0],
                addons=addons,
                checked_in=status is OrderStatus.PAID and rng.random() < _CHECKED_IN_SHARE,
                redeemed=None,
            )
        )
    return planned


def _codes(rng: random.Random) -> Iterator[str]:
    seen: set[str] = set()
    while True:
        code = "".join(rng.choices(CODE_ALPHABET, k=CODE_LENGTH))
        if code not in seen:
            seen.add(code)
            yield code


def _email(first: str, last: str, n: int) -> str:
    local = ".".join(part for part in (_ascii(first), _ascii(last)) if part)
    return f"{local or 'attendee'}.{n}@example.org"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(ch for ch in folded.lower() if ch.isascii() and ch.isalnum())


# --- writing ---------------------------------------------------------------------------


def _conference_id(conn: Connection) -> int | None:
    return conn.scalar(select(Conference.id).where(Conference.slug == DEMO_SLUG))


def _insert_returning_ids(
    conn: Connection, model: Any, rows: Sequence[dict[str, Any]]
) -> list[int]:
    if not rows:
        return []
    result = conn.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


def _insert_demo(conn: Connection, planned: list[_Planned], rng: random.Random) -> None:
    now = datetime.now(UTC)
    (conference_id,) = _insert_returning_ids(
        conn,
        Conference,
        [
            {
                "slug": DEMO_SLUG,
                "name": DEMO_NAME,
                "timezone": DEMO_TIMEZONE,
                "start_date": date(2026, 6, 15),
                "end_date": date(2026, 6, 17),
            }
        ],
    )
    ticket_ids = dict(
        zip(
            (slug for slug, _ in TICKET_TYPES),
            _insert_returning_ids(
                conn,
                TicketType,
                [{"conference_id": conference_id, "slug": s, "name": n} for s, n in TICKET_TYPES],
            ),
            strict=True,
        )
    )
    addon_ids = dict(
        zip(
            (slug for slug, _ in ADDONS),
            _insert_returning_ids(
                conn,
                AddOn,
                [
                    {
                        "conference_id": conference_id,
                        "slug": s,
                        "name": n,
                        "daily_limit": None,
                        "open_hours": None,
                        "reentry": "unlimited",
                        "capacity": None,
                        **ADDON_RULES.get(s, {}),
                    }
                    for s, n in ADDONS
                ],
            ),
            strict=True,
        )
    )
    staff_ids = _ensure_staff(conn)

    person_ids = _insert_returning_ids(
        conn,
        Person,
        [
            {
                "username": p.username,
                "first_name": p.first_name,
                "last_name": p.last_name,
                "email": _email(p.first_name, p.last_name, n),
            }
            for n, p in enumerate(planned, start=1)
        ],
    )
    with_order = [(n, p) for n, p in enumerate(planned) if p.status is not None]
    order_ids = _insert_returning_ids(
        conn,
        Order,
        [
            {
                "conference_id": conference_id,
                "person_id": person_ids[n],
                "reference": f"DEMO-{n + 1:05d}",
                "status": p.status,
            }
            for n, p in with_order
        ],
    )
    order_of = {n: order_ids[i] for i, (n, _p) in enumerate(with_order)}

    line_rows: list[dict[str, Any]] = []
    line_keys: list[tuple[int, str]] = []
    for n, p in with_order:
        line_rows.append(
            {
                "order_id": order_of[n],
                "description": _TICKET_NAMES[p.ticket],
                "quantity": 1,
                "ticket_type_id": ticket_ids[p.ticket],
                "addon_id": None,
            }
        )
        line_keys.append((n, f"ticket:{p.ticket}"))
        for slug, quantity in p.addons:
            name = _ADDON_NAMES[slug]
            line_rows.append(
                {
                    "order_id": order_of[n],
                    "description": f"{name} x{quantity}" if quantity > 1 else name,
                    "quantity": quantity,
                    "ticket_type_id": None,
                    "addon_id": addon_ids[slug],
                }
            )
            line_keys.append((n, slug))
    line_ids = dict(
        zip(line_keys, _insert_returning_ids(conn, OrderLineItem, line_rows), strict=True)
    )

    checked_in_at = {
        n: now - timedelta(minutes=rng.randint(5, 180))
        for n, p in enumerate(planned)
        if p.checked_in
    }
    attendee_ids = _insert_returning_ids(
        conn,
        Attendee,
        [
            {
                "person_id": person_ids[n],
                "conference_id": conference_id,
                "order_id": order_of.get(n),
                "access_code": p.code,
                "checked_in_at": checked_in_at.get(n),
                "created_at": now,
                "updated_at": now,
            }
            for n, p in enumerate(planned)
        ],
    )
    # Bulk inserts bypass the ORM hook: the lookup's folded keys are written here.
    refresh_search_keys(conn, attendee_ids=attendee_ids)
    desk_staff = [staff_ids[name] for name in STAFF_WITHOUT_PIN[:2]]
    check_ins = [
        {
            "client_id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "attendee_id": attendee_ids[n],
            "conference_id": conference_id,
            "checked_in_at": at,
            "staff_id": rng.choice(desk_staff),
            "station": rng.choice(_DESKS),
            "note": "",
        }
        for n, at in checked_in_at.items()
    ]
    if check_ins:
        conn.execute(insert(CheckIn), check_ins)
    redemptions = [
        {
            "client_id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "attendee_id": attendee_ids[n],
            "order_line_item_id": line_ids[(n, p.redeemed)],
            "conference_id": conference_id,
            "redeemed_at": checked_in_at.get(n, now) + timedelta(minutes=3),
            "staff_id": staff_ids[STAFF_WITHOUT_PIN[2]],
            "station": "Lunch line 1",
            "note": "",
        }
        for n, p in enumerate(planned)
        if p.redeemed is not None
    ]
    if redemptions:
        conn.execute(insert(ProductRedemption), redemptions)


def _ensure_staff(conn: Connection) -> dict[str, int]:
    """The demo operators; staff are shared across conferences, so add only the missing."""
    names = (*STAFF_WITHOUT_PIN, SUPERVISOR)
    existing = set(conn.scalars(select(Staff.name).where(Staff.name.in_(names))))
    missing = [
        {
            "name": name,
            "pin_hash": hash_pin(SUPERVISOR_PIN) if name == SUPERVISOR else None,
            "supervisor": name == SUPERVISOR,
        }
        for name in names
        if name not in existing
    ]
    if missing:
        conn.execute(insert(Staff), missing)
    rows = conn.execute(select(Staff.name, Staff.id).where(Staff.name.in_(names))).all()
    return {row.name: row.id for row in rows}


@contextmanager
def _append_only_lifted(conn: Connection, tables: tuple[str, ...]) -> Iterator[None]:
    """On SQLite, the delete guards of append-only tables (voids, door clears) are lifted
    for the demo's reset and put back as they were, in the reset's transaction: a void
    left behind would take back the new demo's record that reuses its id. (PostgreSQL
    guards them with roles; the demo's owner may delete.)"""
    if conn.dialect.name != "sqlite":
        yield
        return
    marks = ", ".join("?" for _ in tables)
    guards = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
        f"AND tbl_name IN ({marks}) AND sql LIKE '%BEFORE DELETE%'",
        tables,
    ).all()
    for name, _sql in guards:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        for _name, sql in guards:
            conn.exec_driver_sql(sql)


def _delete_demo(conn: Connection) -> None:
    conference_id = _conference_id(conn)
    if conference_id is None:
        return
    attendees = select(Attendee.id).where(Attendee.conference_id == conference_id)
    orders = select(Order.id).where(Order.conference_id == conference_id)
    conn.execute(
        delete(ScanLog).where(
            or_(ScanLog.conference_id == conference_id, ScanLog.attendee_id.in_(attendees))
        )
    )
    with _append_only_lifted(conn, ("scan_void", "door_clear")):
        for record in (ScanVoid, DoorClear):
            conn.execute(delete(record).where(record.conference_id == conference_id))
    for model in (ProductRedemption, DoorCheck, CheckIn, RoomCount):
        conn.execute(delete(model).where(model.conference_id == conference_id))
    conn.execute(delete(Attendee).where(Attendee.conference_id == conference_id))
    conn.execute(delete(OrderLineItem).where(OrderLineItem.order_id.in_(orders)))
    conn.execute(delete(Order).where(Order.conference_id == conference_id))
    for catalogue in (TicketType, AddOn):
        conn.execute(delete(catalogue).where(catalogue.conference_id == conference_id))
    # Demo people only, and only those no other conference refers to.
    conn.execute(
        delete(Person).where(
            Person.username.startswith(_USERNAME_PREFIX, autoescape=True),
            Person.id.not_in(select(Attendee.person_id)),
            Person.id.not_in(select(Order.person_id)),
        )
    )
    conn.execute(delete(Conference).where(Conference.id == conference_id))
