"""change_seq (migration 0013): every insert and update of a snapshot table takes a new,
larger number from one counter, whoever writes, on SQLite and PostgreSQL alike; an
attendee's update only when it changes what a snapshot reads of it besides the check-in
(a check-in leaves the number alone: stations learn of it from the check_in records)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table, func, select, update

from station.domain import OrderStatus
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Conference,
    Order,
    OrderLineItem,
    Person,
    TicketType,
)
from tests.services.conftest import World

TRACKED: tuple[type, ...] = (Person, Order, OrderLineItem, Attendee, TicketType, AddOn)


def _seqs(world: World) -> dict[str, list[int]]:
    """Every tracked table's change_seq values, by table."""
    with world.sessions() as s:
        return {
            model.__tablename__: list(s.scalars(select(model.change_seq)))  # type: ignore[attr-defined]
            for model in TRACKED
        }


def _all(seqs: dict[str, list[int]]) -> list[int]:
    return [value for values in seqs.values() for value in values]


def test_every_insert_gets_a_new_number(world: World) -> None:
    world.conf.attendee(addons={"lunch": 2})
    world.conf.attendee(ticket="speaker")
    seqs = _seqs(world)
    for table, values in seqs.items():
        assert values and all(v > 0 for v in values), table
    every = _all(seqs)
    assert len(set(every)) == len(every)  # one counter across the tables


def test_every_update_gets_a_number_above_all_before(world: World) -> None:
    built = world.conf.attendee(addons={"lunch": 2})
    changes = {
        Person: {"first_name": "Grace"},
        Order: {"status": OrderStatus.REFUNDED},
        OrderLineItem: {"quantity": 3},
        Attendee: {"access_code": "NEWCODE1"},
        TicketType: {"name": "General admission"},
        AddOn: {"name": "Lunch (veg)"},
    }
    for model, values in changes.items():
        top = max(_all(_seqs(world)))
        with world.sessions.begin() as s:
            s.execute(update(model).values(**values))
        after = _seqs(world)[model.__tablename__]  # type: ignore[attr-defined]
        assert min(after) > top, model
    assert built.attendee_id


def test_a_writer_cannot_choose_the_number(world: World) -> None:
    world.conf.attendee()
    top = max(_all(_seqs(world)))
    with world.sessions.begin() as s:
        s.execute(update(Attendee).values(change_seq=1))
        s.execute(update(Person).values(change_seq=10**12, first_name="Grace"))
    seqs = _seqs(world)
    assert min(seqs["attendee"]) > top
    assert 0 < max(seqs["person"]) < 10**12


def _attendee_seq(world: World, attendee_id: int) -> int:
    with world.sessions() as s:
        value = s.scalar(select(Attendee.change_seq).where(Attendee.id == attendee_id))
    assert value is not None
    return int(value)


def test_a_check_in_through_the_services_leaves_the_numbers(world: World) -> None:
    """On PostgreSQL the update comes from station_check_in() (the guarded function): it
    sets checked_in_at and updated_at only, so it stays a HOT update and numbers nothing."""
    built = world.conf.attendee(addons={"lunch": 1})
    before = _seqs(world)
    world.checkin.check_in(world.ctx, built.access_code)
    world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    assert world.count(CheckIn, attendee_id=built.attendee_id) == 1
    assert _seqs(world) == before


@pytest.mark.parametrize(
    "column", ["checked_in_at", "updated_at", "search_key"], ids=lambda c: str(c)
)
def test_an_attendee_update_a_snapshot_does_not_read_leaves_the_number(
    world: World, column: str
) -> None:
    built = world.conf.attendee()
    before = _attendee_seq(world, built.attendee_id)
    value: Any = "x|y" if column == "search_key" else datetime(2026, 5, 14, 9, tzinfo=UTC)
    with world.sessions.begin() as s:
        s.execute(
            update(Attendee.__table__)  # type: ignore[arg-type]
            .where(Attendee.__table__.c.id == built.attendee_id)  # type: ignore[attr-defined]
            .values({column: value})
        )
    assert _attendee_seq(world, built.attendee_id) == before


@pytest.mark.parametrize("column", ["access_code", "order_id", "person_id", "conference_id"])
def test_an_attendee_update_a_snapshot_reads_moves_the_number(world: World, column: str) -> None:
    built = world.conf.attendee()
    value: Any = {"access_code": "NEWCODE1", "order_id": None}.get(column)
    with world.sessions.begin() as s:
        if column == "person_id":
            other = Person(username="grace", first_name="Grace", last_name="H", email="")
            s.add(other)
            s.flush()
            value = other.id
        if column == "conference_id":
            elsewhere = Conference(slug="elsewhere", name="Elsewhere", timezone="UTC")
            s.add(elsewhere)
            s.flush()
            value = elsewhere.id
    top = max(_all(_seqs(world)))
    with world.sessions.begin() as s:
        s.execute(update(Attendee).where(Attendee.id == built.attendee_id).values({column: value}))
    assert _attendee_seq(world, built.attendee_id) > top


def test_changes_since_a_number_are_what_changed(world: World) -> None:
    """What a station's incremental sync asks: rows with change_seq above the last it saw
    (a refund, a new badge), and records with ids above the last it saw (a check-in)."""
    first = world.conf.attendee()
    second = world.conf.attendee()
    refunded = world.conf.attendee()
    seen = max(_all(_seqs(world)))
    with world.sessions() as s:
        seen_check_in = int(s.scalar(select(func.coalesce(func.max(CheckIn.id), 0))) or 0)
    world.checkin.check_in(world.ctx, second.access_code)
    with world.sessions.begin() as s:
        s.execute(
            update(Order).where(Order.id == refunded.order_id).values(status=OrderStatus.REFUNDED)
        )
    new = world.conf.attendee()
    table: Table = Attendee.__table__  # type: ignore[assignment]
    orders: Table = Order.__table__  # type: ignore[assignment]
    with world.sessions() as s:
        changed = list(s.scalars(select(table.c.id).where(table.c.change_seq > seen)))
        changed_orders = list(s.scalars(select(orders.c.id).where(orders.c.change_seq > seen)))
        checked_in = list(s.scalars(select(CheckIn.attendee_id).where(CheckIn.id > seen_check_in)))
    assert changed == [new.attendee_id]
    assert set(changed_orders) == {refunded.order_id, new.order_id}
    assert checked_in == [second.attendee_id]
    assert first.attendee_id not in changed
