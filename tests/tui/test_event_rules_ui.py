"""Event rules at the station, as a volunteer meets them (SQLite, a clock the test sets).

A meal voucher bought three times is one lunch a day in lunch hours; a tutorial's room
holds two, lets someone back in only after an exit scan (F6 switches the door between
IN and OUT), and a supervisor can clear it with their PIN (F7).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from station.domain import Mode
from station.models import AddOn, DoorCheck, DoorClear, ProductRedemption
from station.tui.app import StationApp
from station.tui.components.header import Counters, StationHeader
from station.tui.screens.confirm import ConfirmScreen
from station.tui.screens.door_clear import DoorClearScreen
from station.tui.screens.scan import ScanScreen
from tests.tui.conftest import (
    Station,
    SteppingClock,
    banner_text,
    finish_escapes,
    scan,
    send_burst,
    started,
    wait_for,
)

LUNCH_DAY_1 = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # 12:00 in Europe/Berlin


def rules(station: Station, slug: str, **columns: object) -> None:
    with station.db.sessions.begin() as s:
        s.execute(update(AddOn).where(AddOn.slug == slug).values(**columns))


def header_text(app: StationApp) -> str:
    return str(app.scan_screen.query_one(StationHeader).query_one("#where").render())


def counters_text(app: StationApp) -> str:
    return str(app.scan_screen.query_one(Counters).render())


def tutorial(station: Station, holders: int = 3) -> list[str]:
    station.conf.addon("tutorial", "Tutorial")
    rules(station, "tutorial", capacity=2, reentry="after_exit")
    station.settings = replace(station.settings, mode=Mode.DOOR, product="addon:tutorial")
    return [
        station.conf.attendee(
            first_name=name, last_name="Holder", addons={"tutorial": 1}
        ).access_code
        for name in ("Ada", "Bo", "Cy")[:holders]
    ]


async def test_a_voucher_is_one_lunch_a_day_and_says_when_the_next_is(station: Station) -> None:
    station.conf.addon("voucher", "Meal voucher")
    rules(station, "voucher", daily_limit=1, open_hours="11:30-14:30")
    code = station.conf.attendee(first_name="Øyvind", addons={"voucher": 3}).access_code
    station.settings = replace(station.settings, mode=Mode.MEAL, product="voucher")
    clock = SteppingClock(LUNCH_DAY_1)
    station.clock = clock
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        first = await scan(pilot, code)
        assert first.splitlines()[0] == "✔ MEAL VOUCHER OK — 2 left"
        clock.advance(60)  # past the double-scan window
        second = await scan(pilot, code)
        assert second.splitlines()[0].startswith("✖ REFUSED")
        assert "1 of 1 today" in second and "next from tomorrow 11:30" in second
        clock.advance(timedelta(days=1).total_seconds())
        third = await scan(pilot, code)
        assert third.splitlines()[0] == "✔ MEAL VOUCHER OK — 1 left"
    assert station.count(ProductRedemption) == 2


async def test_a_room_of_two_refuses_the_third_until_someone_leaves(station: Station) -> None:
    ada, bo, cy = tutorial(station)
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        assert "DOOR IN: Tutorial" in header_text(app)
        assert (await scan(pilot, ada)).startswith("✔ ADMITTED")
        shown = await scan(pilot, bo)
        assert shown.startswith("✔ ADMITTED") and "Inside now: 2/2" in shown
        full = await scan(pilot, cy)
        assert full.startswith("✖ REFUSED") and "(2/2)" in full and "full" in full.lower()
        await wait_for(pilot, lambda: "Inside: 2/2" in counters_text(app), "the room count")

        await pilot.press("f6")
        await wait_for(pilot, lambda: "DOOR OUT" in header_text(app), "the door set to OUT")
        out = await scan(pilot, ada)
        assert out.splitlines()[:2] == ["✔ OUT — Tutorial", "Ada Holder"]
        assert "Exit recorded" in out
        await wait_for(pilot, lambda: "Inside: 1/2" in counters_text(app), "the room after exit")

        await pilot.press("f6")
        await wait_for(pilot, lambda: "DOOR IN" in header_text(app), "the door set to IN")
        assert (await scan(pilot, cy)).startswith("✔ ADMITTED")
        await wait_for(pilot, lambda: "Inside: 2/2" in counters_text(app), "the room full again")
    assert station.count(DoorCheck, direction="out") == 1
    assert station.count(DoorCheck, direction="in") == 3


async def test_f6_and_f7_are_only_at_a_door(station: Station) -> None:
    app = station.app()  # a check-in desk
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("f6", "f7")
        await pilot.pause()
        assert app.direction == "in"
        assert isinstance(app.screen, ScanScreen)
        assert "In/Out" not in str(app.screen.active_bindings)


def question(app: StationApp) -> str:
    """The confirm screen's question once it is composed ("" before: pushed, not yet mounted)."""
    if not isinstance(app.screen, ConfirmScreen):
        return ""
    found = app.screen.query("#confirm-question")
    return str(found.first().render()) if found else ""


async def test_f7_a_supervisor_clears_the_room_with_their_pin(station: Station) -> None:
    ada, bo, cy = tutorial(station)
    station.conf.staff("Sam", "2468", supervisor=True)
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada)
        await scan(pilot, bo)
        await wait_for(pilot, lambda: "Inside: 2/2" in counters_text(app), "a full room")

        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, DoorClearScreen), "everyone out")
        # Typed fast, as tmux or a quick typist sends it: still a name, not a scan.
        await finish_escapes(app, send_burst(app, "Sam\r"))
        await wait_for(pilot, lambda: app.focused is app.screen.query_one("#clear-pin"), "PIN")
        await finish_escapes(app, send_burst(app, "1111\r"))
        await wait_for(pilot, lambda: "Inside now: 2/2" in question(app), "the question")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, DoorClearScreen)
                and "Wrong PIN" in str(app.screen.query_one("#void-message").render())
            ),
            "a wrong PIN refused",
        )
        assert station.count(DoorClear) == 0

        await pilot.press("2", "4", "6", "8", "enter")
        await wait_for(pilot, lambda: "Inside now: 2/2" in question(app), "the question again")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ScanScreen) and "EVERYONE OUT" in banner_text(app),
            "back to scanning, the room cleared",
        )
        shown = banner_text(app)
        assert shown.splitlines()[:2] == ["▲ EVERYONE OUT — Tutorial", "2 people counted out"]
        await wait_for(pilot, lambda: "Inside: 0/2" in counters_text(app), "an empty room")
        assert (await scan(pilot, cy)).startswith("✔ ADMITTED")
    assert station.count(DoorClear, inside=2) == 1
    assert station.count(DoorCheck) == 3  # nothing deleted
