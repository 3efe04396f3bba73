"""A meal line double-scans all the time: the same code again within the window writes nothing.

The window (scanner.double_scan_window_s, 3 s by default) counts on the app's
clock, which these tests move by hand.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from station.domain import Mode
from station.models import CheckIn, ProductRedemption, ScanLog
from station.scanner import ScannerProfile
from station.tui.double_scan import RecentScans
from station.tui.screens.picker import PickerScreen
from station.tui.screens.scan import ScanScreen
from station.tui.verdicts import Tone, Verdict, for_worker_failure, idle
from tests.tui.conftest import (
    FIXED_NOW,
    Station,
    SteppingClock,
    badge_shown,
    banner_text,
    light_text,
    scan,
    screen_text,
    send_burst,
    started,
    wait_for,
)
from tests.tui.proxy import TcpProxy

JUST = "▲ JUST SCANNED — "
NOTHING_NEW = "Same badge scanned again just now — nothing new was recorded."


def meal_line(station: Station, *, product: str | None = "lunch-1") -> SteppingClock:
    station.conf.addon("lunch-1", "Lunch Day 1")
    station.settings = replace(
        station.settings, mode=Mode.MEAL, product=product, station="Station A"
    )
    station.clock = clock = SteppingClock()
    return clock


async def test_a_double_scan_on_the_meal_line_writes_one_redemption(
    any_station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = meal_line(any_station)
    ada = any_station.conf.attendee(first_name="Ada", last_name="Lovelace", addons={"lunch-1": 3})
    app = any_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        rung: list[int] = []
        monkeypatch.setattr(app, "bell", lambda: rung.append(1))
        shown = await scan(pilot, ada.access_code)
        assert shown.splitlines()[0] == "✔ LUNCH DAY 1 OK — 2 left"
        clock.advance(0.4)
        shown = await scan(pilot, ada.access_code.lower())
        assert shown.splitlines() == [
            JUST + "LUNCH DAY 1 OK — 2 left",
            "Ada Lovelace",
            NOTHING_NEW,
        ]
        assert app.verdict.tone is Tone.WARNING
        assert rung == []
        assert len(app.scan_screen.history.entries) == 1  # the history lists what was written
    assert any_station.count(ProductRedemption, attendee_id=ada.attendee_id) == 1
    assert any_station.count(ScanLog, attendee_id=ada.attendee_id) == 1


async def test_outside_the_window_the_next_unit_is_redeemed(station: Station) -> None:
    clock = meal_line(station)
    ada = station.conf.attendee(addons={"lunch-1": 3})
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        clock.advance(2.9)
        assert (await scan(pilot, ada.access_code)).startswith(JUST)
        clock.advance(3.0)  # three seconds after the last time the code was seen
        shown = await scan(pilot, ada.access_code)
        assert shown.splitlines()[0] == "✔ LUNCH DAY 1 OK — 1 left"
        assert app.verdict.tone is Tone.OK
    assert station.count(ProductRedemption, attendee_id=ada.attendee_id) == 2


async def test_a_badge_left_under_the_scanner_redeems_once(station: Station) -> None:
    clock = meal_line(station)
    ada = station.conf.attendee(addons={"lunch-1": 3})
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        for _ in range(5):  # read again every 2 s, for 10 s
            clock.advance(2)
            assert (await scan(pilot, ada.access_code)).startswith(JUST)
    assert station.count(ProductRedemption, attendee_id=ada.attendee_id) == 1


async def test_double_scan_on_the_badge_preview_keeps_the_badge_and_is_no_reentry(
    station: Station,
) -> None:
    station.clock = SteppingClock()
    ada = station.conf.attendee(first_name="Ada", last_name="Lovelace")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        await wait_for(pilot, lambda: badge_shown(app, "Ada Lovelace"), "Ada's badge")
        badge = app.screen
        shown = await scan(pilot, ada.access_code)
        assert shown.splitlines()[:2] == [JUST + "OK — CHECKED IN", "Ada Lovelace"]
        assert app.screen is badge and badge_shown(app, "Ada Lovelace")
    assert station.count(CheckIn, attendee_id=ada.attendee_id) == 1


async def test_double_scan_while_the_picker_is_open_keeps_the_picker(station: Station) -> None:
    meal_line(station, product=None)
    ada = station.conf.attendee(addons={"lunch-1": 2, "tshirt": 1})
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code, until=lambda: isinstance(app.screen, PickerScreen))
        picker = app.screen
        await scan(pilot, ada.access_code)
        assert app.screen is picker
        assert JUST + "CHOOSE what to redeem" in screen_text(app)
        await pilot.press("1")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ScanScreen) and "LUNCH DAY 1 OK" in banner_text(app),
            "the lunch redemption",
        )
    assert station.count(ProductRedemption, attendee_id=ada.attendee_id) == 1


async def test_a_refusal_scanned_again_is_repeated_without_a_lookup(station: Station) -> None:
    station.clock = SteppingClock()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, "NOSUCHCODE")
        shown = await scan(pilot, "nosuchcode")
        assert shown.splitlines()[:2] == [JUST + "UNKNOWN BADGE", "Badge NOSUCHCODE"]
        assert "→ Send to the help desk." in shown
    assert station.count(ScanLog, reason="not_found") == 1


async def test_another_badge_in_between_does_not_reset_the_guard(station: Station) -> None:
    clock = station.clock = SteppingClock()
    ada = station.conf.attendee(first_name="Ada", last_name="A")
    bob = station.conf.attendee(first_name="Bob", last_name="B")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        clock.advance(1)
        await scan(pilot, bob.access_code)
        await wait_for(pilot, lambda: badge_shown(app, "Bob B"), "Bob's badge")
        clock.advance(1)
        shown = await scan(pilot, ada.access_code)
        assert shown.splitlines()[:2] == [JUST + "OK — CHECKED IN", "Ada A"]
        assert isinstance(app.screen, ScanScreen)  # Bob's badge does not stay up for Ada
    assert station.count(CheckIn, attendee_id=ada.attendee_id) == 1
    assert station.count(CheckIn, attendee_id=bob.attendee_id) == 1


async def test_a_second_scan_while_the_first_is_in_flight_is_the_same_scan(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    meal_line(station)
    ada = station.conf.attendee(addons={"lunch-1": 3})
    app = station.app()
    calls: list[str] = []
    release = threading.Event()
    real = app.services.redemption.redeem_product

    def slow_redeem(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        release.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(app.services.redemption, "redeem_product", slow_redeem)
    async with app.run_test() as pilot:
        await started(pilot)
        send_burst(app, ada.access_code + "\r")
        await wait_for(pilot, lambda: len(calls) == 1, "the first call to start")
        send_burst(app, ada.access_code + "\r")
        await pilot.pause(0.2)
        release.set()
        await wait_for(pilot, lambda: "OK" in banner_text(app) and not app.scanning, "verdicts")
        await pilot.pause(0.1)
        # The second scan gets the first one's answer, marked as a repeat.
        assert banner_text(app).splitlines()[0].endswith("JUST SCANNED — LUNCH DAY 1 OK — 2 left")
    assert calls == [ada.access_code]
    assert station.count(ProductRedemption, attendee_id=ada.attendee_id) == 1


@pytest.mark.postgres
async def test_a_retry_after_the_database_was_offline_goes_through(
    pg_station: Station, proxy: TcpProxy
) -> None:
    meal_line(pg_station)  # the clock stands still: every retry is "within the window"
    ada = pg_station.conf.attendee(addons={"lunch-1": 3})
    app = pg_station.app()
    app.probe_every = 0.2
    async with app.run_test() as pilot:
        await started(pilot)
        proxy.stop()
        shown = await scan(pilot, ada.access_code)
        assert shown.startswith("✖ NOT RECORDED")
        shown = await scan(pilot, ada.access_code)  # still away: the retry asks again
        assert shown.startswith("✖ NOT RECORDED")
        proxy.start()
        await wait_for(pilot, lambda: light_text(app) == "● DB OK", "the light to turn green")
        shown = await scan(pilot, ada.access_code)
        assert shown.splitlines()[0] == "✔ LUNCH DAY 1 OK — 2 left"
        shown = await scan(pilot, ada.access_code)  # and now that one is remembered
        assert shown.startswith(JUST + "LUNCH DAY 1 OK — 2 left")
    assert pg_station.count(ProductRedemption, attendee_id=ada.attendee_id) == 1


async def test_a_window_of_zero_turns_the_guard_off(station: Station) -> None:
    station.clock = SteppingClock()
    ada = station.conf.attendee()
    app = station.app(scanner=ScannerProfile(double_scan_window_s=0))
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        shown = await scan(pilot, ada.access_code)
        assert shown.startswith("▲ RE-ENTRY")
    assert station.count(CheckIn, attendee_id=ada.attendee_id) == 2


# --- the memory alone ---------------------------------------------------------------------------

OK = Verdict(Tone.OK, "OK", "OK — CHECKED IN", "Ada")


def test_memory_repeats_within_the_window_only() -> None:
    recent = RecentScans(3.0)
    recent.remember("ADA1", OK, FIXED_NOW)
    assert recent.previous("ADA1", FIXED_NOW + timedelta(seconds=2.999)) is OK
    assert recent.previous("ADA1", FIXED_NOW + timedelta(seconds=3)) is None
    assert recent.previous("BOB7", FIXED_NOW) is None


def test_memory_treats_a_clock_that_jumped_back_as_outside() -> None:
    recent = RecentScans(3.0)
    recent.remember("ADA1", OK, FIXED_NOW)
    assert recent.previous("ADA1", FIXED_NOW - timedelta(seconds=1)) is None


def test_memory_forgets_a_code_whose_answer_was_not_recorded() -> None:
    recent = RecentScans(3.0)
    recent.remember("ADA1", OK, FIXED_NOW)
    recent.remember("ADA1", for_worker_failure(RuntimeError("boom")), FIXED_NOW)
    assert recent.previous("ADA1", FIXED_NOW) is None


def test_memory_remembers_choosing_and_refusals_and_stays_small() -> None:
    recent = RecentScans(3.0)
    for n in range(1000):
        recent.remember(f"C{n}", idle(), FIXED_NOW + timedelta(seconds=n))
    assert recent.previous("C999", FIXED_NOW + timedelta(seconds=999)) is not None
    assert len(recent) <= 4


def test_memory_off_remembers_nothing() -> None:
    recent = RecentScans(0)
    recent.remember("ADA1", OK, FIXED_NOW)
    assert recent.previous("ADA1", FIXED_NOW) is None
    assert len(recent) == 0
