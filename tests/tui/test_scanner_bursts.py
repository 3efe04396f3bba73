"""A scanner burst always goes to the scan flow, whatever screen shows.

Its keys must never land in a list or a search box, never fire a binding, and
its Enter must never pick a highlighted item.
"""

from __future__ import annotations

from station.models import CheckIn, ProductRedemption
from station.tui.screens.confirm import ConfirmScreen
from station.tui.screens.lookup import LookupScreen
from station.tui.screens.picker import PickerScreen
from station.tui.screens.scan import ScanScreen
from tests.tui.conftest import (
    Station,
    badge_shown,
    banner_text,
    option_texts,
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
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen), "the picker")
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
