"""change_seq (migration 0013): every insert and update of a snapshot table takes a new,
larger number from one counter, whoever writes, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy import Table, select, update

from station.domain import OrderStatus
from station.models import AddOn, Attendee, Order, OrderLineItem, Person, TicketType
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


def test_a_check_in_through_the_services_moves_the_attendee(world: World) -> None:
    """On PostgreSQL the update comes from station_check_in() (the guarded function)."""
    built = world.conf.attendee()
    with world.sessions() as s:
        before = s.scalar(select(Attendee.change_seq).where(Attendee.id == built.attendee_id))
    top = max(_all(_seqs(world)))
    world.checkin.check_in(world.ctx, built.access_code)
    with world.sessions() as s:
        after = s.scalar(select(Attendee.change_seq).where(Attendee.id == built.attendee_id))
    assert before is not None and after is not None
    assert after > top >= before


def test_changes_since_a_number_are_what_changed(world: World) -> None:
    """What a station's incremental sync asks: rows with change_seq above the last it saw."""
    first = world.conf.attendee()
    second = world.conf.attendee()
    seen = max(_all(_seqs(world)))
    world.checkin.check_in(world.ctx, second.access_code)
    table: Table = Attendee.__table__  # type: ignore[assignment]
    with world.sessions() as s:
        changed = list(s.scalars(select(table.c.id).where(table.c.change_seq > seen)))
    assert changed == [second.attendee_id]
    assert first.attendee_id not in changed
