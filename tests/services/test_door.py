"""Door checks admit only attendees whose active order includes the product."""

from __future__ import annotations

import pytest

from station.domain import OrderStatus
from station.models import DoorCheck, ScanLog
from station.services.errors import ConfigurationError, NotEligible, NotPurchased, Reason
from tests.builders import ConferenceBuilder
from tests.services.conftest import World


def test_admits_a_ticket_holder_and_records_it(world: World) -> None:
    world.conf.ticket_type("general", "Conference pass")
    built = world.conf.attendee(ticket="general")
    result = world.checkin.record_door_check(world.ctx, built.access_code, product="ticket:general")
    assert result.product == "Conference pass"
    assert result.attendee_name == "Ada Lovelace"
    assert world.count(DoorCheck, attendee_id=built.attendee_id) == 1
    assert world.count(ScanLog, action="door", outcome="accepted") == 1


def test_admits_an_addon_holder(world: World) -> None:
    world.conf.addon("tutorial", "Tutorial: SQLAlchemy")
    built = world.conf.attendee(addons={"tutorial": 1})
    result = world.checkin.record_door_check(world.ctx, built.access_code, product="addon:tutorial")
    assert result.product == "Tutorial: SQLAlchemy"
    with world.sessions() as s:
        row = s.query(DoorCheck).one()
    assert row.addon_id is not None and row.ticket_type_id is None


def test_refuses_who_did_not_buy_it(world: World) -> None:
    world.conf.addon("tutorial", "Tutorial")
    built = world.conf.attendee(addons={})
    with pytest.raises(NotPurchased) as refused:
        world.checkin.record_door_check(world.ctx, built.access_code, product="addon:tutorial")
    assert refused.value.reason is Reason.NOT_PURCHASED
    assert world.count(DoorCheck) == 0
    assert world.count(ScanLog, reason="not_purchased", outcome="refused") == 1


@pytest.mark.parametrize(
    "status", [OrderStatus.CANCELLED, OrderStatus.REFUNDED, OrderStatus.PENDING]
)
def test_refuses_inactive_orders_even_with_the_product(world: World, status: OrderStatus) -> None:
    built = world.conf.attendee(status=status, addons={"tutorial": 1})
    with pytest.raises(NotEligible):
        world.checkin.record_door_check(world.ctx, built.access_code, product="addon:tutorial")
    assert world.count(DoorCheck) == 0


def test_product_must_be_exactly_one_kind(world: World) -> None:
    built = world.conf.attendee()
    for bad in ("general", "ticket:", "both:general", ""):
        with pytest.raises(ConfigurationError):
            world.checkin.record_door_check(world.ctx, built.access_code, product=bad)


def test_product_of_another_conference_is_refused(world: World) -> None:
    other = ConferenceBuilder(world.sessions, slug="other-con")
    other.addon("secret-party")
    built = world.conf.attendee()
    with pytest.raises(ConfigurationError, match="does not exist in conference"):
        world.checkin.record_door_check(world.ctx, built.access_code, product="addon:secret-party")
    assert world.count(DoorCheck) == 0
