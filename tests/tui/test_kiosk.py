"""Kiosk mode: nothing a volunteer presses leaves the station; the supervisor PIN does.

Driven through Pilot on the real app (make_app, real SQLite). Keys are pressed
the way a keyboard sends them; Textual keeps ISIG off, so ctrl+c, ctrl+z and
ctrl+\\ arrive as keys, exactly as here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from station.pins import hash_pin
from station.tui import kiosk
from station.tui.app import StationApp
from station.tui.kiosk import SupervisorPinScreen
from station.tui.screens.lookup import LookupScreen
from station.tui.screens.scan import ScanScreen
from tests.tui.conftest import Station, scan, started, wait_for

PIN = "4711"
HARMLESS_KEYS = ("ctrl+c", "ctrl+q", "ctrl+z", "ctrl+backslash", "ctrl+p", "ctrl+d", "escape")


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_pin(PIN)


@pytest.fixture(autouse=True)
def _no_cursor_blink() -> None:
    """Replaces the package's fixture of that name: here the blink is real, kiosk stops it."""


@pytest.fixture(autouse=True)
def _quick_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SupervisorPinScreen, "WRONG_PIN_PAUSE_S", 0.05)


def kiosk_app(station: Station, pin_hash: str | None) -> StationApp:
    return station.app(kiosk=True, supervisor_pin_hash=pin_hash)


async def settled(pilot: Pilot[Any]) -> StationApp:
    """Started, and the first counts are in: no worker is left to report after the test."""
    app = await started(pilot)
    await wait_for(
        pilot,
        lambda: (
            re.search(r"Checked in today: \d", str(app.scan_screen.counters.render())) is not None
            and all(w.is_finished for w in app.workers if w.group != "scans")
        ),
        "the first counts",
    )
    return app


async def test_control_keys_leave_the_station_scanning(station: Station, pin_hash: str) -> None:
    built = station.conf.attendee(first_name="Ada", last_name="Lovelace")
    app = kiosk_app(station, pin_hash)
    async with app.run_test() as pilot:
        await settled(pilot)
        for key in HARMLESS_KEYS:
            await pilot.press(key)
            if isinstance(app.screen, SupervisorPinScreen):  # ctrl+q asks, Esc answers no
                await pilot.press("escape")
            await pilot.pause()
            assert app.is_running, key
            assert isinstance(app.screen, ScanScreen), (key, type(app.screen).__name__)
        # ...and the station still scans.
        assert "CHECKED IN" in await scan(pilot, built.access_code)
        await wait_for(
            pilot,
            lambda: (
                "today: 1" in str(app.scan_screen.counters.render())
                and all(w.is_finished for w in app.workers if w.group != "scans")
            ),
            "the counts after the scan",
        )
    assert app.return_code is None or app.return_code == 0


async def test_ctrl_q_asks_for_the_pin_and_the_right_one_quits(
    station: Station, pin_hash: str
) -> None:
    app = kiosk_app(station, pin_hash)
    async with app.run_test() as pilot:
        await settled(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, SupervisorPinScreen), "PIN prompt")
        await pilot.press(*PIN, "enter")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")
    assert app.return_code == 0


async def test_a_wrong_pin_does_not_quit(station: Station, pin_hash: str) -> None:
    app = kiosk_app(station, pin_hash)
    async with app.run_test() as pilot:
        await settled(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, SupervisorPinScreen), "PIN prompt")
        prompt = app.screen
        assert isinstance(prompt, SupervisorPinScreen)
        await pilot.press("1", "2", "3", "4", "enter")
        await wait_for(pilot, lambda: prompt.attempts == 1, "the PIN to be checked")
        assert app.is_running
        assert isinstance(app.screen, SupervisorPinScreen)
        message = str(prompt.query_one("#supervisor-message").render())
        assert kiosk.WRONG_PIN_MESSAGE in message
        # Esc goes back to scanning; nothing quit.
        await wait_for(pilot, lambda: not prompt.pin_input.disabled, "the field to unlock")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        assert app.is_running


async def test_without_a_configured_pin_nothing_quits(station: Station) -> None:
    app = kiosk_app(station, None)
    async with app.run_test() as pilot:
        await settled(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.is_running
        assert isinstance(app.screen, ScanScreen)
        shown = [str(n.message) for n in app._notifications]
        assert kiosk.NO_PIN_MESSAGE in shown


async def test_outside_kiosk_ctrl_q_still_asks_a_plain_question(station: Station) -> None:
    app = station.app()
    async with app.run_test() as pilot:
        await settled(pilot)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not isinstance(app.screen, SupervisorPinScreen)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, "the app to quit")


async def test_no_blinking_cursor_and_no_animation(station: Station, pin_hash: str) -> None:
    app = kiosk_app(station, pin_hash)
    async with app.run_test() as pilot:
        await settled(pilot)
        assert app.animation_level == "none"
        assert _focused_input(app).id == "scan-input"
        assert not _focused_input(app).cursor_blink
        # Every Input that gets focus stops blinking: the lookup, the supervisor PIN.
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
        await pilot.pause()
        assert _focused_input(app).id == "lookup-input"
        assert not _focused_input(app).cursor_blink
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, SupervisorPinScreen), "PIN prompt")
        await pilot.pause()
        assert _focused_input(app).id == "supervisor-pin"
        assert not _focused_input(app).cursor_blink


async def test_outside_kiosk_the_cursor_blinks(station: Station) -> None:
    app = station.app()
    async with app.run_test() as pilot:
        await settled(pilot)
        assert _focused_input(app).cursor_blink  # so the test above can fail


def _focused_input(app: StationApp) -> Input:
    focused = app.screen.focused
    assert isinstance(focused, Input), focused
    return focused


def test_harden_environment_drops_the_signal_switch() -> None:
    environ = {"TEXTUAL_ALLOW_SIGNALS": "1", "TERM": "xterm"}
    kiosk.harden_environment(environ)
    assert environ == {"TERM": "xterm"}
