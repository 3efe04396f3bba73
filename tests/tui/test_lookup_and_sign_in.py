"""Manual lookup by name, and operator sign-in with and without a PIN."""

from __future__ import annotations

from sqlalchemy import update

from station.models import CheckIn, Staff
from station.tui.screens.lookup import LookupScreen
from station.tui.screens.scan import ScanScreen
from station.tui.screens.sign_in import SignInScreen
from tests.tui.conftest import (
    Station,
    badge_shown,
    banner_text,
    option_texts,
    scan,
    screen_text,
    started,
    wait_for,
)


async def test_lookup_by_part_of_a_name_checks_the_attendee_in(station: Station) -> None:
    ada = station.conf.attendee(first_name="Ada", last_name="Lovelace", email="ada@example.org")
    station.conf.attendee(first_name="Grace", last_name="Hopper")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup screen")
        await pilot.press(*"lovel")
        await wait_for(pilot, lambda: len(option_texts(app.screen)) == 1, "one match for 'lovel'")
        assert option_texts(app.screen) == [
            f"Ada Lovelace  ada@example.org  ·  general  ·  {ada.access_code}"
        ]
        await pilot.press("enter")  # no row chosen yet: a lone Enter checks nobody in
        await pilot.pause(0.1)
        assert isinstance(app.screen, LookupScreen)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: badge_shown(app), "Ada's badge")
        assert banner_text(app).startswith("✔ OK — CHECKED IN\nAda Lovelace")
    assert station.count(CheckIn, attendee_id=ada.attendee_id) == 1


async def test_lookup_escape_goes_back_and_f2_opens_it(station: Station) -> None:
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup screen")
        await pilot.press(*"zz")
        await wait_for(
            pilot, lambda: "No attendee matches." in screen_text(app), "'no attendee matches'"
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        assert app.scan_screen.scan_input.has_focus


async def test_slash_on_the_badge_preview_opens_the_lookup(station: Station) -> None:
    built = station.conf.attendee(first_name="Ada")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup screen")
        await pilot.press(*"ad")
        await wait_for(pilot, lambda: len(option_texts(app.screen)) == 1, "one match for 'ad'")
    assert station.count(CheckIn, attendee_id=built.attendee_id) == 1


async def test_slash_types_into_a_started_scan_instead_of_opening_the_lookup(
    station: Station,
) -> None:
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("a", "slash")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ScanScreen)
        assert app.scan_screen.scan_input.value == "a/"


async def test_sign_in_with_the_right_pin_records_the_operator(station: Station) -> None:
    cleo = station.conf.staff("Cleo", pin="4321")
    built = station.conf.attendee()
    app = station.app(operator=None)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: option_texts(app.screen) == ["Ana", "Cleo"], "the staff list")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: "PIN for Cleo:" in screen_text(app), "the PIN prompt")
        await pilot.press(*"4321", "enter")
        await started(pilot)
        assert "op: Cleo" in screen_text(app)
        assert app.ctx.staff_id == cleo
        await scan(pilot, built.access_code)
    with station.db.sessions() as s:
        assert s.query(CheckIn).one().staff_id == cleo


async def test_wrong_pin_is_one_line_and_the_prompt_stays(station: Station) -> None:
    station.conf.staff("Cleo", pin="4321")
    app = station.app(operator="Cleo")
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: "PIN for Cleo:" in screen_text(app), "the PIN prompt")
        await pilot.press(*"0000", "enter")
        await wait_for(pilot, lambda: "Wrong PIN — try again." in screen_text(app), "refusal")
        assert isinstance(app.screen, SignInScreen)
        assert not app.ready
        await pilot.press(*"4321", "enter")
        await started(pilot)
        assert app.operator is not None and app.operator.name == "Cleo"


async def test_preset_operator_not_on_the_list_asks_for_a_name(station: Station) -> None:
    app = station.app(operator="Zed")
    async with app.run_test() as pilot:
        await wait_for(
            pilot,
            lambda: "Operator 'Zed' is not on the staff list" in screen_text(app),
            "the unknown-operator message",
        )
        await pilot.press("enter")
        await started(pilot)
        assert app.operator is not None and app.operator.name == "Ana"


async def test_without_any_operator_the_station_can_still_scan(station: Station) -> None:
    with station.db.sessions.begin() as s:
        s.execute(update(Staff).values(active=False))
    built = station.conf.attendee()
    app = station.app(operator=None)
    async with app.run_test() as pilot:
        await wait_for(
            pilot, lambda: "No operators are set up" in screen_text(app), "the no-operator note"
        )
        await pilot.press("enter")
        await started(pilot)
        assert app.operator is None and app.ctx.staff_id is None
        await scan(pilot, built.access_code)
    with station.db.sessions() as s:
        assert s.query(CheckIn).one().staff_id is None
