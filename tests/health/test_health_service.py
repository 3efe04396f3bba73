"""HealthService.beat on both databases: one row per station, overwritten by each beat."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from station.health import WindowSummary
from station.models import utcnow
from station.services.errors import ConfigurationError, DatabaseUnavailable, StationError
from station.services.health import HealthService
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase
from tests.health.helpers import STARTED, health_rows, heartbeat


@pytest.fixture
def conf(database: TestDatabase) -> ConferenceBuilder:
    return ConferenceBuilder(database.sessions)


def test_the_first_beat_inserts_and_the_second_updates(
    database: TestDatabase, conf: ConferenceBuilder
) -> None:
    health = HealthService(database.sessions)
    before = utcnow() - timedelta(seconds=5)
    health.beat(conf.slug, heartbeat())
    [row] = health_rows(database)
    assert row.conference_id == conf.conference_id
    assert (row.station, row.mode, row.operator, row.version) == (
        "Door A",
        "checkin",
        "Ana",
        "0.1.0",
    )
    assert (row.state, row.online, row.backlog, row.beats) == ("running", True, None, 1)
    assert (row.scans_1m, row.refusals_1m, row.p50_ms, row.p95_ms) == (0, 0, None, None)
    assert row.started_at == STARTED
    assert row.every_s == 5.0
    first_beat = row.beat_at
    assert before <= first_beat <= utcnow() + timedelta(seconds=5)

    last = datetime(2026, 6, 15, 9, 59, 58, tzinfo=UTC)
    window = WindowSummary(scans=12, refusals=2, p50_ms=80.5, p95_ms=410.0, last_scan_at=last)
    health.beat(
        conf.slug,
        heartbeat(
            mode="meal", product="Lunch", online=False, backlog=3, window=window, every_s=2.0
        ),
    )
    [row] = health_rows(database)
    assert row.beats == 2
    assert (row.mode, row.product, row.online, row.backlog) == ("meal", "Lunch", False, 3)
    assert (row.scans_1m, row.refusals_1m, row.p50_ms, row.p95_ms) == (12, 2, 80.5, 410.0)
    assert row.last_scan_at == last
    assert row.every_s == 2.0
    assert row.beat_at >= first_beat


def test_each_station_has_its_own_row(database: TestDatabase, conf: ConferenceBuilder) -> None:
    health = HealthService(database.sessions)
    for station in ("Door A", "Door B", "Door A"):
        health.beat(conf.slug, heartbeat(station))
    assert [(r.station, r.beats) for r in health_rows(database)] == [
        ("Door A", 2),
        ("Door B", 1),
    ]


def test_closing_says_closed_and_a_new_start_runs_again(
    database: TestDatabase, conf: ConferenceBuilder
) -> None:
    health = HealthService(database.sessions)
    health.beat(conf.slug, heartbeat())
    health.beat(conf.slug, heartbeat(closing=True))
    [row] = health_rows(database)
    assert (row.state, row.beats) == ("closed", 2)
    health.beat(conf.slug, heartbeat())
    assert health_rows(database)[0].state == "running"


def test_out_of_range_figures_are_kept_in_bounds(
    database: TestDatabase, conf: ConferenceBuilder
) -> None:
    HealthService(database.sessions).beat(
        conf.slug, heartbeat(backlog=-4, every_s=0.01, version="v" * 100)
    )
    [row] = health_rows(database)
    assert row.backlog == 0
    assert row.every_s == 1.0
    assert row.version == "v" * 40


def test_names_are_stored_display_safe(database: TestDatabase, conf: ConferenceBuilder) -> None:
    """Control characters go (an ESC could retitle the dashboard's terminal); markup is
    text like any other, shown literally by the dashboard, so it is stored as it came."""
    HealthService(database.sessions).beat(
        conf.slug,
        heartbeat(
            "Door [bold]x[/]\x1b]0;pwned\x07",
            operator="[bold]Ana[/]\x1b[2J\u202e",
            product="Lunch\x9b31m",
        ),
    )
    [row] = health_rows(database)
    assert row.station == "Door [bold]x[/]]0;pwned"
    assert row.operator == "[bold]Ana[/][2J"
    assert row.product == "Lunch31m"
    for value in (row.station, row.operator, row.product):
        assert value.isprintable()


def test_a_very_long_station_name_is_cut_not_refused(
    database: TestDatabase, conf: ConferenceBuilder
) -> None:
    HealthService(database.sessions).beat(conf.slug, heartbeat("S" * 500, operator="O" * 500))
    [row] = health_rows(database)
    assert len(row.station) == 100 and row.station.endswith("…")
    assert len(row.operator) == 200


def test_an_unknown_conference_is_one_clear_error_and_writes_nothing(
    database: TestDatabase, conf: ConferenceBuilder
) -> None:
    health = HealthService(database.sessions)
    with pytest.raises(StationError) as refused:
        health.beat("nope", heartbeat())
    # The same error on both databases: the station is set up wrongly, the database is fine.
    assert type(refused.value) is ConfigurationError, repr(refused.value)
    assert not isinstance(refused.value, DatabaseUnavailable)
    assert "nope" in refused.value.message
    assert len(refused.value.message.splitlines()) == 1
    assert health_rows(database) == []
    # The service is still usable afterwards.
    health.beat(conf.slug, heartbeat())
    assert len(health_rows(database)) == 1


def test_two_conferences_keep_their_own_rows(
    database: TestDatabase, conf: ConferenceBuilder
) -> None:
    other = ConferenceBuilder(database.sessions, slug="other-con", name="Other Con")
    health = HealthService(database.sessions)
    health.beat(conf.slug, heartbeat())
    health.beat(other.slug, heartbeat(operator="Bo"))
    rows = health_rows(database)
    assert [(r.conference_id, r.station, r.operator, r.beats) for r in rows] == [
        (conf.conference_id, "Door A", "Ana", 1),
        (other.conference_id, "Door A", "Bo", 1),
    ]


def test_a_beat_keeps_the_window_it_was_given(
    database: TestDatabase, conf: ConferenceBuilder
) -> None:
    window = WindowSummary(scans=1, refusals=1, p50_ms=0.0, p95_ms=0.0, last_scan_at=None)
    beat = replace(heartbeat(), window=window)
    HealthService(database.sessions).beat(conf.slug, beat)
    [row] = health_rows(database)
    assert (row.scans_1m, row.refusals_1m, row.p50_ms, row.p95_ms) == (1, 1, 0.0, 0.0)
