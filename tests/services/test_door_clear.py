"""A supervisor's "everyone out": a record, not a delete; the room counts from zero again.

Runs on SQLite (the ORM insert) and on PostgreSQL (station_door_clear(), migration 0014,
which checks the PIN's hash again and counts the room under the product's lock).
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update

from station.models import AddOn, DoorCheck, DoorClear
from station.services.doors import DoorService
from station.services.errors import InvalidInput
from tests.services.conftest import World

DOOR = "addon:tutorial"


@pytest.fixture
def door(world: World) -> DoorService:
    world.conf.addon("tutorial", "Tutorial")
    with world.sessions.begin() as s:
        s.execute(update(AddOn).where(AddOn.slug == "tutorial").values(capacity=2))
    world.conf.staff("Sam", pin="2468", supervisor=True)
    world.conf.staff("Vic", pin="1357")
    return DoorService(world.sessions)


def _enter(world: World, code: str, direction: str = "in") -> None:
    world.checkin.record_door_check(
        world.ctx, code, product=DOOR, direction="out" if direction == "out" else "in"
    )


def test_everyone_out_counts_the_room_out_and_keeps_every_scan(
    world: World, door: DoorService
) -> None:
    people = [world.conf.attendee(addons={"tutorial": 1}) for _ in range(3)]
    _enter(world, people[0].access_code)
    _enter(world, people[1].access_code)
    assert door.room(world.ctx, DOOR).inside == 2
    assert door.room(world.ctx, DOOR).capacity == 2

    cleared = door.clear_door(
        world.ctx, product=DOOR, supervisor="Sam", pin="2468", client_id=uuid.uuid4()
    )
    assert (cleared.product, cleared.counted_out, cleared.by) == ("Tutorial", 2, "Sam")
    assert door.room(world.ctx, DOOR).inside == 0
    assert world.count(DoorCheck) == 2  # nothing deleted
    assert world.count(DoorClear, inside=2, station="Door A") == 1

    _enter(world, people[2].access_code)
    assert door.room(world.ctx, DOOR).inside == 1


NOT_A_SUPERVISOR = "Only a supervisor can clear a door: wrong name or not a supervisor."


@pytest.mark.parametrize(
    ("name", "pin", "messages"),
    [
        ("Sam", "0000", ("Wrong PIN — try again.",)),
        ("Vic", "1357", (NOT_A_SUPERVISOR,)),
        # PostgreSQL names the unknown operator; SQLite finds no supervisor of that name.
        ("Nobody", "2468", ("No operator called 'Nobody'.", NOT_A_SUPERVISOR)),
    ],
)
def test_only_a_supervisor_with_their_pin_clears_a_door(
    world: World, door: DoorService, name: str, pin: str, messages: tuple[str, ...]
) -> None:
    person = world.conf.attendee(addons={"tutorial": 1})
    _enter(world, person.access_code)
    with pytest.raises(InvalidInput) as refused:
        door.clear_door(world.ctx, product=DOOR, supervisor=name, pin=pin, client_id=uuid.uuid4())
    assert refused.value.message in messages
    assert world.count(DoorClear) == 0
    assert door.room(world.ctx, DOOR).inside == 1
