"""Event rules on SQLite and PostgreSQL, with a clock set to the conference's days.

The conference is in Europe/Berlin; its days run midnight to midnight there. The
station's clock is a fixed time the test moves; on PostgreSQL the recording clock
(station_now(), migration 0014) moves with it through ``station.clock_offset``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from station.models import AddOn, DoorCheck, ProductRedemption, TicketType
from station.services.errors import Reason, RuleRefusal
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.rules.clock import StationClock, services_at

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def clock(database: TestDatabase) -> Iterator[StationClock]:
    with StationClock(database) as made:
        yield made


def set_rules(database: TestDatabase, model: type, slug: str, **columns: object) -> None:
    with database.sessions.begin() as s:
        s.execute(update(model).where(model.slug == slug).values(**columns))


def test_a_daily_limit_allows_one_lunch_a_day(database: TestDatabase, clock: StationClock) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.addon("voucher", "Meal voucher")
    set_rules(database, AddOn, "voucher", daily_limit=1)
    person = conf.attendee(addons={"voucher": 3})
    ctx = StationContext(conf.slug, "Lunch 1", None)

    clock.set(at("2027-05-13T12:00"))
    first = services_at(database, clock)[1].redeem_product(
        ctx, person.access_code, product="voucher"
    )
    assert (first.redeemed, first.quantity) == (1, 3)

    clock.set(at("2027-05-13T23:59"))
    with pytest.raises(RuleRefusal) as refused:
        services_at(database, clock)[1].redeem_product(ctx, person.access_code, product="voucher")
    assert refused.value.reason is Reason.DAILY_LIMIT
    assert refused.value.message == "Meal voucher: 1 of 1 today — next from tomorrow 00:00."

    clock.set(at("2027-05-14T00:01"))
    second = services_at(database, clock)[1].redeem_product(
        ctx, person.access_code, product="voucher"
    )
    assert second.redeemed == 2
    with database.sessions() as s:
        assert s.query(ProductRedemption).count() == 2


def test_opening_hours_say_when_the_line_opens(database: TestDatabase, clock: StationClock) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.addon("lunch", "Lunch")
    set_rules(database, AddOn, "lunch", open_hours="11:30-14:30")
    person = conf.attendee(addons={"lunch": 2})
    ctx = StationContext(conf.slug, "Lunch 1", None)

    clock.set(at("2027-05-13T11:00"))
    with pytest.raises(RuleRefusal) as refused:
        services_at(database, clock)[1].redeem_product(ctx, person.access_code, product="lunch")
    assert refused.value.reason is Reason.CLOSED
    assert refused.value.message == "Lunch is closed — opens 11:30."
    clock.set(at("2027-05-13T15:00"))
    with pytest.raises(RuleRefusal) as refused:
        services_at(database, clock)[1].redeem_product(ctx, person.access_code, product="lunch")
    assert refused.value.message == "Lunch is closed — opens tomorrow 11:30."
    clock.set(at("2027-05-13T11:30"))
    assert (
        services_at(database, clock)[1]
        .redeem_product(ctx, person.access_code, product="lunch")
        .redeemed
        == 1
    )


def test_a_day_ticket_checks_in_on_its_day_only(
    database: TestDatabase, clock: StationClock
) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.ticket_type("thursday", "Thursday pass")
    set_rules(database, TicketType, "thursday", valid_dates="2027-05-13")
    person = conf.attendee(ticket="thursday")
    ctx = StationContext(conf.slug, "Desk 1", None)

    clock.set(at("2027-05-12T09:00"))
    with pytest.raises(RuleRefusal) as refused:
        services_at(database, clock)[0].check_in(ctx, person.access_code)
    assert refused.value.reason is Reason.NOT_VALID_TODAY
    assert refused.value.message == (
        "Thursday pass is not valid today (valid Thu 13 May) — next tomorrow 00:00."
    )
    clock.set(at("2027-05-13T09:00"))
    assert services_at(database, clock)[0].check_in(ctx, person.access_code).checked_in_at


def test_a_room_with_capacity_two(database: TestDatabase, clock: StationClock) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.addon("tutorial", "Tutorial A")
    set_rules(database, AddOn, "tutorial", capacity=2)
    people = [conf.attendee(addons={"tutorial": 1}) for _ in range(3)]
    ctx = StationContext(conf.slug, "Room A door", None)
    clock.set(at("2027-05-13T10:00"))
    door = services_at(database, clock)[0]

    first = door.record_door_check(ctx, people[0].access_code, product="addon:tutorial")
    second = door.record_door_check(ctx, people[1].access_code, product="addon:tutorial")
    assert (first.inside, second.inside, second.capacity) == (1, 2, 2)
    with pytest.raises(RuleRefusal) as refused:
        door.record_door_check(ctx, people[2].access_code, product="addon:tutorial")
    assert refused.value.reason is Reason.FULL
    assert refused.value.message == "Room full (2/2) — Tutorial A: admit after someone leaves."
    out = door.record_door_check(ctx, people[0].access_code, product="addon:tutorial",
                                 direction="out")  # fmt: skip
    assert (out.direction, out.inside) == ("out", 1)
    third = door.record_door_check(ctx, people[2].access_code, product="addon:tutorial")
    assert third.inside == 2
    with database.sessions() as s:
        assert s.query(DoorCheck).filter_by(direction="out").count() == 1


@pytest.mark.parametrize(
    ("policy", "again", "after_exit"),
    [
        ("unlimited", None, None),
        ("once", Reason.ALREADY_ENTERED, Reason.ALREADY_ENTERED),
        ("daily", Reason.DAILY_LIMIT, Reason.DAILY_LIMIT),
        ("after_exit", Reason.NEEDS_EXIT, None),
    ],
)
def test_reentry_policies(
    database: TestDatabase,
    clock: StationClock,
    policy: str,
    again: Reason | None,
    after_exit: Reason | None,
) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.addon("workshop", "Workshop")
    set_rules(database, AddOn, "workshop", reentry=policy)
    person = conf.attendee(addons={"workshop": 1})
    ctx = StationContext(conf.slug, "Workshop door", None)
    clock.set(at("2027-05-13T10:00"))
    door = services_at(database, clock)[0]

    def enter() -> Reason | None:
        try:
            door.record_door_check(ctx, person.access_code, product="addon:workshop")
        except RuleRefusal as refusal:
            return refusal.reason
        return None

    assert enter() is None
    assert enter() is again
    door.record_door_check(ctx, person.access_code, product="addon:workshop", direction="out")
    assert enter() is after_exit
    clock.set(at("2027-05-14T10:00"))
    door = services_at(database, clock)[0]
    if policy == "daily":
        assert enter() is None
