"""The demo clock: `clock = "2026-06-15 12:00"` runs the whole station at that time.

The rule book's now (the services' clock) and, on PostgreSQL, the recording clock
station_now() move together; a bad value is one line naming where it came from.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from station.bootstrap import build_services, demo_clock_offset
from station.config import load_settings
from station.services.errors import ConfigurationError
from tests.builders import ConferenceBuilder

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

NOON_BERLIN = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # 12:00 in Europe/Berlin (CEST)


def test_a_local_demo_time_is_in_the_conference_zone(database: TestDatabase) -> None:
    conf = ConferenceBuilder(database.sessions)
    settings = replace(
        load_settings(
            None, {"STATION_CONFERENCE": conf.slug, "STATION_CLOCK": "2026-06-15 12:00"}, {}
        ),
        database=database.settings,
    )
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert demo_clock_offset(settings, now=now) == NOON_BERLIN - now


def test_the_station_runs_at_the_demo_time(database: TestDatabase) -> None:
    conf = ConferenceBuilder(database.sessions)
    settings = replace(
        load_settings(
            None, {"STATION_CONFERENCE": conf.slug, "STATION_CLOCK": "2026-06-15 12:00"}, {}
        ),
        database=database.settings,
    )
    services = build_services(settings)
    try:
        assert abs(services.clock() - NOON_BERLIN) < timedelta(seconds=5)
        assert abs(services.checkin._clock() - NOON_BERLIN) < timedelta(seconds=5)
        if database.kind == "postgres":
            offset = services.settings.database.clock_offset_s
            assert offset is not None and offset != 0
            with services.engine.connect() as conn:
                server = conn.scalar(text("SELECT station_now()"))
            assert abs(server - NOON_BERLIN) < timedelta(seconds=5)
    finally:
        services.dispose()


def test_a_demo_clock_for_a_conference_that_is_not_there_is_one_line(
    database: TestDatabase,
) -> None:
    settings = replace(
        load_settings(
            None, {"STATION_CONFERENCE": "nope", "STATION_CLOCK": "2026-06-15 12:00"}, {}
        ),
        database=database.settings,
    )
    with pytest.raises(ConfigurationError) as refused:
        build_services(settings)
    assert refused.value.message == (
        "The demo clock needs the conference's time zone, but there is no conference 'nope'."
    )


def test_a_bad_demo_clock_is_one_line_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(None, {"STATION_CONFERENCE": "c", "STATION_CLOCK": "lunchtime"}, {})
    message = refused.value.message
    assert "\n" not in message
    assert message.startswith("STATION_CLOCK must be a date and time such as")
