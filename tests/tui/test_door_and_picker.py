"""Door checks, and redeeming from the badge preview with the picker."""

from __future__ import annotations

from dataclasses import replace

from station.domain import Mode, OrderStatus
from station.models import DoorCheck, ProductRedemption
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
    started,
    wait_for,
)


def door(station: Station, product: str) -> None:
    station.conf.addon("workshop", "Workshop A")
    station.settings = replace(station.settings, mode=Mode.DOOR, product=product)


async def test_door_admits_who_bought_the_product(station: Station) -> None:
    door(station, "addon:workshop")
    built = station.conf.attendee(first_name="Ada", last_name="Lovelace", addons={"workshop": 1})
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        assert "DOOR IN: Workshop A" in screen_text(app)
        shown = await scan(pilot, built.access_code)
        assert shown.splitlines()[:2] == ["✔ ADMITTED — Workshop A", "Ada Lovelace"]
        assert isinstance(app.screen, ScanScreen)
    assert station.count(DoorCheck, attendee_id=built.attendee_id) == 1


async def test_door_refuses_with_the_reason(station: Station) -> None:
    door(station, "addon:workshop")
    without = station.conf.attendee()
    refunded = station.conf.attendee(status=OrderStatus.REFUNDED, addons={"workshop": 1})
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, without.access_code)
        assert shown.splitlines()[0] == "✖ REFUSED — NOT PURCHASED"
        assert "Workshop A was not purchased" in shown
        shown = await scan(pilot, refunded.access_code)
        assert shown.splitlines()[0] == "✖ REFUSED — ORDER REFUNDED"
    assert station.count(DoorCheck) == 0


async def test_ticket_door(station: Station) -> None:
    station.settings = replace(station.settings, mode=Mode.DOOR, product="ticket:general")
    built = station.conf.attendee(ticket="general")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, built.access_code)
        assert shown.startswith("✔ ADMITTED — general")
    assert station.count(DoorCheck) == 1


async def test_picker_from_the_badge_redeems_one_unit_with_a_number_key(station: Station) -> None:
    station.conf.addon("lunch", "Lunch")
    station.conf.addon("tshirt", "T-Shirt")
    built = station.conf.attendee(addons={"lunch": 2, "tshirt": 1})
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        await pilot.press("r")
        await wait_for(pilot, lambda: picker_shown(app), "the picker")
        assert option_texts(app.screen) == [
            "1  Lunch  —  2 of 2 left",
            "2  T-Shirt  —  1 of 1 left",
        ]
        await pilot.press("1")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ScanScreen) and "LUNCH OK" in banner_text(app),
            "the lunch redemption",
        )
        assert banner_text(app).splitlines()[0] == "✔ LUNCH OK — 1 left"
    assert station.count(ProductRedemption, order_line_item_id=built.line_items["lunch"]) == 1
    assert station.count(ProductRedemption) == 1


async def test_picker_arrows_and_enter_and_escape(station: Station) -> None:
    station.conf.addon("lunch", "Lunch")
    station.conf.addon("tshirt", "T-Shirt")
    built = station.conf.attendee(addons={"lunch": 2, "tshirt": 1})
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        await pilot.press("r")
        await wait_for(pilot, lambda: picker_shown(app), "the picker")
        await pilot.press("escape")
        await wait_for(pilot, lambda: badge_shown(app), "back to the badge")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen), "the picker again")
        await pilot.press("enter")  # nothing chosen yet: a lone Enter redeems nothing
        await pilot.pause(0.1)
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("down", "down", "enter")
        await wait_for(
            pilot,
            lambda: "T-SHIRT OK" in banner_text(app),
            "the t-shirt redemption",
        )
    assert station.count(ProductRedemption, order_line_item_id=built.line_items["tshirt"]) == 1
    assert station.count(ProductRedemption) == 1
