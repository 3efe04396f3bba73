"""Attention notes reach every result, from either database, as the rule book combines them."""

from __future__ import annotations

import uuid

from station.domain import OrderStatus
from station.rulebook.words import PARTLY_REFUNDED
from tests.services.conftest import World


def notes(world: World) -> None:
    world.conf.ticket_type("vip", "VIP pass", attention="VIP — call the host")
    world.conf.addon("shirt", "T-shirt", attention="collect T-shirt M")
    world.conf.addon("lunch", "Lunch", attention="vegan\x1b[2J meal")
    world.conf.addon("social", "Social event")


def test_the_badge_and_the_check_in_carry_every_note_of_the_order(world: World) -> None:
    notes(world)
    built = world.conf.attendee(
        ticket="vip", addons={"shirt": 1, "lunch": 1}, attention="wheelchair user: aisle seat"
    )
    expected = (
        "wheelchair user: aisle seat · VIP — call the host · collect T-shirt M · vegan[2J meal"
    )
    assert world.checkin.get_badge_data(world.ctx, built.access_code).attention == expected
    result = world.checkin.check_in(world.ctx, built.access_code)
    assert result.badge.attention == expected
    again = world.checkin.check_in(world.ctx, built.access_code, client_id=result.client_id)
    assert again.replayed and again.badge.attention == expected


def test_a_meal_line_and_a_door_show_the_notes_their_product_concerns(world: World) -> None:
    notes(world)
    built = world.conf.attendee(
        ticket="vip",
        addons={"shirt": 1, "lunch": 1, "social": 1},
        status=OrderStatus.PARTIALLY_REFUNDED,
    )
    meal = world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    assert meal.attention == f"VIP — call the host · vegan[2J meal · {PARTLY_REFUNDED}"
    replay = world.redemption.redeem_product(
        world.ctx, built.access_code, product="lunch", client_id=meal.client_id
    )
    assert replay.replayed and replay.attention == meal.attention
    door = world.checkin.record_door_check(world.ctx, built.access_code, product="addon:social")
    assert door.attention == f"VIP — call the host · {PARTLY_REFUNDED}"


def test_no_note_means_no_attention(world: World) -> None:
    notes(world)
    built = world.conf.attendee(addons={"social": 1})
    assert world.checkin.check_in(world.ctx, built.access_code).badge.attention is None
    door = world.checkin.record_door_check(
        world.ctx, built.access_code, product="addon:social", client_id=uuid.uuid4()
    )
    assert door.attention is None
