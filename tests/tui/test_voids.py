"""Undo at the station: F4 voids the last scan after a yes; F5 is a supervisor's void.

Keyboard only; a badge scanned on the supervisor's screen picks the badge, never
scans at the station; names are shown as text, never markup.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual.pilot import Pilot

from station.domain import Mode
from station.models import ProductRedemption, ScanVoid
from station.tui.screens.confirm import ConfirmScreen
from station.tui.screens.help import HelpScreen
from station.tui.screens.scan import ScanScreen
from station.tui.screens.supervisor_void import SupervisorVoidScreen
from tests.tui.conftest import (
    Station,
    SteppingClock,
    banner_text,
    option_texts,
    scan,
    screen_text,
    send_burst,
    started,
    wait_for,
)


async def pick_the_scan(pilot: Pilot[Any]) -> None:
    """Enter on the highlighted scan; the reason field takes the keys once it has focus.

    A person's Enter, not the scanner's: an Enter right after a scan is taken for the
    rest of its framing and swallowed (``BurstRouter``), so wait as a person would."""
    await pilot.pause(0.3)
    await pilot.press("enter")
    screen = pilot.app.screen
    await wait_for(
        pilot, lambda: getattr(screen.focused, "id", None) == "void-reason", "the reason field"
    )


def meal(station: Station) -> None:
    station.conf.addon("lunch-1", "Lunch Day 1")
    station.settings = replace(
        station.settings, mode=Mode.MEAL, product="lunch-1", station="Station A"
    )


async def test_f4_voids_a_mistaken_redemption_and_it_is_redeemed_again(
    station: Station,
) -> None:
    meal(station)
    built = station.conf.attendee(first_name="Ada", last_name="Lovelace", addons={"lunch-1": 1})
    station.clock = clock = SteppingClock()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, built.access_code)
        assert shown.startswith("✔ LUNCH DAY 1 OK — 0 left")
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm")
        assert "Void the last scan? Redemption: Lunch Day 1 — Ada Lovelace" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, lambda: "VOIDED" in banner_text(app), "the void's verdict")
        assert banner_text(app).splitlines()[:2] == [
            "▲ VOIDED — Redemption: Lunch Day 1",
            "Ada Lovelace",
        ]
        clock.advance(60)  # past the double-scan window, within the void window
        shown = await scan(pilot, built.access_code)
        assert shown.startswith("✔ LUNCH DAY 1 OK — 0 left"), shown
    assert station.count(ProductRedemption) == 2
    assert station.count(ScanVoid) == 1


async def test_f4_after_the_window_says_to_ask_a_supervisor(station: Station) -> None:
    built = station.conf.attendee()
    station.clock = clock = SteppingClock()
    app = station.app(void_window_seconds=120.0)
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await pilot.press("escape")  # the badge preview
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        clock.advance(180)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: "CANNOT VOID" in banner_text(app), "the refusal")
        assert "older than 2 minutes" in banner_text(app)
        assert "F5" in banner_text(app)
    assert station.count(ScanVoid) == 0


async def test_f4_answered_no_voids_nothing(station: Station) -> None:
    built = station.conf.attendee()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
    assert station.count(ScanVoid) == 0


async def test_f5_a_supervisor_voids_a_scan_found_by_badge(station: Station) -> None:
    meal(station)
    station.conf.staff("Sam", "2468", supervisor=True)
    built = station.conf.attendee(
        first_name="[b]Eve[/b]", last_name="[@click=app.quit]X", addons={"lunch-1": 2}
    )
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await pilot.press("f5")
        await wait_for(
            pilot, lambda: isinstance(app.screen, SupervisorVoidScreen), "the supervisor's void"
        )
        await pilot.press("S", "a", "m", "enter", "2", "4", "6", "8", "enter")
        # The badge by scanner: it fills the badge field, it is not a scan at the station.
        send_burst(app, built.access_code + "\r")
        screen = app.screen
        await wait_for(
            pilot,
            lambda: bool(screen.query_one("#void-records").option_count),  # type: ignore[attr-defined]
            "the badge's scans",
        )
        (line,) = option_texts(screen, "#void-records")
        assert "Redemption: Lunch Day 1 — [b]Eve[/b] [@click=app.quit]X at Station A" in line
        await pick_the_scan(pilot)
        await pilot.press("d", "u", "p", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "back to scanning")
        await wait_for(pilot, lambda: "VOIDED" in banner_text(app), "the void's verdict")
        assert "voided by Sam: dup" in banner_text(app)
    assert station.count(ProductRedemption) == 1  # the badge scanned at F5 redeemed nothing
    assert station.count(ScanVoid) == 1


async def test_f5_a_wrong_pin_voids_nothing(station: Station) -> None:
    station.conf.staff("Sam", "2468", supervisor=True)
    built = station.conf.attendee()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        await pilot.press("f5")
        await wait_for(
            pilot, lambda: isinstance(app.screen, SupervisorVoidScreen), "the supervisor's void"
        )
        await pilot.press("S", "a", "m", "enter", "1", "1", "1", "1", "enter")
        send_burst(app, built.access_code + "\r")
        screen = app.screen
        await wait_for(
            pilot,
            lambda: bool(screen.query_one("#void-records").option_count),  # type: ignore[attr-defined]
            "the badge's scans",
        )
        await pick_the_scan(pilot)
        await pilot.press("x", "enter")
        await wait_for(pilot, lambda: "Wrong PIN" in screen_text(app), "the refusal")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
    assert station.count(ScanVoid) == 0


async def test_help_lists_the_void_keys(station: Station) -> None:
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        shown = screen_text(app)
        assert "F4" in shown and "Undo: void this station's last scan" in shown
        assert "F5" in shown and "Supervisor void" in shown
