"""Meal lines: each scan redeems one unit of the station's product, never more than bought.

These run on SQLite and on PostgreSQL: the meal line is where stations race.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from station.domain import Mode, OrderStatus
from station.models import ProductRedemption, ScanLog
from station.tui.screens.scan import ScanScreen
from station.tui.verdicts import Tone
from tests.tui.conftest import (
    Station,
    SteppingClock,
    banner_text,
    picker_shown,
    scan,
    screen_text,
    started,
    wait_for,
)


def meal(station: Station) -> None:
    station.conf.addon("lunch-1", "Lunch Day 1")
    station.settings = replace(
        station.settings, mode=Mode.MEAL, product="lunch-1", station="Station A"
    )


async def test_meal_scan_redeems_one_unit_and_says_how_many_are_left(
    any_station: Station,
) -> None:
    meal(any_station)
    built = any_station.conf.attendee(first_name="Ada", last_name="Lovelace", addons={"lunch-1": 3})
    any_station.clock = clock = SteppingClock()
    app = any_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        assert "MEAL: Lunch Day 1" in screen_text(app)
        shown = await scan(pilot, built.access_code)
        assert shown.splitlines()[:2] == ["✔ LUNCH DAY 1 OK — 2 left", "Ada Lovelace"]
        assert isinstance(app.screen, ScanScreen)  # no badge preview on a meal line
        clock.advance(120)  # back for seconds, well outside the double-scan window
        shown = await scan(pilot, built.access_code)
        assert shown.splitlines()[0] == "✔ LUNCH DAY 1 OK — 1 left"
    assert any_station.count(ProductRedemption, attendee_id=built.attendee_id) == 2


async def test_meal_double_redemption_is_refused_with_when_and_where(
    any_station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    meal(any_station)
    clock = SteppingClock(datetime(2025, 5, 16, 10, 3, tzinfo=UTC))  # 12:03 in Berlin
    any_station.clock = clock
    built = any_station.conf.attendee(addons={"lunch-1": 1})
    app = any_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        rung: list[int] = []
        monkeypatch.setattr(app, "bell", lambda: rung.append(1))
        shown = await scan(pilot, built.access_code)
        assert shown.splitlines()[0] == "✔ LUNCH DAY 1 OK — 0 left"
        assert rung == []
        clock.advance(20)  # comes back for another: outside the double-scan window
        shown = await scan(pilot, built.access_code)
        # When the lunch went, in Berlin: the clock's 12:03 on SQLite; on PostgreSQL the
        # server's time, which records it (migration 0008).
        with any_station.db.sessions() as session:
            first = session.scalars(select(ProductRedemption.redeemed_at)).one()
        at = first.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")
        assert at == "12:03" or any_station.db.kind == "postgres"
        assert shown.splitlines()[0] == f"✖ REFUSED — ALREADY REDEEMED 1/1 — {at} at Station A"
        assert app.verdict.tone is Tone.REFUSED
        assert rung == [1]
    assert any_station.count(ProductRedemption, attendee_id=built.attendee_id) == 1
    assert any_station.count(ScanLog, outcome="refused", reason="fully_redeemed") == 1


async def test_meal_refuses_what_was_not_bought_and_cancelled_orders(
    any_station: Station,
) -> None:
    meal(any_station)
    without = any_station.conf.attendee(addons={"tshirt": 1})
    cancelled = any_station.conf.attendee(status=OrderStatus.CANCELLED, addons={"lunch-1": 1})
    app = any_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, without.access_code)
        assert shown.splitlines()[0] == "✖ REFUSED — NOT PURCHASED"
        shown = await scan(pilot, cancelled.access_code)
        assert shown.splitlines()[0] == "✖ REFUSED — ORDER CANCELLED"
    assert any_station.count(ProductRedemption) == 0


async def test_meal_line_without_a_fixed_product_asks_what_to_redeem(station: Station) -> None:
    meal(station)
    built = station.conf.attendee(addons={"lunch-1": 2, "tshirt": 1})
    app = station.app(product=None)
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: picker_shown(app), "the picker")
        text = screen_text(app)
        assert "Redeem for Ada Lovelace" in text
        await pilot.press("2")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ScanScreen) and "TSHIRT OK" in banner_text(app),
            "the t-shirt redemption",
        )
        assert banner_text(app).splitlines()[0] == "✔ TSHIRT OK — 0 left"
    assert station.count(ProductRedemption, order_line_item_id=built.line_items["tshirt"]) == 1
    assert station.count(ProductRedemption, order_line_item_id=built.line_items["lunch-1"]) == 0
