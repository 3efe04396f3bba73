"""Screenshots at 80×24 of the scan screen, badge preview, picker and a refusal.

Times come from fixed clocks and codes from a reset counter, so the images only
change when the UI does. Update with ``pytest --snapshot-update``.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from textual.pilot import Pilot

from station.domain import OrderStatus
from station.tui.app import StationApp, make_app
from station.tui.screens.help import HelpScreen
from tests import builders
from tests.tui.conftest import Station, badge_shown, picker_shown, scan, started, wait_for

SIZE = (80, 24)
NOW = datetime(2025, 5, 16, 7, 12, 30, tzinfo=UTC)  # 09:12:30 in Berlin

SnapCompare = Callable[..., bool]


@pytest.fixture
def fixed(station: Station, monkeypatch: pytest.MonkeyPatch) -> Station:
    monkeypatch.setattr(builders, "_counter", itertools.count(1))
    station.clock = lambda: NOW
    station.conf.addon("lunch-1", "Lunch Day 1")
    station.conf.addon("tshirt", "T-Shirt")
    station.conf.attendee(
        "ADA1",
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.org",
        addons={"lunch-1": 3, "tshirt": 1},
    )
    station.conf.attendee("GRACE1", first_name="Grace", last_name="Hopper", email="g@example.org")
    station.conf.attendee(
        "EVE1", first_name="[@click=app.quit]Eve[/]", last_name="X", status=OrderStatus.CANCELLED
    )
    return station


def run(*steps: Callable[[Pilot[Any]], Awaitable[None]]) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await started(pilot)
        for step in steps:
            await step(pilot)
        await settled(pilot)

    return run_before


async def settled(pilot: Pilot[Any]) -> None:
    """Wait out the counters' refresh, which lands 0.3 s after a scan."""
    app = pilot.app
    assert isinstance(app, StationApp)
    await wait_for(
        pilot,
        lambda: (
            app._counts_timer is None
            and not app.scanning
            and all(w.is_finished for w in app.workers if w.group in ("status", "scan"))
        ),
        "the counters to settle",
    )
    await pilot.pause()


async def scan_grace_then_ada(pilot: Pilot[Any]) -> None:
    await scan(pilot, "GRACE1")
    await pilot.press("escape")
    await scan(pilot, "ADA1")
    await wait_for(pilot, lambda: badge_shown(pilot.app), "the badge")


async def close_badge(pilot: Pilot[Any]) -> None:
    await pilot.press("escape")


async def open_picker(pilot: Pilot[Any]) -> None:
    await pilot.press("r")
    await wait_for(pilot, lambda: picker_shown(pilot.app), "the picker")


async def refused_scan(pilot: Pilot[Any]) -> None:
    await scan(pilot, "EVE1")


def test_scan_screen(fixed: Station, snap_compare: SnapCompare) -> None:
    app = fixed.app()
    assert snap_compare(app, terminal_size=SIZE, run_before=run(scan_grace_then_ada, close_badge))


def test_badge_preview(fixed: Station, snap_compare: SnapCompare) -> None:
    app = fixed.app()
    assert snap_compare(app, terminal_size=SIZE, run_before=run(scan_grace_then_ada))


def test_picker(fixed: Station, snap_compare: SnapCompare) -> None:
    app = fixed.app()
    assert snap_compare(app, terminal_size=SIZE, run_before=run(scan_grace_then_ada, open_picker))


def test_refusal(fixed: Station, snap_compare: SnapCompare) -> None:
    app = fixed.app()
    assert snap_compare(app, terminal_size=SIZE, run_before=run(refused_scan))


async def scan_ten_products(pilot: Pilot[Any]) -> None:
    await scan(pilot, "TEN1")
    await wait_for(pilot, lambda: badge_shown(pilot.app), "the badge")


async def open_help(pilot: Pilot[Any]) -> None:
    await pilot.press("f1")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help")


def test_badge_preview_with_ten_products(fixed: Station, snap_compare: SnapCompare) -> None:
    """Every product of a ten-product badge can be read at 80×24."""
    addons = {f"extra-{n:02}": 1 for n in range(1, 11)}
    for slug in addons:
        fixed.conf.addon(slug, f"Workshop {slug[-2:]}: a longer add-on name")
    fixed.conf.attendee("TEN1", first_name="Ten", last_name="Products", addons=addons)
    app = fixed.app()
    assert snap_compare(app, terminal_size=SIZE, run_before=run(scan_ten_products))


def test_help_on_the_badge_preview_in_the_demo(fixed: Station, snap_compare: SnapCompare) -> None:
    """F1 on the badge preview: its keys, the app's keys, and the demo's codes by case."""
    codes = (
        ("paid, Lunch Day 1 x1", "WAJHZX6C"),
        ("paid, Meal voucher x3", "PAGSAGWT"),
        ("already checked in (re-entry)", "8LCD5V3Z"),
        ("order pending (unpaid)", "WMMGJ7WV"),
        ("order cancelled", "FZFN9WTX"),
        ("no order", "6LWN7QJH"),
    )
    app = make_app(fixed.services(), settings=fixed.settings, clock=fixed.clock, demo_codes=codes)
    assert snap_compare(app, terminal_size=SIZE, run_before=run(scan_grace_then_ada, open_help))


async def scan_with_attention(pilot: Pilot[Any]) -> None:
    await scan(pilot, "NOTE1")
    await wait_for(pilot, lambda: badge_shown(pilot.app), "the badge")


def test_badge_preview_with_an_attention_note(fixed: Station, snap_compare: SnapCompare) -> None:
    """The attention verdict and the note, large, on the badge preview at 80×24."""
    fixed.conf.ticket_type("vip", "VIP pass", attention="VIP — call the host")
    fixed.conf.addon("tshirt-m", "T-Shirt M", attention="collect T-shirt M")
    fixed.conf.attendee(
        "NOTE1",
        first_name="Nora",
        last_name="Note",
        ticket="vip",
        addons={"lunch-1": 1, "tshirt-m": 1},
        attention="wheelchair user: seat near the aisle",
    )
    app = fixed.app()
    assert snap_compare(app, terminal_size=SIZE, run_before=run(scan_with_attention))


async def void_the_last_check_in(pilot: Pilot[Any]) -> None:
    from station.tui.screens.confirm import ConfirmScreen
    from tests.tui.conftest import banner_text

    app = pilot.app
    assert isinstance(app, StationApp)
    await scan(pilot, "GRACE1")
    await pilot.press("escape")
    await pilot.press("f4")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm")
    await pilot.press("y")
    await wait_for(pilot, lambda: "VOIDED" in banner_text(app), "the void's verdict")


def test_a_voided_check_in(fixed: Station, snap_compare: SnapCompare) -> None:
    """F4 on the desk: the VOIDED verdict and the history that keeps both scans."""
    app = fixed.app()
    assert snap_compare(app, terminal_size=SIZE, run_before=run(void_the_last_check_in))
