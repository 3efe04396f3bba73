"""The reads a void needs, the same on every database: records as ``ScanRecord`` facts.

Plain SELECTs the station role may run (it reads the record tables and scan_void of
its conference); the stores run them, in their transaction or on their connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, func, literal, null, select
from sqlalchemy.orm import Session

from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    DoorCheck,
    OrderLineItem,
    Person,
    ProductRedemption,
    ScanVoid,
    TicketType,
)
from station.rulebook.facts import RecordKind, ScanRecord

KINDS: tuple[RecordKind, ...] = ("checkin", "door", "redeem")


def not_voided(kind: RecordKind, record_id: Any) -> ColumnElement[bool]:
    """No void of that record: the filter every count of records takes."""
    return ~exists().where(ScanVoid.record_kind == kind, ScanVoid.record_id == record_id)


def _select(kind: RecordKind) -> Any:
    """One kind's records with what a void shows: attendee, product, voided or not."""
    voided = exists().where(ScanVoid.record_kind == kind, ScanVoid.record_id == _id(kind))
    query: Any
    if kind == "checkin":
        query = select(
            CheckIn.id,
            CheckIn.attendee_id,
            CheckIn.checked_in_at.label("at"),
            CheckIn.station,
            null().label("product"),
            voided.label("voided"),
        ).select_from(CheckIn)
        table: Any = CheckIn
    elif kind == "door":
        query = (
            select(
                DoorCheck.id,
                DoorCheck.attendee_id,
                DoorCheck.checked_at.label("at"),
                DoorCheck.station,
                func.coalesce(TicketType.name, AddOn.name).label("product"),
                voided.label("voided"),
            )
            .select_from(DoorCheck)
            .outerjoin(TicketType, TicketType.id == DoorCheck.ticket_type_id)
            .outerjoin(AddOn, AddOn.id == DoorCheck.addon_id)
        )
        table = DoorCheck
    else:
        query = (
            select(
                ProductRedemption.id,
                ProductRedemption.attendee_id,
                ProductRedemption.redeemed_at.label("at"),
                ProductRedemption.station,
                AddOn.name.label("product"),
                voided.label("voided"),
            )
            .select_from(ProductRedemption)
            .outerjoin(OrderLineItem, OrderLineItem.id == ProductRedemption.order_line_item_id)
            .outerjoin(AddOn, AddOn.id == OrderLineItem.addon_id)
        )
        table = ProductRedemption
    return (
        query.add_columns(
            literal(kind).label("kind"),
            Attendee.access_code,
            Person.first_name,
            Person.last_name,
            Person.username,
        )
        .join(Attendee, Attendee.id == table.attendee_id)
        .join(Person, Person.id == Attendee.person_id)
    )


def _table(kind: RecordKind) -> Any:
    return {"checkin": CheckIn, "door": DoorCheck, "redeem": ProductRedemption}[kind]


def _id(kind: RecordKind) -> Any:
    return _table(kind).id


def _at(kind: RecordKind) -> Any:
    return {
        "checkin": CheckIn.checked_in_at,
        "door": DoorCheck.checked_at,
        "redeem": ProductRedemption.redeemed_at,
    }[kind]


def _records(rows: Iterable[Any]) -> list[ScanRecord]:
    return [
        ScanRecord(
            kind=row.kind,
            id=int(row.id),
            attendee_id=row.attendee_id,
            at=row.at,
            station=row.station or "",
            first_name=row.first_name or "",
            last_name=row.last_name or "",
            username=row.username or "",
            access_code=row.access_code,
            product=row.product or "",
            voided=bool(row.voided),
        )
        for row in rows
    ]


def record(
    session: Session | Connection, conference_id: int, kind: RecordKind, record_id: int
) -> ScanRecord | None:
    """One record of the conference by kind and id."""
    table = _table(kind)
    rows = session.execute(
        _select(kind).where(table.conference_id == conference_id, table.id == record_id)
    )
    found = _records(rows)
    return found[0] if found else None


def last_at_station(
    session: Session | Connection, conference_id: int, station: str
) -> ScanRecord | None:
    """The latest record of any kind made at ``station`` (voided or not)."""
    found: list[ScanRecord] = []
    for kind in KINDS:
        table = _table(kind)
        query = (
            _select(kind)
            .where(table.conference_id == conference_id, table.station == station[:100])
            .order_by(_at(kind).desc(), table.id.desc())
            .limit(1)
        )
        found.extend(_records(session.execute(query)))
    return max(found, key=lambda r: (r.at, r.id), default=None)


def for_attendee(
    session: Session | Connection, conference_id: int, code: str
) -> tuple[ScanRecord, ...]:
    """Every record of the badge with that code, newest first."""
    found: list[ScanRecord] = []
    for kind in KINDS:
        table = _table(kind)
        query = _select(kind).where(
            table.conference_id == conference_id,
            Attendee.conference_id == conference_id,
            Attendee.access_code == code,
        )
        found.extend(_records(session.execute(query)))
    return tuple(sorted(found, key=lambda r: (r.at, r.id), reverse=True))
