"""The lookup finds people as a volunteer types their names: any case, no accents, a typo."""

from __future__ import annotations

import pytest

from station.tui.screens.lookup import LookupScreen
from tests.tui.conftest import Station, option_texts, started, wait_for


@pytest.mark.parametrize(
    "typed",
    ["øyvind", "ZOË", "ZOE LEF", "Lindquist", "αλέξανδρος", "山田"],
)
async def test_the_lookup_finds_names_as_they_are_typed(station: Station, typed: str) -> None:
    people = {
        "øyvind": ("Øyvind", "Håland"),
        "ZOË": ("Zoë", "Lefèvre"),
        "ZOE LEF": ("Zoë", "Lefèvre"),
        "Lindquist": ("Ingrid", "Lindqvist"),
        "αλέξανδρος": ("Αλέξανδρος", "Οικονόμου"),
        "山田": ("太郎", "山田"),
    }
    first, last = people[typed]
    wanted = station.conf.attendee(first_name=first, last_name=last, email="x@example.org")
    station.conf.attendee(first_name="Grace", last_name="Hopper")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup screen")
        await pilot.press(*("space" if ch == " " else ch for ch in typed))
        await wait_for(pilot, lambda: len(option_texts(app.screen)) == 1, f"one match for {typed}")
        assert option_texts(app.screen) == [
            f"{first} {last}  x@example.org  ·  general  ·  {wanted.access_code}"
        ]
