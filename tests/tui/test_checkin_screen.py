"""Check-in mode: a scan checks in, shows the badge, and re-entry is a warning, not an error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from station.domain import OrderStatus
from station.models import Attendee, CheckIn, ScanLog
from station.tui.screens.badge import BadgeScreen
from station.tui.screens.scan import ScanScreen
from station.tui.verdicts import Tone
from tests.tui.conftest import (
    FIXED_NOW,
    Station,
    badge_shown,
    banner_text,
    scan,
    screen_text,
    started,
    wait_for,
)


async def test_scan_checks_in_and_shows_the_badge(station: Station) -> None:
    built = station.conf.attendee(first_name="Ada", last_name="Lovelace", addons={"lunch": 2})
    station.clock = lambda: FIXED_NOW
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, built.access_code)
        assert shown.splitlines()[:2] == ["✔ OK — CHECKED IN", "Ada Lovelace"]
        assert app.verdict.tone is Tone.OK
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        badge = screen_text(app)
        assert "Ada Lovelace" in badge
        assert "2/2  lunch" in badge
        assert "first in 10:30 at Door A by Ana" in badge
        assert "1 check-in" in badge
    assert station.count(CheckIn, attendee_id=built.attendee_id) == 1
    assert station.count(ScanLog, outcome="accepted", action="checkin") == 1
    with station.db.sessions() as s:
        row = s.get(Attendee, built.attendee_id)
        assert row is not None and row.checked_in_at is not None


async def test_the_operator_is_recorded_on_every_write(station: Station) -> None:
    built = station.conf.attendee()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
    with station.db.sessions() as s:
        check_in = s.query(CheckIn).one()
        assert app.operator is not None
        assert check_in.staff_id == app.operator.id
        assert check_in.station == "Door A"


async def test_reentry_says_when_where_and_by_whom_the_first_check_in_was(
    station: Station,
) -> None:
    built = station.conf.attendee(first_name="Ada", last_name="Lovelace")
    bea = station.conf.staff("Bea")
    first = datetime(2025, 5, 16, 7, 12, tzinfo=UTC)  # 09:12 in Berlin
    with station.db.sessions.begin() as s:
        s.add(
            CheckIn(
                client_id=uuid.uuid4(),
                attendee_id=built.attendee_id,
                conference_id=station.conf.conference_id,
                checked_in_at=first,
                station="Door B",
                staff_id=bea,
            )
        )
        attendee = s.get(Attendee, built.attendee_id)
        assert attendee is not None
        attendee.checked_in_at = first
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, built.access_code)
        assert shown.splitlines()[0] == "▲ RE-ENTRY — first in 09:12 at Door B by Bea"
        assert app.verdict.tone is Tone.WARNING
        assert not app.verdict.rings_bell
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        assert "2 check-ins" in screen_text(app)
    assert station.count(CheckIn, attendee_id=built.attendee_id) == 2


async def test_partially_refunded_order_is_admitted_with_an_attention_note(
    station: Station,
) -> None:
    built = station.conf.attendee(status=OrderStatus.PARTIALLY_REFUNDED)
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, built.access_code)
        assert shown.startswith("⚠ ATTENTION — OK — CHECKED IN")
        assert app.verdict.note is not None and "Order partially refunded" in app.verdict.note
        assert app.verdict.tone is Tone.ATTENTION and app.verdict.recorded
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        assert "Order partially refunded" in screen_text(app)
    assert station.count(CheckIn) == 1


async def test_badge_closes_after_its_time(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = station.conf.attendee()
    app = station.app(badge_seconds=0.3)
    # Noted when pushed: on a loaded machine the event loop can stall longer than the
    # badge's 0.3 s, so polling for it on screen could miss it (seen once in CI).
    shown: list[str] = []
    push = app.push_screen

    def noting(screen: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(screen, BadgeScreen) and screen.badge is not None:
            shown.append(screen.badge.access_code)
        return push(screen, *args, **kwargs)

    monkeypatch.setattr(app, "push_screen", noting)
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: shown != [], "the badge preview")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the badge to close")
        assert shown == [built.access_code]
        assert app.scan_screen.scan_input.has_focus


async def test_badge_closes_on_escape(station: Station) -> None:
    built = station.conf.attendee()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        assert app.scan_screen.scan_input.has_focus


async def test_next_scan_replaces_the_badge_at_once(station: Station) -> None:
    ada = station.conf.attendee(first_name="Ada", last_name="Lovelace")
    bob = station.conf.attendee(first_name="Bob", last_name="Builder")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "Ada's badge")
        shown = await scan(pilot, bob.access_code)
        assert "Bob Builder" in shown
        await wait_for(
            pilot,
            lambda: badge_shown(app) and app.screen.badge.name == "Bob Builder",
            "Bob's badge",
        )
        assert len(app.screen_stack) == 2  # scan screen + one badge, never a pile
    assert station.count(CheckIn) == 2


async def test_history_lists_the_last_scans_newest_first(station: Station) -> None:
    codes = [
        station.conf.attendee(first_name=f"P{n}", last_name="X").access_code for n in range(12)
    ]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        for code in codes:
            await scan(pilot, code)
        entries = list(app.scan_screen.history.entries)
        assert len(entries) == 10
        assert entries[0].who == "P11 X"
        assert entries[-1].who == "P2 X"
        assert banner_text(app).startswith("✔ OK")
