"""A door's room: who is inside, read the same way by every store, the counters and the report.

Someone is inside a door's room when their last standing (not voided) scan at that
door since it was last cleared ("everyone out") is an entry. Two entries in a row
count once; an exit of someone not inside counts for nothing.

That count is kept in the database (room_count, migration 0015: triggers on door_check,
scan_void and door_clear change it as each record lands), so a door's facts and the
guarded function station_admit() read one row. ``inside_query`` counts the same from the
records: the definition, which the tests hold the kept count to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, literal, select
from sqlalchemy.orm import Session

from station.models import DoorCheck, DoorClear, RoomCount
from station.rulebook.event_rules import Direction
from station.rulebook.facts import DoorState, ProductKind
from station.services import void_queries


def _column(model: type[DoorCheck] | type[DoorClear], kind: ProductKind) -> Any:
    return model.ticket_type_id if kind == "ticket" else model.addon_id


def cleared_at(session: Session, kind: ProductKind, product_id: int) -> datetime | None:
    return session.scalar(
        select(func.max(DoorClear.cleared_at)).where(_column(DoorClear, kind) == product_id)
    )


def inside_query(kind: ProductKind, product_id: int) -> Select[Any]:
    """How many people are inside the room of that door (one statement, both databases)."""
    column = _column(DoorCheck, kind)
    since = (
        select(func.max(DoorClear.cleared_at))
        .where(_column(DoorClear, kind) == product_id)
        .scalar_subquery()
    )
    ranked = (
        select(
            DoorCheck.direction,
            func.row_number()
            .over(
                partition_by=DoorCheck.attendee_id,
                order_by=(DoorCheck.checked_at.desc(), DoorCheck.id.desc()),
            )
            .label("rank"),
        )
        .where(
            column == product_id,
            func.coalesce(DoorCheck.checked_at > since, literal(True)),
            void_queries.not_voided("door", DoorCheck.id),
        )
        .subquery()
    )
    return (
        select(func.count())
        .select_from(ranked)
        .where(and_(ranked.c.rank == 1, ranked.c.direction == "in"))
    )


def counted_query(kind: ProductKind, product_id: int) -> Select[Any]:
    """How many people are inside, as the database keeps it (room_count): one row."""
    column = RoomCount.ticket_type_id if kind == "ticket" else RoomCount.addon_id
    return select(func.coalesce(func.max(RoomCount.inside), 0)).where(column == product_id)


def inside(session: Session, kind: ProductKind, product_id: int) -> int:
    return int(session.scalar(counted_query(kind, product_id)) or 0)


def door_state(
    session: Session,
    attendee_id: int,
    kind: ProductKind,
    product_id: int,
    *,
    with_inside: bool,
) -> DoorState:
    """The holder's standing scans at the door, when it was cleared, and (if asked) the room."""
    rows = session.execute(
        select(DoorCheck.checked_at, DoorCheck.direction)
        .where(
            DoorCheck.attendee_id == attendee_id,
            _column(DoorCheck, kind) == product_id,
            void_queries.not_voided("door", DoorCheck.id),
        )
        .order_by(DoorCheck.checked_at, DoorCheck.id)
    ).all()
    events: tuple[tuple[datetime, Direction], ...] = tuple(
        (row.checked_at, "out" if row.direction == "out" else "in") for row in rows
    )
    return DoorState(
        events=events,
        cleared_at=cleared_at(session, kind, product_id),
        inside=inside(session, kind, product_id) if with_inside else None,
    )
