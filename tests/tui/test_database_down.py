"""The database goes away mid-session and comes back: nothing is faked, nothing crashes.

A TCP proxy stands between the station and PostgreSQL; stopping it is a cut
network cable at the venue.
"""

from __future__ import annotations

import pytest

from station.models import CheckIn, ScanLog
from station.tui.screens.scan import ScanScreen
from station.tui.verdicts import Tone
from tests.tui.conftest import (
    Station,
    banner_text,
    light_text,
    scan,
    screen_text,
    started,
    wait_for,
)
from tests.tui.proxy import TcpProxy


@pytest.mark.postgres
async def test_database_down_shows_not_recorded_then_recovers_by_itself(
    pg_station: Station, proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = pg_station.conf.attendee(first_name="Ada", last_name="Lovelace")
    bob = pg_station.conf.attendee(first_name="Bob", last_name="B")
    app = pg_station.app()
    app.probe_every = 0.2
    async with app.run_test() as pilot:
        await started(pilot)
        rung: list[int] = []
        monkeypatch.setattr(app, "bell", lambda: rung.append(1))
        assert light_text(app) == "● DB OK"
        log_rows = pg_station.count(ScanLog)

        proxy.stop()
        shown = await scan(pilot, ada.access_code)
        assert shown.splitlines()[0] == "✖ NOT RECORDED — database offline, try again"
        assert app.verdict.tone is Tone.OFFLINE
        assert rung == [1]
        assert light_text(app) == "● DB OFFLINE"
        assert isinstance(app.screen, ScanScreen)
        assert pg_station.count(CheckIn) == 0
        assert pg_station.count(ScanLog) == log_rows  # not even the scan log

        # Still offline a few probes later, and still answering scans.
        await pilot.pause(0.5)
        assert light_text(app) == "● DB OFFLINE"
        shown = await scan(pilot, bob.access_code)
        assert shown.startswith("✖ NOT RECORDED")

        proxy.start()
        await wait_for(pilot, lambda: light_text(app) == "● DB OK", "the light to turn green")
        assert banner_text(app).startswith("✖ NOT RECORDED")  # no fake success

        shown = await scan(pilot, ada.access_code)
        assert shown.splitlines()[:2] == ["✔ OK — CHECKED IN", "Ada Lovelace"]
    assert pg_station.count(CheckIn, attendee_id=ada.attendee_id) == 1
    assert pg_station.count(CheckIn, attendee_id=bob.attendee_id) == 0


@pytest.mark.postgres
async def test_station_started_while_the_database_is_away_signs_in_once_it_is_back(
    pg_station: Station, proxy: TcpProxy
) -> None:
    proxy.stop()
    app = pg_station.app()
    async with app.run_test() as pilot:
        await wait_for(
            pilot, lambda: "Retrying" in screen_text(app), "the sign-in screen to say it retries"
        )
        assert "Database not reachable" in screen_text(app)
        assert not app.ready
        proxy.start()
        await started(pilot)
        assert app.operator is not None and app.operator.name == "Ana"
        assert light_text(app) == "● DB OK"


@pytest.mark.postgres
async def test_a_preset_operators_sign_in_lost_to_the_network_is_tried_again(
    pg_station: Station, proxy: TcpProxy
) -> None:
    """The operator list came, then the sign-in's answer was lost (seen in CI: a slow link
    during the first sync). Nobody is at an unattended terminal to press Enter again."""
    lost = proxy.lose_answer_to(b"station_pin_parameters")
    app = pg_station.app()
    async with app.run_test() as pilot:
        await wait_for(pilot, lost.is_set, "the sign-in's answer to be lost")
        await wait_for(
            pilot,
            lambda: "signing in Ana when it is back" in screen_text(app),
            "the sign-in screen to say it tries again",
        )
        assert not app.ready
        await started(pilot)
        assert app.operator is not None and app.operator.name == "Ana"
