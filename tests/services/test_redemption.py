"""Meal lines and vouchers: redeem at most what was bought, refuse the rest clearly."""

from __future__ import annotations

import pytest

from station.domain import OrderStatus
from station.models import ProductRedemption, ScanLog
from station.services.errors import (
    ConfigurationError,
    FullyRedeemed,
    InvalidInput,
    NotEligible,
    NotPurchased,
    Reason,
)
from station.services.results import StationContext
from tests.services.conftest import World


def test_redeemable_products_are_unused_addon_lines_in_order(world: World) -> None:
    world.conf.addon("lunch", "Lunch Day 1")
    world.conf.addon("voucher", "Meal voucher")
    world.conf.addon("tutorial", "Tutorial")
    built = world.conf.attendee(addons={"lunch": 1, "voucher": 3, "tutorial": 1})
    world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    world.redemption.redeem_product(world.ctx, built.access_code, product="voucher")

    products = world.redemption.get_redeemable_products(world.ctx, built.access_code)
    assert [(p.name, p.redeemed, p.remaining) for p in products] == [
        ("Meal voucher", 1, 2),
        ("Tutorial", 0, 1),
    ]
    # Ticket lines are never redeemable products.
    assert all(p.line_item_id != built.line_items["ticket:general"] for p in products)


def test_no_order_means_nothing_to_redeem(world: World) -> None:
    built = world.conf.attendee(status=None)
    assert world.redemption.get_redeemable_products(world.ctx, built.access_code) == ()


def test_redeem_counts_down_and_refuses_at_the_quantity(world: World) -> None:
    world.conf.addon("voucher", "Meal voucher")
    built = world.conf.attendee(addons={"voucher": 3})
    results = [
        world.redemption.redeem_product(world.ctx, built.access_code, product="voucher")
        for _ in range(3)
    ]
    assert [(r.redeemed, r.quantity, r.remaining) for r in results] == [
        (1, 3, 2),
        (2, 3, 1),
        (3, 3, 0),
    ]

    lunch_ctx = StationContext(world.ctx.conference, "Station B", None)
    with pytest.raises(FullyRedeemed) as refused:
        world.redemption.redeem_product(lunch_ctx, built.access_code, product="voucher")
    assert refused.value.reason is Reason.FULLY_REDEEMED
    assert refused.value.message == "Meal voucher is fully redeemed (3/3)."
    assert (refused.value.redeemed, refused.value.quantity) == (3, 3)
    assert refused.value.last_station == "Door A"
    assert refused.value.last_redeemed_at == results[-1].redeemed_at
    assert world.count(ProductRedemption) == 3


def test_redeem_by_line_item_from_the_picker(world: World) -> None:
    built = world.conf.attendee(addons={"tutorial": 1})
    line = built.line_items["tutorial"]
    result = world.redemption.redeem_product(world.ctx, built.access_code, line_item_id=line)
    assert (result.line_item_id, result.redeemed, result.quantity) == (line, 1, 1)
    with pytest.raises(FullyRedeemed) as refused:
        world.redemption.redeem_product(world.ctx, built.access_code, line_item_id=line)
    assert "(1/1)" in refused.value.message


def test_line_item_must_belong_to_the_attendees_order(world: World) -> None:
    mine = world.conf.attendee(addons={"lunch": 1})
    theirs = world.conf.attendee(addons={"lunch": 1})
    with pytest.raises(InvalidInput) as refused:
        world.redemption.redeem_product(
            world.ctx, mine.access_code, line_item_id=theirs.line_items["lunch"]
        )
    assert refused.value.reason is Reason.NOT_PURCHASED
    assert world.count(ProductRedemption) == 0


def test_product_not_bought_is_refused(world: World) -> None:
    world.conf.addon("lunch", "Lunch Day 1")
    built = world.conf.attendee(addons={})
    with pytest.raises(NotPurchased) as refused:
        world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    assert refused.value.message == "Lunch Day 1 was not purchased by this attendee."
    assert world.count(ScanLog, reason="not_purchased") == 1


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (OrderStatus.CANCELLED, Reason.CANCELLED),
        (OrderStatus.REFUNDED, Reason.REFUNDED),
        (OrderStatus.PENDING, Reason.UNPAID),
        (None, Reason.NO_ORDER),
    ],
)
def test_inactive_orders_cannot_redeem(
    world: World, status: OrderStatus | None, reason: Reason
) -> None:
    world.conf.addon("lunch")
    built = world.conf.attendee(status=status, addons={"lunch": 1} if status else None)
    with pytest.raises(NotEligible) as refused:
        world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    assert refused.value.reason is reason
    assert world.count(ProductRedemption) == 0


def test_a_product_over_two_lines_redeems_both_in_turn(world: World) -> None:
    world.conf.addon("lunch", "Lunch")
    built = world.conf.attendee(addons={"lunch": 1})
    # A second line of the same add-on on the same order (bought later, say).
    from station.models import OrderLineItem

    with world.sessions.begin() as s:
        extra = OrderLineItem(
            order_id=built.order_id, description="Lunch again", quantity=1,
            addon_id=world.conf.addon("lunch"),
        )  # fmt: skip
        s.add(extra)
    first = world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    second = world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")
    assert first.line_item_id != second.line_item_id
    assert (second.redeemed, second.quantity) == (2, 2)
    with pytest.raises(FullyRedeemed, match=r"\(2/2\)"):
        world.redemption.redeem_product(world.ctx, built.access_code, product="lunch")


def test_unknown_product_is_a_configuration_error(world: World) -> None:
    built = world.conf.attendee()
    with pytest.raises(ConfigurationError, match="does not exist"):
        world.redemption.redeem_product(world.ctx, built.access_code, product="caviar")


def test_exactly_one_of_line_item_or_product(world: World) -> None:
    built = world.conf.attendee(addons={"lunch": 1})
    with pytest.raises(ConfigurationError):
        world.redemption.redeem_product(world.ctx, built.access_code)
    with pytest.raises(ConfigurationError):
        world.redemption.redeem_product(
            world.ctx, built.access_code, product="lunch", line_item_id=built.line_items["lunch"]
        )
