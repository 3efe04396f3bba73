"""The demo conference: every case a volunteer meets, deterministic codes, safe to re-run."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import DBAPIError

from station.demo import (
    CODE_ALPHABET,
    DEMO_SLUG,
    MIN_ATTENDEES,
    DemoSummary,
    demo_summary,
    format_summary,
    reset_demo,
    seed_demo,
)
from station.domain import Mode, OrderStatus
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Conference,
    DoorCheck,
    DoorClear,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    ScanLog,
    ScanVoid,
    Staff,
    TicketType,
)
from station.pins import verify_pin
from station.services import CheckInService, RedemptionService
from station.services.doors import DoorService
from station.services.errors import FullyRedeemed, NotEligible
from station.services.results import StationContext
from station.services.voids import VoidService
from tests.builders import ConferenceBuilder
from tests.rules.clock import StationClock, services_at

LUNCH_TIME = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # 12:00 in Europe/Berlin
TUTORIAL = "addon:tutorial-sqlalchemy"

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

ATTENDEES = 300


def count(db: TestDatabase, model: type, *where: object) -> int:
    with db.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def demo_conference_id(db: TestDatabase) -> int:
    with db.sessions() as s:
        found = s.scalar(select(Conference.id).where(Conference.slug == DEMO_SLUG))
    assert found is not None
    return found


def codes(summary: DemoSummary) -> dict[str, str]:
    return {sample.case: sample.code for sample in summary.samples}


def test_seeds_the_conference_catalogue_and_attendees(database: TestDatabase) -> None:
    summary = seed_demo(database.engine, attendees=ATTENDEES)
    assert summary.attendees == ATTENDEES
    with database.sessions() as s:
        conference = s.scalars(select(Conference).where(Conference.slug == DEMO_SLUG)).one()
        assert (conference.name, conference.timezone) == ("DemoCon 2026", "Europe/Berlin")
        tickets = dict(s.execute(select(TicketType.slug, TicketType.name)).all())
        addons = dict(s.execute(select(AddOn.slug, AddOn.name)).all())
    assert tickets == {"general": "Conference pass", "student": "Student", "speaker": "Speaker"}
    assert addons == {
        "lunch-day-1": "Lunch Day 1",
        "lunch-day-2": "Lunch Day 2",
        "meal-voucher": "Meal voucher",
        "tutorial-sqlalchemy": "Tutorial: SQLAlchemy in depth",
        "social": "Social event",
    }
    assert count(database, Attendee) == ATTENDEES
    assert count(database, Person) == ATTENDEES


def test_every_order_status_and_attendees_without_an_order(database: TestDatabase) -> None:
    seed_demo(database.engine, attendees=ATTENDEES)
    with database.sessions() as s:
        statuses = set(s.scalars(select(Order.status).distinct()))
        paid = s.scalar(select(func.count()).where(Order.status == OrderStatus.PAID))
    assert statuses == set(OrderStatus)
    assert paid is not None and paid > ATTENDEES // 2  # mostly paid
    assert count(database, Attendee, Attendee.order_id.is_(None)) >= 1


def test_meals_bought_once_and_three_times_and_the_tutorial(database: TestDatabase) -> None:
    seed_demo(database.engine, attendees=ATTENDEES)
    with database.sessions() as s:
        bought = set(
            s.execute(
                select(AddOn.slug, OrderLineItem.quantity)
                .join(OrderLineItem, OrderLineItem.addon_id == AddOn.id)
                .distinct()
            )
        )
    assert ("lunch-day-1", 1) in bought
    assert ("meal-voucher", 3) in bought
    assert ("tutorial-sqlalchemy", 1) in bought
    assert count(database, ProductRedemption) >= 1
    assert count(database, CheckIn) == count(
        database, Attendee, Attendee.checked_in_at.is_not(None)
    )


def test_access_codes_are_unambiguous_unique_and_deterministic(database: TestDatabase) -> None:
    first = seed_demo(database.engine, attendees=ATTENDEES, seed=7)
    with database.sessions() as s:
        all_codes = list(s.scalars(select(Attendee.access_code)))
    assert len(set(all_codes)) == ATTENDEES
    assert all(re.fullmatch(f"[{CODE_ALPHABET}]{{8}}", code) for code in all_codes)
    assert not set("01OI") & set("".join(all_codes))
    again = seed_demo(database.engine, attendees=ATTENDEES, seed=7, reset=True)
    assert codes(again) == codes(first)
    other = seed_demo(database.engine, attendees=ATTENDEES, seed=8, reset=True)
    assert codes(other) != codes(first)


def test_names_from_many_scripts(database: TestDatabase) -> None:
    seed_demo(database.engine, attendees=ATTENDEES)
    with database.sessions() as s:
        names = [
            f"{first} {last}"
            for first, last in s.execute(select(Person.first_name, Person.last_name))
        ]
    scripts = {unicodedata.name(ch).split()[0] for name in names for ch in name if ch.isalpha()}
    assert {"LATIN", "CJK", "GREEK"} <= scripts
    joined = "\n".join(names)
    for expected in ("Zoë", "Øyvind", "José", "Đorđe", "山田", "Αλέξανδρος", "Ngozi", "Siobhán"):
        assert expected in joined
    assert "Nguyễn" in joined
    assert len(set(names)) > ATTENDEES // 2  # varied, not a handful repeated


def test_hostile_name_is_stored_as_is_and_printed_safely(database: TestDatabase) -> None:
    summary = seed_demo(database.engine, attendees=ATTENDEES)
    markup = next(sample for sample in summary.samples if sample.case == "markup")
    assert "[bold]Bob[/]" in markup.name and "\x1b]0;pwned\x07" in markup.name
    text = format_summary(summary)
    assert markup.code in text and "[bold]Bob[/]" in text
    assert "\x1b" not in text and "\x07" not in text


def test_staff_and_supervisor_pin(database: TestDatabase) -> None:
    summary = seed_demo(database.engine, attendees=ATTENDEES)
    with database.sessions() as s:
        staff = dict(s.execute(select(Staff.name, Staff.pin_hash)).all())
    assert staff["Ana"] is None and staff["Ben"] is None and staff["Chidi"] is None
    assert verify_pin("2468", staff["Supervisor"] or "")
    assert not verify_pin("1234", staff["Supervisor"] or "")
    assert summary.staff == ("Ana", "Ben", "Chidi")


def test_seeding_again_reuses_the_data(database: TestDatabase) -> None:
    first = seed_demo(database.engine, attendees=ATTENDEES)
    second = seed_demo(database.engine, attendees=ATTENDEES + 50)
    assert second == first
    assert count(database, Attendee) == ATTENDEES
    assert count(database, Conference) == 1
    assert count(database, Staff) == 4


def test_reset_replaces_demo_data_and_leaves_other_conferences_alone(
    database: TestDatabase,
) -> None:
    other = ConferenceBuilder(database.sessions, slug="pycon-real")
    kept = other.attendee("REAL0001", addons={"lunch": 1})
    first = seed_demo(database.engine, attendees=ATTENDEES)
    conference_id = demo_conference_id(database)
    with database.engine.begin() as conn:
        conn.execute(
            insert(ScanLog),
            [
                {
                    "conference_id": conference_id,
                    "action": "check_in",
                    "outcome": "ok",
                    "reason": "ok",
                }
            ],
        )
    again = seed_demo(database.engine, attendees=MIN_ATTENDEES + 9, reset=True)
    assert codes(again) == codes(first)
    assert again.attendees == MIN_ATTENDEES + 9
    assert count(database, ScanLog) == 0
    assert count(database, Attendee, Attendee.access_code == kept.access_code) == 1
    assert count(database, Person) == MIN_ATTENDEES + 9 + 1

    reset_demo(database.engine)
    assert demo_summary(database.engine) is None
    assert count(database, Attendee) == 1
    assert count(database, Staff) == 4  # staff are shared, never deleted


def test_too_few_attendees_is_refused(database: TestDatabase) -> None:
    with pytest.raises(ValueError, match="at least"):
        seed_demo(database.engine, attendees=MIN_ATTENDEES - 1)
    assert demo_summary(database.engine) is None


def test_the_default_size_seeds(sqlite_database: TestDatabase) -> None:
    assert seed_demo(sqlite_database.engine).attendees == 2000


def test_sample_codes_behave_as_labelled_at_the_station(database: TestDatabase) -> None:
    sample = codes(seed_demo(database.engine, attendees=ATTENDEES))
    ctx = StationContext(conference=DEMO_SLUG, station="Test desk", staff_id=None)
    desk = CheckInService(database.sessions)
    meals = RedemptionService(database.sessions)

    assert not desk.check_in(ctx, sample["paid-lunch"]).reentry
    assert desk.check_in(ctx, sample["checked-in"]).reentry
    for case in ("pending", "cancelled", "refunded", "no-order"):
        with pytest.raises(NotEligible):
            desk.check_in(ctx, sample[case])
    assert not desk.check_in(ctx, sample["partially-refunded"]).reentry
    assert not desk.check_in(ctx, sample["markup"]).reentry

    # The voucher is one lunch a day, 11:30-14:30 in the conference's zone: lunch time.
    with StationClock(database) as clock:
        clock.set(LUNCH_TIME)
        lunch = services_at(database, clock)[1]
        voucher = lunch.redeem_product(ctx, sample["meal-voucher"], product="meal-voucher")
    assert voucher.remaining == 2
    with pytest.raises(FullyRedeemed):
        meals.redeem_product(ctx, sample["lunch-used"], product="lunch-day-1")
    desk.station_info(ctx, Mode.DOOR, "addon:tutorial-sqlalchemy")
    desk.record_door_check(ctx, sample["tutorial"], product="addon:tutorial-sqlalchemy")


def test_the_voucher_and_the_tutorial_door_have_their_rules(database: TestDatabase) -> None:
    seed_demo(database.engine, attendees=ATTENDEES)
    columns = (AddOn.slug, AddOn.daily_limit, AddOn.open_hours, AddOn.reentry, AddOn.capacity)
    with database.sessions() as s:
        rules = {row[0]: tuple(row[1:]) for row in s.execute(select(*columns))}
        holders = s.scalar(
            select(func.count(OrderLineItem.id))
            .join(AddOn, AddOn.id == OrderLineItem.addon_id)
            .where(AddOn.slug == "tutorial-sqlalchemy")
        )
    assert rules["meal-voucher"] == (1, "11:30-14:30", "unlimited", None)
    assert rules["tutorial-sqlalchemy"] == (None, None, "after_exit", 2)
    assert rules["lunch-day-1"] == (None, None, "unlimited", None)
    assert holders == 3


def test_reset_after_voids_and_a_door_clear_starts_clean(database: TestDatabase) -> None:
    summary = seed_demo(database.engine, attendees=ATTENDEES)
    sample = codes(summary)
    ctx = StationContext(conference=DEMO_SLUG, station="Tutorial door", staff_id=None)
    door = CheckInService(database.sessions)
    door.record_door_check(ctx, sample["tutorial"], product=TUTORIAL)
    VoidService(database.sessions).void_last(ctx, client_id=uuid.uuid4())
    door.record_door_check(ctx, sample["paid-lunch"], product=TUTORIAL)
    DoorService(database.sessions).clear_door(
        ctx,
        product=TUTORIAL,
        supervisor=summary.supervisor,
        pin=summary.supervisor_pin,
        client_id=uuid.uuid4(),
    )

    assert codes(seed_demo(database.engine, attendees=ATTENDEES, reset=True)) == sample
    with database.sessions() as s:
        for model in (ScanVoid, DoorClear, DoorCheck):
            assert s.scalar(select(func.count()).select_from(model)) == 0
    DoorService(database.sessions).clear_door(
        ctx,
        product=TUTORIAL,
        supervisor=summary.supervisor,
        pin=summary.supervisor_pin,
        client_id=uuid.uuid4(),
    )
    if database.kind == "sqlite":  # the guards are back (PostgreSQL's are its roles)
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
            conn.execute(delete(DoorClear))
