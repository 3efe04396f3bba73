"""Names, product names, operator names and scans show literally and crash nothing."""

from __future__ import annotations

import pytest

from station.domain import Mode
from station.tui.screens.lookup import LookupScreen
from tests.tui.conftest import (
    Station,
    badge_shown,
    option_texts,
    picker_shown,
    scan,
    screen_text,
    started,
    wait_for,
)

TRICKY = [
    ("[bold]Bob[/]", "Builder"),
    ("Ann[/]", "Smith"),
    ("[@click=app.quit]Eve[/]", "Evil"),
    ("$name", "[red]X"),
]


@pytest.mark.parametrize(("first", "last"), TRICKY)
async def test_markup_in_names_shows_literally_everywhere(
    station: Station, first: str, last: str
) -> None:
    station.conf.staff("[b]Op[/b]")
    station.conf.addon("lunch", "[blink]Lunch[/]")
    built = station.conf.attendee(first_name=first, last_name=last, addons={"lunch": 1})
    name = f"{first} {last}"
    app = station.app(operator="[b]Op[/b]")
    async with app.run_test() as pilot:
        await started(pilot)
        assert "op: [b]Op[/b]" in screen_text(app)
        shown = await scan(pilot, built.access_code)
        assert shown.splitlines()[1] == name
        assert app.scan_screen.history.entries[0].who == name
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        badge = screen_text(app)
        assert name in badge
        assert "1/1  [blink]Lunch[/]" in badge
        await pilot.press("r")
        await wait_for(pilot, lambda: picker_shown(app), "the picker")
        assert option_texts(app.screen) == ["1  [blink]Lunch[/]  —  1 of 1 left"]
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: app.screen is app.scan_screen, "the scan screen")
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
        await pilot.press(*last[:3])
        await wait_for(pilot, lambda: len(option_texts(app.screen)) == 1, "the match")
        assert option_texts(app.screen)[0].startswith(f"{name}  ")
        assert app.is_running  # [@click=app.quit] did not become an action


async def test_markup_and_control_characters_in_a_scan_show_literally(station: Station) -> None:
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, "[b]X[/b]")
        assert shown.splitlines()[0] == "✖ REFUSED — NOT A BADGE"
        assert app.scan_screen.history.entries[0].who == "[b]X[/b]"


async def test_markup_in_product_name_on_a_meal_line(station: Station) -> None:
    station.conf.addon("lunch", "Ann[/]")
    built = station.conf.attendee(addons={"lunch": 2})
    app = station.app(mode=Mode.MEAL, product="lunch")
    async with app.run_test() as pilot:
        await started(pilot)
        assert "MEAL: Ann[/]" in screen_text(app)
        shown = await scan(pilot, built.access_code)
        assert shown.splitlines()[0] == "✔ ANN[/] OK — 1 left"


async def test_control_characters_in_names_never_reach_the_terminal(station: Station) -> None:
    built = station.conf.attendee(first_name="\x1b]0;pwned\x07Mallory", last_name="\u202eX")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, built.access_code)
        assert shown.splitlines()[1] == "]0;pwnedMallory X"
        assert "\x1b" not in app.export_screenshot()
