"""The app's shell: fits 80×24, quits only on confirmation, shows slow work, stays clean."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from textual.geometry import Region
from textual.widget import Widget

from station.domain import Mode
from station.models import ProductRedemption
from station.tui.app import StationApp
from station.tui.screens.confirm import ConfirmScreen
from station.tui.screens.lookup import LookupScreen
from station.tui.screens.scan import ScanScreen
from tests.tui.conftest import (
    Station,
    SteppingClock,
    badge_shown,
    banner_text,
    picker_shown,
    scan,
    send_burst,
    started,
    wait_for,
)

TUI = Path(__file__).parents[2] / "station" / "tui"
SCREEN = Region(0, 0, 80, 24)


def assert_fully_visible(app: StationApp, *selectors: str) -> None:
    for selector in selectors:
        widget = app.screen.query_one(selector, Widget)
        region = widget.region
        assert region.area > 0, f"{selector} is not shown at 80×24"
        assert SCREEN.contains_region(region), f"{selector} at {region} spills off 80×24"


async def test_every_screen_fits_80_by_24(station: Station) -> None:
    station.conf.addon("lunch", "Lunch")
    built = station.conf.attendee(addons={"lunch": 2, "extra": 1})
    app = station.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        assert_fully_visible(app, "#header", "#counters", "#scan-input", "#banner", "Footer")
        history = app.screen.query_one("#history", Widget)
        assert history.region.height >= 8, "room for the last scans"
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge")
        assert_fully_visible(
            app, "#badge-verdict", "#badge-name", "#badge-checkins", "#badge-products", "Footer"
        )
        await pilot.press("r")
        await wait_for(pilot, lambda: picker_shown(app), "the picker")
        await pilot.pause()
        assert_fully_visible(app, "#picker-title", "#picker-list", "#picker-hint", "Footer")
        await pilot.press("escape", "escape")
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
        assert_fully_visible(app, "#lookup-input", "#lookup-status", "#lookup-results")


async def test_ctrl_q_asks_first_and_n_keeps_the_station_running(station: Station) -> None:
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        assert app.is_running
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert app.return_code == 0


async def test_a_slow_call_shows_working_and_the_screen_stays_live(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = station.conf.attendee()
    app = station.app()
    real = app.services.checkin.check_in

    def slow_check_in(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.6)  # a database far away; the real call follows
        return real(*args, **kwargs)

    monkeypatch.setattr(app.services.checkin, "check_in", slow_check_in)
    async with app.run_test() as pilot:
        await started(pilot)
        send_burst(app, built.access_code + "\r")
        working = app.scan_screen.query_one("#working", Widget)
        await wait_for(pilot, lambda: "working…" in str(working.render()), "'working…'")
        assert banner_text(app).startswith("● READY")  # nothing claimed yet
        await pilot.press(*"abc")  # the UI still takes keys while the call runs
        await wait_for(pilot, lambda: badge_shown(app), "the badge")
        assert str(working.render()) == ""


async def test_each_scan_gets_a_fresh_client_id(station: Station) -> None:
    built = station.conf.attendee()
    station.clock = clock = SteppingClock()
    app = station.app()
    seen: list[Any] = []
    real = app.services.checkin.check_in

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["client_id"])
        return real(*args, **kwargs)

    app.services.checkin.check_in = recording  # type: ignore[method-assign]
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await pilot.press("escape")
        clock.advance(60)  # past the double-scan window: a second scan, not a double
        await scan(pilot, built.access_code)
    assert len(seen) == 2 and seen[0] != seen[1]


async def test_a_station_set_up_wrongly_says_so_and_records_nothing(station: Station) -> None:
    built = station.conf.attendee(addons={"lunch": 1})
    app = station.app(mode=Mode.MEAL, product="no-such-addon")
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.ready, "sign-in")
        await wait_for(
            pilot, lambda: "NOT READY" in banner_text(app), "the set-up problem on the banner"
        )
        assert "Add-on 'no-such-addon' does not exist" in banner_text(app)
        shown = await scan(pilot, built.access_code)
        assert shown.startswith("✖ NOT READY — this station is set up wrongly")
    assert station.count(ProductRedemption) == 0


def test_run_station_refuses_to_start_without_a_terminal(station: Station) -> None:
    script = (
        "import sys; from station.config import Settings; from station.db import DatabaseSettings;"
        "from station.tui.app import run_station;"
        f"sys.exit(run_station(Settings(database=DatabaseSettings(url={station.db.settings.url!r}),"
        "conference='pycon-test', station='X')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=TUI.parents[1],
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "terminal" in done.stderr


def test_the_ui_never_imports_sqlalchemy() -> None:
    offenders = []
    for path in TUI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "sqlalchemy"]
    assert offenders == []


def test_wording_lives_in_one_module() -> None:
    """Refusal words appear in verdicts.py and nowhere else in the UI."""
    for path in TUI.rglob("*.py"):
        if path.name == "verdicts.py":
            continue
        text = path.read_text()
        for words in ("ORDER CANCELLED", "NOT PURCHASED", "ALREADY REDEEMED", "NOT RECORDED"):
            assert words not in text, f"{words!r} spelled out in {path.name}"


async def test_start_up_objects_are_frozen_once_the_station_is_ready(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Start from a process whose start-up was not settled yet, as a fresh station is.
    import gc

    from station import heap

    gc.unfreeze()
    monkeypatch.setattr(heap, "_settled", False)
    built = station.conf.attendee()
    app = station.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        frozen = gc.get_freeze_count()
        assert frozen > 10_000, "the loaded app is out of the collector's sight"
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge")
        assert gc.get_freeze_count() <= frozen, "what scans make is not frozen"
    # Left frozen, as in a station: unfreezing would hand the collector the whole test
    # session's heap at once, and its next full collection would stall a later test.
