"""The station's data model (SQLAlchemy 2.0, typed).

Schema changes go through Alembic (``station/migrations``); this module is the
source the migrations are generated from. Times are stored as UTC and always
come back timezone-aware, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Connection,
    Date,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    event,
    false,
    func,
    select,
    text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    UOWTransaction,
    attributes,
    mapped_column,
    relationship,
)

from station.domain import ACTIVE_ORDER_STATUSES, OrderStatus
from station.searchkey import search_key

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is stored as UTC and read back timezone-aware.

    SQLite has no time zones; without this, values written aware come back
    naive there and comparisons between the two databases drift.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def change_seq_column() -> Mapped[int]:
    """Where a row stands in the global order of changes (migration 0013).

    The database stamps it on every insert and update (a trigger), larger than any
    value given before, so a station syncs its snapshot with ``change_seq > last seen``.
    On attendee only an insert and an update of access_code, order_id, person_id or
    conference_id: a check-in's update leaves it alone (and stays a HOT update), its
    check_in record tells. Nothing in the station writes it.
    """
    return mapped_column(BigInteger(), server_default=text("0"), index=True)


def _status_enum() -> Enum:
    # Stored as plain text with a CHECK, so adding a status is a migration
    # but never a PostgreSQL ENUM type dance.
    return Enum(
        OrderStatus,
        name="order_status",
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Conference(Base):
    __tablename__ = "conference"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    change_seq: Mapped[int] = change_seq_column()


class Staff(Base):
    """An operator who scans; the PIN, when set, is a salted scrypt hash."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # May void any scan with their PIN (migration 0012); operators void only their last.
    supervisor: Mapped[bool] = mapped_column(default=False, server_default=false())


class TicketType(Base):
    __tablename__ = "ticket_type"
    __table_args__ = (UniqueConstraint("conference_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))
    # What a volunteer must see when a holder is scanned (migration 0011).
    checkin_attention: Mapped[str | None] = mapped_column(String(300), default=None)
    # Event rules (migration 0014; station.rulebook.event_rules reads them): a per-day cap,
    # opening hours ("11:30-14:30, 18:00-20:00"), valid dates ("2027-05-13, ..."), and for
    # a door for this product its re-entry policy and capacity. NULL/"unlimited": no rule.
    daily_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    open_hours: Mapped[str | None] = mapped_column(String(200), default=None)
    valid_dates: Mapped[str | None] = mapped_column(String(400), default=None)
    reentry: Mapped[str] = mapped_column(
        String(12), default="unlimited", server_default=text("'unlimited'")
    )
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)
    change_seq: Mapped[int] = change_seq_column()

    conference: Mapped[Conference] = relationship()


class AddOn(Base):
    __tablename__ = "addon"
    __table_args__ = (UniqueConstraint("conference_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100))
    # What a volunteer must see when a holder is scanned (migration 0011).
    checkin_attention: Mapped[str | None] = mapped_column(String(300), default=None)
    # Event rules (migration 0014; station.rulebook.event_rules reads them): a per-day cap,
    # opening hours ("11:30-14:30, 18:00-20:00"), valid dates ("2027-05-13, ..."), and for
    # a door for this product its re-entry policy and capacity. NULL/"unlimited": no rule.
    daily_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    open_hours: Mapped[str | None] = mapped_column(String(200), default=None)
    valid_dates: Mapped[str | None] = mapped_column(String(400), default=None)
    reentry: Mapped[str] = mapped_column(
        String(12), default="unlimited", server_default=text("'unlimited'")
    )
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)
    change_seq: Mapped[int] = change_seq_column()

    conference: Mapped[Conference] = relationship()


class Order(Base):
    __tablename__ = "order"
    __table_args__ = (UniqueConstraint("conference_id", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    reference: Mapped[str] = mapped_column(String(64))
    status: Mapped[OrderStatus] = mapped_column(_status_enum(), default=OrderStatus.PENDING)
    # What a volunteer must see when this order's badge is scanned (migration 0011).
    checkin_attention: Mapped[str | None] = mapped_column(String(300), default=None)
    change_seq: Mapped[int] = change_seq_column()

    line_items: Mapped[list[OrderLineItem]] = relationship(
        back_populates="order", order_by="OrderLineItem.id"
    )


class OrderLineItem(Base):
    __tablename__ = "order_line_item"
    __table_args__ = (
        CheckConstraint("(ticket_type_id IS NULL) <> (addon_id IS NULL)", name="one_product"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        # Each django-program line item once per order (migration 0009).
        Index(None, "order_id", "source_line_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    ticket_type_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_type.id"), index=True)
    addon_id: Mapped[int | None] = mapped_column(ForeignKey("addon.id"), index=True)
    # The line item's id in the system it was imported from (django-program's preload
    # ``products[].id``), for tracing it back and for updating it in place on re-import.
    # NULL for lines made here or by a CSV import.
    source_line_id: Mapped[str | None] = mapped_column(String(64))
    change_seq: Mapped[int] = change_seq_column()

    order: Mapped[Order] = relationship(back_populates="line_items")
    ticket_type: Mapped[TicketType | None] = relationship()
    addon: Mapped[AddOn | None] = relationship()


class Attendee(Base):
    """A person's admission to one conference; the badge carries ``access_code``.

    Codes are stored upper-case (see ``station.codes``) so a scanner in lower
    case or with caps lock finds the same row through a plain unique index.
    """

    __tablename__ = "attendee"
    # On PostgreSQL its pages keep 15% free (fillfactor 85, migration 0003), so the
    # first check-in's update stays on the page and touches none of its indexes.
    __table_args__ = (
        UniqueConstraint("conference_id", "person_id"),
        # Rows written by a path that forgot the key: the lookup still finds them.
        Index(
            "ix_attendee_unkeyed",
            "conference_id",
            sqlite_where=text("search_key IS NULL"),
            postgresql_where=text("search_key IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"), index=True)
    access_code: Mapped[str] = mapped_column(String(256), unique=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Names, e-mail, username, order reference and code folded (station.searchkey), written
    # by station.models whenever one of them is; NULL until then. Its trigram index
    # (PostgreSQL) and FTS5 table (SQLite) belong to migration 0010, not to the models:
    # see station.models.include_in_autogenerate.
    search_key: Mapped[str | None] = mapped_column(Text, deferred=True)
    change_seq: Mapped[int] = change_seq_column()

    person: Mapped[Person] = relationship()
    conference: Mapped[Conference] = relationship()
    order: Mapped[Order | None] = relationship()


class StationRoleConference(Base):
    """PostgreSQL: the conference of each station role (``station db grant-station-role``).

    Reads are held to it by the role's own row-level security policies, which carry the
    conference's id as a constant; this table says the same for SECURITY DEFINER functions,
    which run as the owner and so see every conference: ``station_caller_conference()``
    (migration 0007) is the caller's. No right to it for the station role. Unused on SQLite.
    """

    __tablename__ = "station_role_conference"

    role_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="CASCADE"))


# The scan records (check-ins, door checks, redemptions, the scan log) carry no foreign
# keys: a key checks and locks its parent row on every insert, and every scan inserts. A
# record's attendee and product ids are ones the same statement has just read. What the
# keys also did, refusing to delete or renumber an attendee, line item, ticket type or
# add-on that records refer to, is done by triggers on those tables (migration 0005).
# The conference and staff keys went first (0003): those rows are shared by every scan of
# every station, and a key would lock them in each one. Nor is the scan log indexed by
# attendee: every scan would pay for an index only the demo's reset used (0003). Nor are
# check-ins, door checks and redemptions indexed by conference: only the report and the
# export read by it, and they read a whole conference (0004).


# Record ids are bigint on PostgreSQL (a station could spend an integer sequence in
# minutes); SQLite's rowid is 64-bit already and only INTEGER autoincrements.
RECORD_ID = BigInteger().with_variant(Integer(), "sqlite")


class CheckIn(Base):
    __tablename__ = "check_in"
    __table_args__ = (Index(None, "attendee_id", "checked_in_at"),)

    id: Mapped[int] = mapped_column(RECORD_ID, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    attendee_id: Mapped[int] = mapped_column()
    conference_id: Mapped[int] = mapped_column()
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The station's own clock; the recorded time above is the server's (migration 0008).
    client_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    staff_id: Mapped[int | None] = mapped_column()
    station: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class DoorCheck(Base):
    """An admission at a sub-event door; refused attempts live in the scan log."""

    __tablename__ = "door_check"
    __table_args__ = (
        CheckConstraint("(ticket_type_id IS NULL) <> (addon_id IS NULL)", name="one_product"),
        Index(None, "attendee_id", "checked_at"),
        # A door's room: who is inside (migration 0014).
        Index(
            "ix_door_check_addon_room",
            "addon_id",
            "checked_at",
            sqlite_where=text("addon_id IS NOT NULL"),
            postgresql_where=text("addon_id IS NOT NULL"),
        ),
        Index(
            "ix_door_check_ticket_room",
            "ticket_type_id",
            "checked_at",
            sqlite_where=text("ticket_type_id IS NOT NULL"),
            postgresql_where=text("ticket_type_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(RECORD_ID, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    attendee_id: Mapped[int] = mapped_column()
    conference_id: Mapped[int] = mapped_column()
    ticket_type_id: Mapped[int | None] = mapped_column()
    addon_id: Mapped[int | None] = mapped_column()
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The station's own clock; the recorded time above is the server's (migration 0008).
    client_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    staff_id: Mapped[int | None] = mapped_column()
    station: Mapped[str] = mapped_column(String(100), default="")
    # "in": admitted; "out": an exit scan (migration 0014), for a door's inside count.
    direction: Mapped[str] = mapped_column(String(3), default="in", server_default=text("'in'"))


class DoorClear(Base):
    """A door's "everyone out" (migration 0014): append-only; from ``cleared_at`` on,
    nobody counts as inside the door's room until scanned in again."""

    __tablename__ = "door_clear"
    __table_args__ = (
        CheckConstraint("(ticket_type_id IS NULL) <> (addon_id IS NULL)", name="one_product"),
    )

    id: Mapped[int] = mapped_column(RECORD_ID, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    conference_id: Mapped[int] = mapped_column(index=True)
    ticket_type_id: Mapped[int | None] = mapped_column()
    addon_id: Mapped[int | None] = mapped_column()
    cleared_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    client_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    staff_id: Mapped[int | None] = mapped_column()
    station: Mapped[str] = mapped_column(String(100), default="")
    inside: Mapped[int] = mapped_column(default=0)
    """How many were counted inside when the door was cleared."""


class RoomCount(Base):
    """How many people are inside a door's room (migration 0015): one row per door product,
    kept by the database's triggers on door_check, scan_void and door_clear, so a door with
    a capacity reads its room in one row. Read-only to everyone else; the definition is
    station.services.rooms' (``inside_query`` counts the same from the records)."""

    __tablename__ = "room_count"
    __table_args__ = (
        CheckConstraint("(ticket_type_id IS NULL) <> (addon_id IS NULL)", name="one_product"),
        CheckConstraint("inside >= 0", name="inside"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(index=True)
    ticket_type_id: Mapped[int | None] = mapped_column(unique=True)
    addon_id: Mapped[int | None] = mapped_column(unique=True)
    inside: Mapped[int] = mapped_column(default=0)


class ProductRedemption(Base):
    __tablename__ = "product_redemption"
    __table_args__ = (
        Index(None, "order_line_item_id", "attendee_id"),
        Index(None, "attendee_id"),  # an attendee's newest redemption: a write's premise (0023)
    )

    id: Mapped[int] = mapped_column(RECORD_ID, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    attendee_id: Mapped[int] = mapped_column()
    order_line_item_id: Mapped[int] = mapped_column()
    conference_id: Mapped[int] = mapped_column()
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The station's own clock; the recorded time above is the server's (migration 0008).
    client_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    staff_id: Mapped[int | None] = mapped_column()
    station: Mapped[str] = mapped_column(String(100), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class ScanVoid(Base):
    """A scan taken back: append-only, pointing at the record it voids (migration 0012).

    ``record_kind`` is the scan's action ("checkin", "door", "redeem") and ``record_id``
    the id of its row in check_in, door_check or product_redemption; a record is voided
    at most once. The voided row stays; every count leaves it out.
    """

    __tablename__ = "scan_void"
    __table_args__ = (
        UniqueConstraint("record_kind", "record_id"),
        CheckConstraint("record_kind IN ('checkin', 'door', 'redeem')", name="record_kind"),
        Index(None, "attendee_id"),  # an attendee's newest void: a write's premise (0021)
    )

    id: Mapped[int] = mapped_column(RECORD_ID, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    conference_id: Mapped[int] = mapped_column()
    attendee_id: Mapped[int] = mapped_column()
    record_kind: Mapped[str] = mapped_column(String(10))
    record_id: Mapped[int] = mapped_column(BigInteger())
    staff_id: Mapped[int | None] = mapped_column()
    station: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(String(300), default="")
    voided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    client_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OfflineConflict(Base):
    """A replayed offline scan the server refused (migration 0013): append-only.

    ``kind`` is "overspend" (the unit was given away twice: used up, already redeemed)
    or "conflict" (any other refusal: order no longer active, unknown badge). For an
    overspend, ``other_station``/``other_at`` are the latest standing redemption of the
    line by another station (else the same one), looked up when the row is written, so
    the report names both. ``received_at`` is the recording server's time; ``client_at``
    the offline station's.
    """

    __tablename__ = "offline_conflict"
    __table_args__ = (
        CheckConstraint("kind IN ('overspend', 'conflict')", name="kind"),
        CheckConstraint("action IN ('checkin', 'door', 'redeem')", name="action"),
    )

    id: Mapped[int] = mapped_column(RECORD_ID, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    conference_id: Mapped[int] = mapped_column(index=True)
    attendee_id: Mapped[int | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(256))
    order_line_item_id: Mapped[int | None] = mapped_column()
    station: Mapped[str] = mapped_column(String(100))
    staff_id: Mapped[int | None] = mapped_column()
    client_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.current_timestamp()
    )
    reason: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(300), default="")
    other_station: Mapped[str | None] = mapped_column(String(100))
    other_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StationHealth(Base):
    """Each station's latest heartbeat (migration 0017): one row per station, overwritten
    every few seconds, so the dashboard reads the whole event in one small table.

    ``beat_at`` is the writer's server time (the station's own clock on SQLite, where the
    station is its own server); a row whose ``beat_at`` is older than a few of its own
    ``every_s`` is a lost station. The station role writes it only through
    ``station_heartbeat()`` and cannot read it.
    """

    __tablename__ = "station_health"
    __table_args__ = (CheckConstraint("state IN ('running', 'closed')", name="state"),)

    conference_id: Mapped[int] = mapped_column(primary_key=True)
    station: Mapped[str] = mapped_column(String(100), primary_key=True)
    mode: Mapped[str] = mapped_column(String(20))
    product: Mapped[str | None] = mapped_column(String(200))
    operator: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10))
    online: Mapped[bool] = mapped_column()
    backlog: Mapped[int | None] = mapped_column()
    last_scan_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    scans_1m: Mapped[int] = mapped_column()
    refusals_1m: Mapped[int] = mapped_column()
    p50_ms: Mapped[float | None] = mapped_column()
    p95_ms: Mapped[float | None] = mapped_column()
    every_s: Mapped[float] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    beats: Mapped[int] = mapped_column(BigInteger())


class ScanLog(Base):
    """Every scan attempt, refused ones included, for the organisers' audit."""

    __tablename__ = "scan_log"
    __table_args__ = (Index(None, "conference_id", "scanned_at"),)

    id: Mapped[int] = mapped_column(RECORD_ID, primary_key=True)
    conference_id: Mapped[int | None] = mapped_column()
    attendee_id: Mapped[int | None] = mapped_column()
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The station's own clock; the recorded time above is the server's (migration 0008).
    client_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    station: Mapped[str] = mapped_column(String(100), default="")
    staff_id: Mapped[int | None] = mapped_column()
    action: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(256), default="")
    outcome: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(300), default="")


# ---------------------------------------------------------------------------------------------
# The lookup's search key. It lives here, with the models, so that importing them registers
# the hook below: no ORM write can forget the key.
#
# It keeps ``attendee.search_key`` (the folded names the lookup searches) right on every write.
#
# The key of an attendee is made of its person's names, e-mail and username, its order's
# reference and its badge code (:func:`attendee_search_key`, folded by
# :func:`station.searchkey.search_key`). Any write to one of those rewrites it:
#
# - through the ORM (tests' builders, the services, scripts): the ``after_flush`` hook below,
#   registered on every :class:`~sqlalchemy.orm.Session` when ``station.models`` is imported,
#   so an ORM write cannot forget it;
# - by the bulk paths that bypass the ORM (the importer's COPY and executemany, the demo's
#   bulk inserts): each calls :func:`refresh_search_keys` with what it wrote, in its
#   transaction. Rows one of them forgets have a NULL key; the lookup still finds them (it
#   folds such rows itself, through a small partial index) and the next refresh fills them.
#
# The key is always recomputed from the rows as stored, never from what a caller thinks it
# wrote, and only changed keys are written.

_CHUNK = 500
_COPY_FROM = 2000  # keys; fewer go by executemany
_PERSON_FIELDS = ("first_name", "last_name", "email", "username")
_ATTENDEE_FIELDS = ("person_id", "order_id", "access_code")
_UPDATE = text("UPDATE attendee SET search_key = :k WHERE id = :i")  # no onupdate: updated_at


#: Search structures the migrations own and the models do not describe (a GIN index with an
#: operator class of an extension; an FTS5 virtual table and its shadow tables).
MIGRATION_OWNED_INDEXES = frozenset(
    {"ix_attendee_search_key_trgm", "ix_attendee_search_names_trgm"}
)
MIGRATION_OWNED_TABLE_PREFIX = "attendee_search"
#: SQLite's counter behind change_seq (migration 0013's triggers own it; PostgreSQL has a
#: sequence instead).
MIGRATION_OWNED_TABLES = frozenset({"station_change_counter"})


def include_in_autogenerate(name: str | None, type_: str, _parents: object) -> bool:
    """Alembic ``include_name``: leave the migration-owned search structures out of a
    comparison of the database with the models."""
    if type_ == "table" and name is not None:
        return not name.startswith(MIGRATION_OWNED_TABLE_PREFIX) and (
            name not in MIGRATION_OWNED_TABLES
        )
    if type_ == "index":
        return name not in MIGRATION_OWNED_INDEXES
    return True


def attendee_search_key(
    first_name: str | None,
    last_name: str | None,
    email: str | None,
    username: str | None,
    reference: str | None,
    access_code: str | None,
) -> str:
    """The folded key of an attendee, from what it is made of."""
    return search_key((first_name, last_name), (email, username, reference, access_code))


def key_of_row(row: Any) -> str:
    return attendee_search_key(
        row.first_name, row.last_name, row.email, row.username, row.reference, row.access_code
    )


def _key_rows() -> Any:
    return (
        select(
            Attendee.id,
            Attendee.access_code,
            Attendee.search_key,
            Person.first_name,
            Person.last_name,
            Person.email,
            Person.username,
            Order.reference,
        )
        .join(Person, Person.id == Attendee.person_id)
        .outerjoin(Order, Order.id == Attendee.order_id)
    )


def refresh_search_keys(
    conn: Connection,
    *,
    attendee_ids: Iterable[int] = (),
    person_ids: Iterable[int] = (),
    order_ids: Iterable[int] = (),
    conference_id: int | None = None,
) -> int:
    """Recompute the keys of the attendees named (directly, by person, by order, or all of a
    conference) and write those that changed; returns how many were written."""
    queries = []
    for column, ids in (
        (Attendee.id, attendee_ids),
        (Attendee.person_id, person_ids),
        (Attendee.order_id, order_ids),
    ):
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), _CHUNK):
            queries.append(_key_rows().where(column.in_(wanted[start : start + _CHUNK])))
    if conference_id is not None:
        queries.append(_key_rows().where(Attendee.conference_id == conference_id))
    changed: dict[int, str] = {}
    for query in queries:
        for row in conn.execute(query):
            key = key_of_row(row)
            if key != row.search_key:
                changed[row.id] = key
    write_keys(conn, changed.items())
    return len(changed)


def write_keys(conn: Connection, keys: Iterable[tuple[int, str]]) -> None:
    """Write (attendee id, key) pairs. Many on PostgreSQL go through COPY into a temporary
    table and one UPDATE … FROM: 100,000 keys took 18 s as executemany, 3 s so."""
    rows = list(keys)
    if conn.dialect.name == "postgresql" and len(rows) > _COPY_FROM:
        _copy_keys(conn, rows)
        return
    params = [{"i": attendee_id, "k": key} for attendee_id, key in rows]
    for start in range(0, len(params), 5000):
        conn.execute(_UPDATE, params[start : start + 5000])


def _copy_keys(conn: Connection, rows: Sequence[tuple[int, str]]) -> None:
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE station_search_keys (id integer PRIMARY KEY, k text) ON COMMIT DROP"
    )
    driver = conn.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy("COPY station_search_keys (id, k) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    conn.exec_driver_sql(
        "UPDATE attendee SET search_key = station_search_keys.k FROM station_search_keys "
        "WHERE attendee.id = station_search_keys.id"
    )
    conn.exec_driver_sql("DROP TABLE station_search_keys")


def _changed(obj: object, fields: Sequence[str]) -> bool:
    state = attributes.instance_state(obj)
    return any(state.attrs[f].history.has_changes() for f in fields)


@event.listens_for(Session, "after_flush")
def _keys_after_flush(session: Session, _flush: UOWTransaction) -> None:
    """Rewrite the keys an ORM flush made stale, in the flush's own transaction."""
    attendee_ids: list[int] = []
    person_ids: list[int] = []
    order_ids: list[int] = []
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Attendee):
            if obj in session.new or _changed(obj, _ATTENDEE_FIELDS):
                attendee_ids.append(obj.id)
        elif isinstance(obj, Person):
            if obj not in session.new and _changed(obj, _PERSON_FIELDS):
                person_ids.append(obj.id)
        elif isinstance(obj, Order) and obj not in session.new and _changed(obj, ("reference",)):
            order_ids.append(obj.id)
    if attendee_ids or person_ids or order_ids:
        refresh_search_keys(
            session.connection(),
            attendee_ids=attendee_ids,
            person_ids=person_ids,
            order_ids=order_ids,
        )


__all__ = [
    "ACTIVE_ORDER_STATUSES",
    "AddOn",
    "Attendee",
    "Base",
    "CheckIn",
    "Conference",
    "DoorCheck",
    "OfflineConflict",
    "Order",
    "OrderLineItem",
    "OrderStatus",
    "Person",
    "ProductRedemption",
    "ScanLog",
    "Staff",
    "StationRoleConference",
    "TicketType",
    "attendee_search_key",
    "change_seq_column",
    "include_in_autogenerate",
    "refresh_search_keys",
    "utcnow",
]
