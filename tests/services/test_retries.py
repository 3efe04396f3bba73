"""A retried write (same client id) returns the original result and records nothing new."""

from __future__ import annotations

import uuid

from station.models import CheckIn, DoorCheck, ProductRedemption, ScanLog
from station.services.errors import Reason
from tests.services.conftest import World


def test_retried_check_in(world: World) -> None:
    built = world.conf.attendee()
    client_id = uuid.uuid4()
    original = world.checkin.check_in(world.ctx, built.access_code, client_id=client_id)
    retry = world.checkin.check_in(world.ctx, built.access_code, client_id=client_id)
    assert retry.replayed and not original.replayed
    assert (retry.client_id, retry.reason, retry.checked_in_at) == (
        original.client_id, Reason.OK, original.checked_in_at,
    )  # fmt: skip
    assert world.count(CheckIn) == 1
    assert world.count(ScanLog) == 1
    # A real second scan (new id) is a re-entry, and its retry stays a re-entry.
    again_id = uuid.uuid4()
    world.checkin.check_in(world.ctx, built.access_code, client_id=again_id)
    assert world.checkin.check_in(world.ctx, built.access_code, client_id=again_id).reentry
    assert world.count(CheckIn) == 2


def test_retried_redemption_of_the_last_unit_is_not_refused(world: World) -> None:
    built = world.conf.attendee(addons={"lunch": 1})
    client_id = uuid.uuid4()
    original = world.redemption.redeem_product(
        world.ctx, built.access_code, product="lunch", client_id=client_id
    )
    retry = world.redemption.redeem_product(
        world.ctx, built.access_code, product="lunch", client_id=client_id
    )
    assert retry.replayed
    assert (retry.redeemed, retry.quantity, retry.redeemed_at) == (1, 1, original.redeemed_at)
    assert world.count(ProductRedemption) == 1


def test_retried_door_check(world: World) -> None:
    built = world.conf.attendee()
    client_id = uuid.uuid4()
    world.checkin.record_door_check(world.ctx, built.access_code, product="ticket:general",
                                    client_id=client_id)  # fmt: skip
    retry = world.checkin.record_door_check(world.ctx, built.access_code, product="ticket:general",
                                            client_id=client_id)  # fmt: skip
    assert retry.replayed
    assert world.count(DoorCheck) == 1
