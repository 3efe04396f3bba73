"""Every scanner set-up, fired while each screen shows: the scan flow runs, nothing else moves.

Bursts come through Textual's own terminal parser with no pause between keys
(faster than the 2-10 ms of a real scanner). The badge code contains keys that
are bindings somewhere (1 picks in the picker, r opens it, y and n answer the
quit question, q): none of them may act.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from station.models import CheckIn, ProductRedemption, ScanLog
from station.pins import hash_pin
from station.scanflow.keys import STALE_AFTER_S
from station.scanner import ScannerProfile
from station.tui.app import StationApp
from station.tui.kiosk import SupervisorPinScreen
from station.tui.screens.badge import BadgeScreen
from station.tui.screens.confirm import ConfirmScreen
from station.tui.screens.lookup import LookupScreen
from station.tui.screens.picker import PickerScreen
from station.tui.screens.scan import ScanScreen
from tests.builders import Built
from tests.tui.conftest import (
    Station,
    badge_shown,
    banner_text,
    finish_escapes,
    picker_shown,
    scan,
    screen_text,
    send_burst,
    started,
    wait_for,
)

SCREENS = ["scan", "badge", "picker", "lookup", "quit"]
BOB = "1RYQN7"  # every letter a binding on some screen


async def show(pilot: Pilot[Any], where: str, ada: Built) -> None:
    """Bring up one screen the way a volunteer would."""
    app = pilot.app
    assert isinstance(app, StationApp)
    if where in ("badge", "picker"):
        await scan(pilot, ada.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "Ada's badge")
    if where == "picker":
        await pilot.press("r")
        await wait_for(pilot, lambda: picker_shown(app), "the picker")
    if where == "lookup":
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
        await pilot.press(*"lov")
        field = app.screen.query_one("#lookup-input", Input)
        await wait_for(pilot, lambda: field.value == "lov", "typed text in the search box")
    if where == "quit":
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")


def people(station: Station) -> tuple[Built, Built]:
    station.conf.addon("lunch", "Lunch")
    ada = station.conf.attendee(code="ADA1", first_name="Ada", last_name="A", addons={"lunch": 2})
    bob = station.conf.attendee(code=BOB, first_name="Bob", last_name="B")
    return ada, bob


async def bob_was_scanned(pilot: Pilot[Any], station: Station, where: str, shown: str) -> None:
    """The scan flow ran for Bob, and nothing else happened."""
    app = pilot.app
    assert isinstance(app, StationApp)
    assert shown.splitlines()[:2] == ["✔ OK — CHECKED IN", "Bob B"]
    assert app.is_running
    if where == "quit":
        assert isinstance(app.screen, ConfirmScreen)  # still asked, not answered by a "y"
    else:
        await wait_for(pilot, lambda: badge_shown(app, "Bob B"), "Bob's badge")
    assert not any(isinstance(s, PickerScreen | LookupScreen) for s in app.screen_stack)
    assert app.scan_screen.scan_input.value == ""
    assert station.count(CheckIn, attendee_id=station_bob(station)) == 1
    assert station.count(ProductRedemption) == 0
    assert station.count(CheckIn) == (2 if where in ("badge", "picker") else 1)


def station_bob(station: Station) -> int:
    return station.bob.attendee_id  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("where", SCREENS)
async def test_qr_url_with_aim_id_and_tab_terminator(station: Station, where: str) -> None:
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app(scanner=ScannerProfile(terminator="tab"))
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, where, ada)
        shown = await scan(pilot, f"]Q1https://example.org/checkin/{BOB}", terminator="\t")
        await bob_was_scanned(pilot, station, where, shown)


@pytest.mark.parametrize("where", SCREENS)
async def test_lower_case_burst(station: Station, where: str) -> None:
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, where, ada)
        shown = await scan(pilot, BOB.lower())
        await bob_was_scanned(pilot, station, where, shown)


@pytest.mark.parametrize("where", [w for w in SCREENS if w != "lookup"])
async def test_bracketed_paste_is_a_scan(station: Station, where: str) -> None:
    """Some scanners and bridges paste; the Enter some of them add picks nothing.
    (In the lookup's search box a paste is search text: see the next test.)"""
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, where, ada)
        shown = await scan(pilot, f"\x1b[200~{BOB}\x1b[201~", terminator="\r")
        await bob_was_scanned(pilot, station, where, shown)


async def test_a_paste_in_the_lookup_is_search_text_and_its_enter_picks_nothing(
    station: Station,
) -> None:
    """Issue #16: a volunteer pasting a name into the search box is searching, not scanning;
    a scanner that pastes there puts the code in the box (the search finds it by code), and
    nothing is checked in or logged until a row is chosen."""
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, "lookup", ada)
        field = app.screen.query_one("#lookup-input", Input)
        field.value = ""
        await finish_escapes(app, send_burst(app, f"\x1b[200~{BOB}\x1b[201~\r"))
        await wait_for(pilot, lambda: field.value == BOB, "the pasted code in the search box")
        results = app.screen.query_one("#lookup-results", OptionList)
        await wait_for(pilot, lambda: results.option_count == 1, "Bob found by his code")
        await pilot.pause(0.1)
        assert isinstance(app.screen, LookupScreen)
        assert results.highlighted is None
    assert station.count(CheckIn) == 0
    assert station.count(ScanLog) == 0


@pytest.mark.parametrize("where", ["scan", "badge", "picker"])
async def test_scanner_without_a_terminator_ends_by_timing(station: Station, where: str) -> None:
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app(scanner=ScannerProfile(terminator="none"))
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, where, ada)
        shown = await scan(pilot, BOB, terminator="")
        await bob_was_scanned(pilot, station, where, shown)


@pytest.mark.parametrize("where", ["scan", "picker"])
async def test_crlf_and_a_tab_suffix_before_enter_pick_nothing(
    station: Station, where: str
) -> None:
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    for profile, ending in ((ScannerProfile(terminator="crlf"), "\r\n"), (None, "\t\r")):
        settings = {"scanner": profile} if profile else {}
        app = station.app(**settings)
        async with app.run_test() as pilot:
            await started(pilot)
            await show(pilot, where, ada)
            shown = await scan(pilot, BOB, terminator=ending)
            await pilot.pause(0.1)
            assert shown.startswith(("✔ OK — CHECKED IN", "▲ RE-ENTRY"))
            assert station.count(ProductRedemption) == 0


@pytest.mark.parametrize("where", SCREENS)
async def test_control_bytes_fire_no_binding(station: Station, where: str) -> None:
    """GS (0x1D, a GS1 separator) is dropped; DLE (ctrl+p) and DC1 (ctrl+q) refuse the scan."""
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, where, ada)
        shown = await scan(pilot, f"\x11{BOB[:3]}\x10{BOB[3:]}")
        assert shown.startswith("✖ REFUSED — NOT A BADGE")
        assert "control characters" in shown
        assert app.is_running
        assert sum(isinstance(s, ConfirmScreen) for s in app.screen_stack) == (where == "quit")
        shown = await scan(pilot, f"\x1d{BOB}\x1d")
        await bob_was_scanned(pilot, station, where, shown)
    assert station.count(ScanLog, reason="invalid_input") == 1


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("AB\x1b[2JCD", id="csi-clear-screen"),
        pytest.param("AB\x00CD", id="nul"),
        pytest.param("\x1b]0;pwned\x07ABCD", id="osc-title"),
        pytest.param("A" * 10_000, id="ten-thousand-characters"),
    ],
)
async def test_hostile_bursts_on_the_picker_redeem_nothing(station: Station, payload: str) -> None:
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, "picker", ada)
        shown = await scan(pilot, payload)
        assert shown.startswith("✖ REFUSED — NOT A BADGE")
        assert "\x1b" not in shown and "\x00" not in shown
        assert isinstance(app.screen, ScanScreen)
        assert app.scan_screen.scan_input.value == ""
    assert station.count(ProductRedemption) == 0
    assert station.count(CheckIn) == 1  # Ada's, before the picker


async def verdict_after(pilot: Pilot[Any], seq: int) -> str:
    """Wait for the verdict of a scan sent by hand; return the banner text."""
    app = pilot.app
    assert isinstance(app, StationApp)
    await wait_for(pilot, lambda: app.shown_seq > seq and not app.scanning, "the verdict")
    await pilot.pause()
    return banner_text(app)


async def send_in_ticks(
    pilot: Pilot[Any], text: str, *, per_tick: int, tick_s: float, late_s: float
) -> None:
    """Keys as they reach a station over SSH: a few per 20 ms tick, the second tick late."""
    app = pilot.app
    assert isinstance(app, StationApp)
    chunks = [text[i : i + per_tick] for i in range(0, len(text), per_tick)]
    for n, chunk in enumerate(chunks):
        send_burst(app, chunk)
        await asyncio.sleep(late_s if n == 1 else tick_s)


@pytest.mark.parametrize("where", ["scan", "lookup", "badge"])
async def test_a_burst_split_by_ssh_ticks_and_jitter_is_one_scan(
    station: Station, where: str
) -> None:
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, where, ada)
        seq = app.shown_seq
        code = f"]Q1https://example.org/checkin/{BOB}\r"
        await send_in_ticks(pilot, code, per_tick=4, tick_s=0.02, late_s=0.08)
        await bob_was_scanned(pilot, station, where, await verdict_after(pilot, seq))


async def test_a_split_first_key_on_the_scan_screen_is_put_back_in_front(
    station: Station,
) -> None:
    """One key alone in the first tick reaches the field as typing; the scan still reads
    the whole code."""
    station.bob = people(station)[1]  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        seq = app.shown_seq
        send_burst(app, BOB[0])
        await asyncio.sleep(0.08)
        send_burst(app, BOB[1:] + "\r")
        await bob_was_scanned(pilot, station, "scan", await verdict_after(pilot, seq))


@pytest.mark.parametrize("first", [1, 2, 3])
async def test_a_split_burst_is_one_scan_when_its_pieces_are_handled_back_to_back(
    station: Station, first: int
) -> None:
    """The keys came in two pieces, more than the gap apart, while the app was busy (a
    repaint, a garbage collection): once it gets to them, it handles both pieces in one
    go. The first piece reaches the field as typing; the scan still reads the whole code,
    and nothing is left in the field to spoil the next scan."""
    station.bob = people(station)[1]  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        seq = app.shown_seq
        send_burst(app, BOB[:first])
        time.sleep(app.router.gap * 2)  # the event loop is blocked: nothing is handled
        send_burst(app, BOB[first:] + "\r")
        await bob_was_scanned(pilot, station, "scan", await verdict_after(pilot, seq))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        assert app.scan_screen.scan_input.value == ""
    assert station.count(ScanLog, reason="not_found") == 0


async def test_a_person_pressing_tab_moves_nothing(station: Station) -> None:
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, "picker", ada)
        options = app.screen.query_one(OptionList)
        await pilot.press("tab", "tab")
        await pilot.pause(0.1)
        assert app.focused is options
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, BadgeScreen), "the badge")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        await pilot.press(*BOB.lower(), "tab")  # typed by hand, Tab instead of Enter
        await wait_for(pilot, lambda: badge_shown(app, "Bob B"), "Bob's badge")
    assert station.count(CheckIn, attendee_id=station.bob.attendee_id) == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("profile", "burst"),
    [
        pytest.param(ScannerProfile(terminator="tab"), f"{BOB}\t\r", id="tab-then-enter"),
        pytest.param(ScannerProfile(terminator="crlf"), f"{BOB}\r\n", id="crlf"),
        pytest.param(ScannerProfile(), f"\x1b[200~{BOB}\x1b[201~\r", id="paste-then-enter"),
    ],
)
async def test_the_end_of_a_scan_at_sign_in_picks_no_operator(
    station: Station, profile: ScannerProfile, burst: str
) -> None:
    """The framing after a scan must not reach the highlighted operator as an Enter."""
    station.conf.staff("Bea")
    people(station)
    app = station.app(operator=None, scanner=profile)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: bool(app.screen.query("#staff-list")), "the staff list")
        options = app.screen.query_one("#staff-list", OptionList)
        await wait_for(pilot, lambda: options.option_count == 2, "two operators")
        await finish_escapes(app, send_burst(app, burst))
        await wait_for(pilot, lambda: "Sign in first" in screen_text(app), "the hint")
        await pilot.pause(0.2)
        assert not app.ready and app.operator is None
    assert station.count(CheckIn) == 0


async def test_a_burst_at_the_supervisor_pin_prompt_is_a_scan_not_a_pin(station: Station) -> None:
    station.bob = people(station)[1]  # type: ignore[attr-defined]
    app = station.app(kiosk=True, supervisor_pin_hash=hash_pin("4711"))
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, SupervisorPinScreen), "PIN prompt")
        prompt = app.screen
        assert isinstance(prompt, SupervisorPinScreen)
        await pilot.press("4")  # the supervisor had started typing
        await wait_for(pilot, lambda: prompt.pin_input.value == "4", "the digit in the field")
        shown = await scan(pilot, BOB)
        assert shown.splitlines()[:2] == ["✔ OK — CHECKED IN", "Bob B"]
        assert app.screen is prompt and prompt.attempts == 0
        assert prompt.pin_input.value == "4"
        assert app.is_running
    assert station.count(CheckIn, attendee_id=station.bob.attendee_id) == 1  # type: ignore[attr-defined]


async def test_a_burst_at_the_operator_pin_prompt_is_not_a_pin(station: Station) -> None:
    station.conf.staff("Bea", pin="1357")
    people(station)
    app = station.app(operator="Bea")
    async with app.run_test() as pilot:
        pin = app.screen.query_one("#pin-input", Input)
        await wait_for(pilot, lambda: pin.display and app.focused is pin, "Bea's PIN prompt")
        await finish_escapes(app, send_burst(app, BOB + "\r"))
        await wait_for(pilot, lambda: "Sign in first" in screen_text(app), "the hint")
        assert pin.value == ""
        assert not app.ready
        await pilot.press(*"1357", "enter")
        await wait_for(pilot, lambda: app.ready, "Bea signed in")
        assert app.operator is not None and app.operator.name == "Bea"
    assert station.count(CheckIn) == 0


@pytest.mark.parametrize("where", ["scan", "picker"])
async def test_a_tab_suffix_on_a_station_set_up_for_enter_still_scans(
    station: Station, where: str
) -> None:
    """Set up wrongly: the code waits for an Enter that never comes, then goes through."""
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, where, ada)
        started_at = asyncio.get_running_loop().time()
        shown = await scan(pilot, f"]Q1https://example.org/checkin/{BOB}", terminator="\t")
        assert asyncio.get_running_loop().time() - started_at >= STALE_AFTER_S * 0.9
        await bob_was_scanned(pilot, station, where, shown)


async def test_keys_typed_fast_into_the_scan_field_are_text_not_bindings(
    station: Station,
) -> None:
    """Two keys that came together (rollover, or a burst cut short by the network) are
    released as typing: the "/" after a letter does not open the lookup."""
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        send_burst(app, "a/")
        field = app.scan_screen.scan_input
        await wait_for(pilot, lambda: field.value == "a/", "the typed text")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ScanScreen)
        assert field.value == "a/"


@pytest.mark.parametrize("where", ["scan", "badge", "picker", "quit"])
async def test_a_burst_at_real_scanner_speed(station: Station, where: str) -> None:
    """One key every 8 ms, as a slow USB scanner types (the other tests send them at once)."""
    ada, station.bob = people(station)  # type: ignore[attr-defined]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await show(pilot, where, ada)
        seq = app.shown_seq
        for character in BOB.lower() + "\r":
            send_burst(app, character)
            await asyncio.sleep(0.008)
        await bob_was_scanned(pilot, station, where, await verdict_after(pilot, seq))
