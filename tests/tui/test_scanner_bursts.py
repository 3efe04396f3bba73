"""A scanner burst always goes to the scan flow, whatever screen shows.

Its keys must never land in a list or a search box, never fire a binding, and
its Enter must never pick a highlighted item.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from typing import Any

import pytest
from textual import events

from station.domain import Mode
from station.models import CheckIn, ProductRedemption, ScanLog
from station.tui.app import StationApp
from station.tui.screens.confirm import ConfirmScreen
from station.tui.screens.lookup import LookupScreen
from station.tui.screens.picker import PickerScreen
from station.tui.screens.scan import ScanScreen
from tests.tui.conftest import (
    Station,
    badge_shown,
    banner_text,
    option_texts,
    picker_shown,
    scan,
    screen_text,
    send_burst,
    started,
    wait_for,
)


async def test_burst_on_the_picker_checks_in_the_next_badge_and_redeems_nothing(
    station: Station,
) -> None:
    station.conf.addon("lunch", "Lunch")
    ada = station.conf.attendee(code="ADA1", addons={"lunch": 2})
    # Starts with "1" (the picker's first binding) and contains "r" (the badge's).
    bob = station.conf.attendee(code="1BR2", first_name="Bob", last_name="B")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "Ada's badge")
        await pilot.press("r")
        await wait_for(pilot, lambda: picker_shown(app), "the picker")
        shown = await scan(pilot, bob.access_code.lower())
        assert shown.splitlines()[:2] == ["✔ OK — CHECKED IN", "Bob B"]
        await wait_for(
            pilot,
            lambda: badge_shown(app) and app.screen.badge.name == "Bob B",
            "Bob's badge",
        )
    assert station.count(ProductRedemption) == 0
    assert station.count(CheckIn, attendee_id=bob.attendee_id) == 1


async def test_burst_on_the_badge_preview_fires_no_binding(station: Station) -> None:
    ada = station.conf.attendee(code="ADA1")
    rex = station.conf.attendee(code="R2D2", first_name="Rex", last_name="R")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "Ada's badge")
        shown = await scan(pilot, rex.access_code)
        assert "Rex R" in shown
        await wait_for(
            pilot,
            lambda: badge_shown(app) and app.screen.badge.name == "Rex R",
            "Rex's badge",
        )
        assert not any(isinstance(s, PickerScreen) for s in app.screen_stack)
    assert station.count(CheckIn) == 2


async def test_burst_on_the_lookup_goes_to_the_scan_not_the_search_box(station: Station) -> None:
    station.conf.attendee(first_name="Ada", last_name="Lovelace")
    bob = station.conf.attendee(code="BOB7", first_name="Bob", last_name="B")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
        await pilot.press(*"lov")
        await wait_for(pilot, lambda: bool(app.screen.matches), "Ada in the results")  # type: ignore[attr-defined]
        shown = await scan(pilot, bob.access_code)
        assert shown.splitlines()[:2] == ["✔ OK — CHECKED IN", "Bob B"]
    assert station.count(CheckIn) == 1
    assert station.count(CheckIn, attendee_id=bob.attendee_id) == 1


async def test_a_code_typed_by_hand_on_the_badge_screen_is_a_scan(station: Station) -> None:
    ada = station.conf.attendee(code="ADA1")
    bob = station.conf.attendee(code="BOB7", first_name="Bob", last_name="B")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "Ada's badge")
        await pilot.press(*"bob7", "enter")  # slow keys: a person, not a scanner
        await wait_for(pilot, lambda: "Bob B" in banner_text(app), "Bob's check-in")
    assert station.count(CheckIn, attendee_id=bob.attendee_id) == 1


async def test_scan_on_the_scan_screen_never_shows_in_the_field(station: Station) -> None:
    ada = station.conf.attendee(code="ADA1")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        assert app.scan_screen.scan_input.value == ""


async def test_typing_by_hand_into_the_scan_field_and_enter_scans(station: Station) -> None:
    ada = station.conf.attendee(code="ADA1")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press(*"ada1")
        await wait_for(
            pilot, lambda: app.scan_screen.scan_input.value == "ada1", "typed text in the field"
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: badge_shown(app), "Ada's badge")
    assert station.count(CheckIn, attendee_id=ada.attendee_id) == 1


async def test_burst_while_quit_is_asked_neither_quits_nor_is_lost(station: Station) -> None:
    yves = station.conf.attendee(code="XY12", first_name="Yves", last_name="Y")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await scan(pilot, yves.access_code.lower())  # "y" inside the code
        assert app.is_running
        assert isinstance(app.screen, ConfirmScreen)
        assert app.verdict.subject == "Yves Y"
        await pilot.press("n")
    assert station.count(CheckIn, attendee_id=yves.attendee_id) == 1


async def test_burst_at_sign_in_picks_no_operator(station: Station) -> None:
    station.conf.staff("Bea")
    ada = station.conf.attendee(code="ADA1")
    app = station.app(operator=None)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: option_texts(app.screen) == ["Ana", "Bea"], "the staff list")
        send_burst(app, ada.access_code + "\r")
        await wait_for(pilot, lambda: "Sign in first, then scan." in screen_text(app), "the hint")
        assert not app.ready and app.operator is None
    assert station.count(CheckIn) == 0


def fall_behind_after(app: StationApp, key_number: int) -> list[int]:
    """From now on, the app yields for three gaps after routing its key_number-th key, as
    a repaint or a garbage collection would make it; returns the count of keys routed."""
    replay = app._replay
    routed = [0]

    async def falling_behind(keys: list[events.Key]) -> None:
        routed[0] += 1
        if routed[0] == key_number:
            await asyncio.sleep(app.router.gap * 3)
        await replay(keys)

    app._replay = falling_behind  # type: ignore[method-assign]
    return routed


@pytest.mark.parametrize("yield_after", [2, 3])
async def test_a_burst_is_not_split_when_the_app_pauses_in_the_middle_of_it(
    station: Station, yield_after: int
) -> None:
    """The app can fall behind the keys (a garbage collection, a slow repaint, a handler
    that waits): keys that had already arrived, each within the gap of the one before,
    still make one scan. Here the meal line is busy with the previous scan (its "working"
    state, where the field takes no typing) and the app waits mid-burst for three gaps:
    the pause timer runs out then, but decides only after the keys already queued."""
    station.conf.addon("lunch-1", "Lunch Day 1")
    station.settings = replace(station.settings, mode=Mode.MEAL, product="lunch-1")
    ada = station.conf.attendee(addons={"lunch-1": 3})
    app = station.app()
    release = threading.Event()
    real = app.services.redemption.redeem_product

    def slow_redeem(*args: Any, **kwargs: Any) -> Any:
        release.wait(5)
        return real(*args, **kwargs)

    app.services.redemption.redeem_product = slow_redeem  # type: ignore[method-assign]
    async with app.run_test() as pilot:
        await started(pilot)
        send_burst(app, ada.access_code + "\r")
        await pilot.pause(0.3)  # in flight long enough to show "working"
        routed = fall_behind_after(app, yield_after)
        send_burst(app, ada.access_code + "\r")
        await pilot.pause(0.3)
        release.set()
        await wait_for(pilot, lambda: "OK" in banner_text(app), "the verdict")
        await pilot.pause(0.2)
        assert routed[0] == len(ada.access_code) + 1
        assert station.count(ScanLog, reason="not_found") == 0, "no piece of it was scanned alone"
    assert station.count(ProductRedemption, attendee_id=ada.attendee_id) == 1


@pytest.mark.parametrize("yield_after", [2, 3])
async def test_a_desk_scan_is_not_split_when_the_app_pauses_in_the_middle_of_it(
    station: Station, yield_after: int
) -> None:
    """The same at a check-in desk, on its first scan."""
    ada = station.conf.attendee()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        routed = fall_behind_after(app, yield_after)
        shown = await scan(pilot, ada.access_code)
        assert shown.startswith("✔ OK"), shown
        assert routed[0] == len(ada.access_code) + 1
        assert station.count(ScanLog, reason="not_found") == 0
    assert station.count(CheckIn, attendee_id=ada.attendee_id) == 1
