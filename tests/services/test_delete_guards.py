"""What a scan recorded keeps what it refers to: no delete or renumbering orphans a record.

The scan records carry no foreign keys (every scan would pay to check them);
triggers on the referred-to tables refuse instead (migration 0005). Run on
SQLite and PostgreSQL, as an administrator with SQL would.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

from station.models import (
    Attendee,
    CheckIn,
    DoorCheck,
    OrderLineItem,
    ProductRedemption,
    ScanLog,
    TicketType,
)
from station.services.errors import StationError
from tests.services.conftest import World


def attendees(world: World) -> int:
    return world.count(Attendee)


def refused(world: World, statement: Executable) -> str:
    """Run one statement in its own transaction; it must fail, and roll back."""
    with pytest.raises(DBAPIError) as error, world.sessions.begin() as session:
        session.execute(statement)
    return str(error.value.orig)


def test_an_attendee_with_a_check_in_is_not_deleted(world: World) -> None:
    built = world.conf.attendee()
    world.checkin.check_in(world.ctx, built.access_code)
    # Even with the scan log purged, the check-in alone keeps the attendee.
    with world.sessions.begin() as session:
        session.execute(delete(ScanLog))
    message = refused(world, delete(Attendee).where(Attendee.id == built.attendee_id))
    assert "check_in" in message
    assert world.count(Attendee, id=built.attendee_id) == 1
    assert world.count(CheckIn, attendee_id=built.attendee_id) == 1


def test_an_attendee_in_the_scan_log_only_is_not_deleted(world: World) -> None:
    built = world.conf.attendee(status=None)  # no order: refused, but logged
    with pytest.raises(StationError):
        world.checkin.check_in(world.ctx, built.access_code)
    assert world.count(ScanLog, attendee_id=built.attendee_id) == 1
    message = refused(world, delete(Attendee).where(Attendee.id == built.attendee_id))
    assert "scan_log" in message
    assert world.count(Attendee, id=built.attendee_id) == 1


def test_a_delete_of_many_is_refused_whole_when_one_has_records(world: World) -> None:
    untouched = [world.conf.attendee() for _ in range(3)]
    scanned = world.conf.attendee()
    world.checkin.check_in(world.ctx, scanned.access_code)
    before = attendees(world)
    refused(world, delete(Attendee).where(Attendee.conference_id.is_not(None)))
    assert attendees(world) == before
    # Without the scanned one, the same delete goes through: the guard refuses only records.
    ids = [b.attendee_id for b in untouched]
    with world.sessions.begin() as session:
        session.execute(delete(Attendee).where(Attendee.id.in_(ids)))
    assert attendees(world) == before - 3


def test_a_redeemed_line_item_is_not_deleted(world: World) -> None:
    world.conf.addon("lunch", "Lunch")
    built = world.conf.attendee(addons={"lunch": 1})
    result = world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    message = refused(world, delete(OrderLineItem).where(OrderLineItem.id == result.line_item_id))
    assert "product_redemption (order_line_item_id)" in message
    assert world.count(ProductRedemption, order_line_item_id=result.line_item_id) == 1


def test_a_product_a_door_admitted_is_not_deleted(world: World) -> None:
    world.conf.ticket_type("general", "Conference pass")
    built = world.conf.attendee(ticket="general")
    world.checkin.record_door_check(world.ctx, built.access_code, product="ticket:general")
    with world.sessions() as session:
        ticket_type_id = session.scalar(select(func.max(DoorCheck.ticket_type_id)))
    # The order's line goes (nothing redeemed it); the admission still keeps the ticket type.
    with world.sessions.begin() as session:
        session.execute(delete(OrderLineItem).where(OrderLineItem.ticket_type_id == ticket_type_id))
    message = refused(world, delete(TicketType).where(TicketType.id == ticket_type_id))
    assert "door_check (ticket_type_id)" in message
    assert world.count(TicketType, id=ticket_type_id) == 1


def test_a_referred_to_attendee_keeps_its_id(world: World) -> None:
    built = world.conf.attendee()
    world.checkin.check_in(world.ctx, built.access_code)
    renumber = update(Attendee).where(Attendee.id == built.attendee_id).values(id=999_999)
    message = refused(world, renumber)
    assert "referred to by" in message
    # Other columns of a referred-to attendee still change (the first check-in time does).
    with world.sessions.begin() as session:
        session.execute(
            update(Attendee).where(Attendee.id == built.attendee_id).values(access_code="NEWCODE1")
        )
    assert world.count(Attendee, id=built.attendee_id, access_code="NEWCODE1") == 1
