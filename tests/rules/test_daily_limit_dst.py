"""A daily limit on the conference's days across a DST change, on both databases.

Europe/Berlin: on Sun 28 March 2027 the day has 23 hours (02:00 -> 03:00), on Sun 31
October 2027 it has 25 (03:00 -> 02:00, 02:00-03:00 twice). A day is midnight to
midnight on the wall clock there, not 24 hours from midnight and not a UTC day: both
the rule book and PostgreSQL's guard (station_redeem_line, migration 0014) must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select, update

from station.models import AddOn, ProductRedemption
from station.services.errors import Reason, RuleRefusal
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.rules.clock import StationClock, services_at

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def clock(database: TestDatabase) -> Iterator[StationClock]:
    with StationClock(database) as made:
        yield made


def lunch_at(
    database: TestDatabase, clock: StationClock, when: datetime, code: str, slug: str
) -> Reason | None:
    clock.set(when)
    meals = services_at(database, clock)[1]
    try:
        meals.redeem_product(StationContext(slug, "Lunch 1", None), code, product="voucher")
    except RuleRefusal as refusal:
        return refusal.reason
    return None


def a_voucher_a_day(database: TestDatabase) -> tuple[str, str]:
    conf = ConferenceBuilder(database.sessions)  # Europe/Berlin
    voucher = conf.addon("voucher", "Meal voucher")
    with database.sessions.begin() as s:
        s.execute(update(AddOn).where(AddOn.id == voucher).values(daily_limit=1))
    return conf.attendee(addons={"voucher": 5}).access_code, conf.slug


def redeemed(database: TestDatabase) -> int:
    with database.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(ProductRedemption)) or 0)


def test_the_short_spring_day(database: TestDatabase, clock: StationClock) -> None:
    code, slug = a_voucher_a_day(database)
    # 00:30 CET on the 28th, then 23:59 CEST the same day (22 h 29 min later).
    assert lunch_at(database, clock, utc("2027-03-27T23:30"), code, slug) is None
    assert lunch_at(database, clock, utc("2027-03-28T21:59"), code, slug) is Reason.DAILY_LIMIT
    # 00:01 CEST on the 29th: a new day, although not 24 hours after the last midnight.
    assert lunch_at(database, clock, utc("2027-03-28T22:01"), code, slug) is None
    assert redeemed(database) == 2


def test_the_long_autumn_day(database: TestDatabase, clock: StationClock) -> None:
    code, slug = a_voucher_a_day(database)
    # 02:30 CEST on the 31st (the first 02:30), then 02:30 CET (the second): one day.
    assert lunch_at(database, clock, utc("2027-10-31T00:30"), code, slug) is None
    assert lunch_at(database, clock, utc("2027-10-31T01:30"), code, slug) is Reason.DAILY_LIMIT
    # 23:30 CET: 24 h 30 min after midnight, still the 31st.
    assert lunch_at(database, clock, utc("2027-10-31T22:30"), code, slug) is Reason.DAILY_LIMIT
    # 00:00 CET on 1 November: the next day.
    assert lunch_at(database, clock, utc("2027-10-31T23:00"), code, slug) is None
    assert redeemed(database) == 2


def test_the_day_before_the_change_ends_at_its_own_midnight(
    database: TestDatabase, clock: StationClock
) -> None:
    code, slug = a_voucher_a_day(database)
    # 23:59 CET on Sat 27 March, then 00:00 CET on the 28th (UTC 23:00): next day.
    assert lunch_at(database, clock, utc("2027-03-27T22:59"), code, slug) is None
    assert lunch_at(database, clock, utc("2027-03-27T23:00"), code, slug) is None
    assert lunch_at(database, clock, utc("2027-03-28T00:59"), code, slug) is Reason.DAILY_LIMIT
    assert redeemed(database) == 2
