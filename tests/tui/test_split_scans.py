"""A scan whose first key arrives alone, and a person's lone key, on every screen with choices.

An SSH link often delivers a scan's first key on its own and the rest 20–45 ms
later. On a screen whose keys are choices (the picker's digits, the badge
preview's r, the quit question's y and n) that first key must wait for its
followers and stay part of the code; a person's lone key still acts, after the
short wait (LONE_KEY_WAIT_S). A key that writes or ends the station (a digit, y, n)
waits longer (DECISIVE_KEY_WAIT_S), so a scan whose rest was lost once and sent again
(TCP retransmits after 200 ms or more) redeems nothing for the last person. On the
lookup a short first piece that already reached the search box is taken back out and
scanned with the rest. Characters
in front of a code that are not printable (a bidi override, a zero-width space,
an ESC) are part of what was scanned: the scan is refused, never accepted as
the bare code.

Timing here is real time: the router compares the keys' own time stamps, so the
test sleeps between the pieces. Only lower bounds are asserted (the machine is
noisy; it can be slow, never early).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from textual import events
from textual._xterm_parser import XTermParser
from textual.pilot import Pilot

from station.domain import Mode
from station.models import CheckIn, ProductRedemption, ScanLog
from station.scanflow.keys import DECISIVE_KEY_WAIT_S, LONE_KEY_WAIT_S
from station.tui.app import StationApp
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
    picker_shown,
    scan,
    send_burst,
    started,
    wait_for,
)

DELAYS = [pytest.param(0.035, id="35ms"), pytest.param(0.045, id="45ms")]
# On a screen with choices the first key waits LONE_KEY_WAIT_S: a split a little later
# than SSH's 45 ms (the event loop's jitter) must still be one scan (a 45 ms split once
# reached the app 52 ms apart in CI and picked product 2).
BINDING_DELAYS = [*DELAYS, pytest.param(0.065, id="65ms")]
# A key whose action writes a record or ends the station (the picker's digits, the
# question's y) waits DECISIVE_KEY_WAIT_S: a lost packet's rest arrives after TCP's
# retransmission timeout (200 ms at least on Linux), not within an SSH tick.
DECISIVE_DELAYS = [*BINDING_DELAYS, pytest.param(0.15, id="150ms"), pytest.param(0.24, id="240ms")]


def zoe_and(station: Station, code: str, *, mode: Mode = Mode.CHECKIN) -> tuple[Built, Built]:
    """Zoe brings up the screen (two products, so digits 1 and 2 both pick one); the
    other attendee's code is the one scanned in two pieces."""
    station.conf.addon("lunch", "Lunch")
    station.conf.addon("tshirt", "T-Shirt")
    station.settings = replace(station.settings, mode=mode, product=None)
    zoe = station.conf.attendee(
        code="ZOE1", first_name="Zoe", last_name="Z", addons={"lunch": 2, "tshirt": 1}
    )
    other = station.conf.attendee(
        code=code, first_name="Bob", last_name="B", addons={"lunch": 1, "tshirt": 1}
    )
    return zoe, other


async def settle(pilot: Pilot[Any]) -> None:
    """Let the screen that just came up finish painting. The test sends keys on the app's
    own event loop, so a busy app would delay the second piece past the gap under test
    (a real terminal stamps keys on its own thread, whatever the app is doing)."""
    await pilot.pause(0.2)
    await pilot.pause()


async def split_scan(pilot: Pilot[Any], first: str, rest: str, delay: float) -> float:
    """The first piece alone, the rest ``delay`` seconds later; returns the real gap."""
    app = pilot.app
    assert isinstance(app, StationApp)
    await settle(pilot)
    sent = time.monotonic()
    send_burst(app, first)
    # The app routes the first key meanwhile. A loaded machine wakes a sleep late (a 10 ms
    # margin once gave a 53 ms gap for 45), so sleep to 25 ms before, then wait on time.
    await asyncio.sleep(max(delay - 0.025, 0.0))
    while time.monotonic() - sent < delay:  # on time to the millisecond
        pass
    gap = time.monotonic() - sent
    send_burst(app, rest + "\r")
    return gap


async def answered(pilot: Pilot[Any], seq_before: int) -> str:
    app = pilot.app
    assert isinstance(app, StationApp)
    await wait_for(
        pilot, lambda: app.shown_seq > seq_before and not app.scanning, "the scan's verdict"
    )
    await pilot.pause(0.2)  # a lone key that acted late would show by now
    return banner_text(app)


def logged_codes(station: Station) -> list[str]:
    with station.db.sessions() as s:
        return [row.code.upper() for row in s.scalars(select(ScanLog).order_by(ScanLog.id))]


async def badge_up(pilot: Pilot[Any], zoe: Built) -> StationApp:
    app = await started(pilot)
    await scan(pilot, zoe.access_code)
    await wait_for(pilot, lambda: badge_shown(app, "Zoe Z"), "Zoe's badge")
    return app


async def picker_up(pilot: Pilot[Any], zoe: Built, where: str) -> StationApp:
    """The picker for Zoe: from her badge (a desk) or straight after the scan (a meal line)."""
    app = await started(pilot)
    if where == "badge-picker":
        await badge_up(pilot, zoe)
        await pilot.press("r")
        await wait_for(pilot, lambda: picker_shown(app), "the picker")
    else:
        await scan(pilot, zoe.access_code, until=lambda: isinstance(app.screen, PickerScreen))
    return app


# ----------------------------------------------------------------- split scans


@pytest.mark.parametrize("delay", DECISIVE_DELAYS)
@pytest.mark.parametrize("where", ["meal-picker", "badge-picker"])
async def test_digit_first_code_split_on_the_picker_redeems_nothing_for_the_last_person(
    station: Station, where: str, delay: float
) -> None:
    """On the picker, a code starting with "2" whose first key came alone is a new scan
    of the whole code; Zoe's product 2 is not redeemed."""
    mode = Mode.MEAL if where == "meal-picker" else Mode.CHECKIN
    zoe, bob = zoe_and(station, "2BOB", mode=mode)
    app = station.app()
    async with app.run_test() as pilot:
        await picker_up(pilot, zoe, where)
        seq = app.shown_seq
        gap = await split_scan(pilot, "2", "bob", delay)
        shown = await answered(pilot, seq)
        assert "Bob B" in shown, f"gap {gap:.3f}s: {shown}"
        if where == "meal-picker":
            await wait_for(
                pilot,
                lambda: isinstance(app.screen, PickerScreen) and app.screen.code == "2BOB",
                "the picker for Bob",
            )
        else:
            assert shown.startswith("✔ OK — CHECKED IN"), shown
        assert app.is_running
    assert station.count(ProductRedemption) == 0
    assert "2" not in logged_codes(station)
    if where == "badge-picker":
        assert station.count(CheckIn, attendee_id=bob.attendee_id) == 1


@pytest.mark.parametrize("delay", DECISIVE_DELAYS)
@pytest.mark.parametrize("first", ["y", "n"])
async def test_answer_key_first_code_split_on_the_quit_question_is_one_scan(
    station: Station, first: str, delay: float
) -> None:
    """A lower-case code starting with y (or n) whose first key came alone neither quits
    nor answers the question: it is checked in as one code."""
    _zoe, yves = zoe_and(station, f"{first.upper()}VES1")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        seq = app.shown_seq
        gap = await split_scan(pilot, first, "ves1", delay)
        await answered(pilot, seq)
        assert app.is_running, f"gap {gap:.3f}s"
        assert isinstance(app.screen, ConfirmScreen), "the question is still asked"
        assert app.verdict.subject == "Bob B"
        assert app.verdict.word == "OK"
    assert station.count(CheckIn, attendee_id=yves.attendee_id) == 1
    assert logged_codes(station) == [yves.access_code]


@pytest.mark.parametrize("delay", BINDING_DELAYS)
async def test_r_first_code_split_on_the_badge_preview_is_one_scan(
    station: Station, delay: float
) -> None:
    """On the badge preview, a code starting with r whose first key came alone does not
    open the picker: the whole code is scanned once."""
    zoe, rex = zoe_and(station, "REX1")
    app = station.app()
    async with app.run_test() as pilot:
        await badge_up(pilot, zoe)
        seq = app.shown_seq
        gap = await split_scan(pilot, "r", "ex1", delay)
        shown = await answered(pilot, seq)
        assert shown.startswith("✔ OK — CHECKED IN"), f"gap {gap:.3f}s: {shown}"
        await wait_for(pilot, lambda: badge_shown(app, "Bob B"), "Rex's badge (named Bob B)")
        assert not any(isinstance(s, PickerScreen) for s in app.screen_stack)
    assert station.count(CheckIn, attendee_id=rex.attendee_id) == 1
    assert logged_codes(station) == [zoe.access_code, rex.access_code]


async def test_the_rest_of_a_code_arriving_as_its_first_key_goes_to_the_field_follows_it(
    station: Station,
) -> None:
    """On the badge preview a lone "y" waited out LONE_KEY_WAIT_S: a person typing, so it
    goes to the scan field. The rest of the code arrives at the very moment the key is
    handed over (held back here until then, as a stalled SSH link or a loaded machine
    delivers it): it follows the "y" into the field, and the whole code is scanned; it
    is not scanned alone while the "y" is left in the field."""
    zoe, yan = zoe_and(station, "YAN1")
    app = station.app()
    async with app.run_test() as pilot:
        await badge_up(pilot, zoe)
        seq = app.shown_seq
        handed_over = app._replay
        rest = "an1\r"

        async def rest_right_behind(keys: list[events.Key]) -> None:
            nonlocal rest
            await handed_over(keys)
            if keys:  # queued at once: no later than the key's trip to the screen
                for event in XTermParser().feed(rest):
                    app.post_message(event)
                rest = ""

        app._replay = rest_right_behind  # type: ignore[method-assign]
        send_burst(app, "y")
        shown = await answered(pilot, seq)
        assert shown.startswith("✔ OK — CHECKED IN"), shown
        assert app.scan_screen.scan_input.value == ""
    assert station.count(CheckIn, attendee_id=yan.attendee_id) == 1
    assert logged_codes(station) == [zoe.access_code, yan.access_code]


async def lookup_split(station: Station, code: str, piece: int, delay: float) -> None:
    """Open the lookup, scan ``code`` in two pieces; the whole code is checked in once and
    nothing of it stays in the search box."""
    _zoe, bob = zoe_and(station, code)
    typed = bob.access_code.lower()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
        lookup = app.screen
        assert isinstance(lookup, LookupScreen)
        search = lookup.search_input
        seq = app.shown_seq
        gap = await split_scan(pilot, typed[:piece], typed[piece:], delay)
        shown = await answered(pilot, seq)
        assert shown.splitlines()[:2] == ["✔ OK — CHECKED IN", "Bob B"], f"gap {gap:.3f}s"
        assert search.value == ""
        assert not any(isinstance(s, LookupScreen) for s in app.screen_stack)
        assert app.scan_screen.scan_input.value == ""
    assert station.count(CheckIn, attendee_id=bob.attendee_id) == 1
    assert logged_codes(station) == [bob.access_code]


@pytest.mark.parametrize("delay", DELAYS)
@pytest.mark.parametrize("piece", [1, 2, 3])
async def test_a_short_first_piece_on_the_lookup_is_scanned_with_the_rest(
    station: Station, piece: int, delay: float
) -> None:
    """On the lookup, the first 1–3 keys of a code arriving before the rest do not stay
    in the search box: the whole code is scanned, once."""
    await lookup_split(station, "BOB7X2Q9K4", piece, delay)


@pytest.mark.parametrize("delay", DELAYS)
async def test_a_short_code_split_in_halves_on_the_lookup_is_one_scan(
    station: Station, delay: float
) -> None:
    """A six-character code split 3 + 3: neither piece alone is a scanner's run of keys,
    together they are; the whole code is scanned, the search box keeps nothing."""
    await lookup_split(station, "BOB7X2", 3, delay)


# ------------------------------------------------------- a person's lone key


async def lone_key(pilot: Pilot[Any], key: str, acted: Any, what: str) -> float:
    """Press one key the way a terminal sends it; seconds until ``acted()``."""
    app = pilot.app
    assert isinstance(app, StationApp)
    sent = time.monotonic()
    send_burst(app, key)
    await wait_for(pilot, acted, what)
    return time.monotonic() - sent


async def test_a_lone_r_on_the_badge_preview_opens_the_picker(station: Station) -> None:
    """A person's r still opens the picker, after the short wait for followers."""
    zoe, _bob = zoe_and(station, "BOB1")
    app = station.app()
    async with app.run_test() as pilot:
        await badge_up(pilot, zoe)
        took = await lone_key(
            pilot, "r", lambda: isinstance(app.screen, PickerScreen), "the picker"
        )
        assert took >= LONE_KEY_WAIT_S * 0.9
        assert isinstance(app.screen, PickerScreen) and app.screen.code == zoe.access_code
    assert station.count(ScanLog) == 1  # Zoe's check-in; the r was no scan


@pytest.mark.parametrize("where", ["meal-picker", "badge-picker"])
async def test_a_lone_digit_on_the_picker_redeems_that_product(
    station: Station, where: str
) -> None:
    """A person's 2 on the picker redeems Zoe's product 2, once."""
    mode = Mode.MEAL if where == "meal-picker" else Mode.CHECKIN
    zoe, _bob = zoe_and(station, "BOB1", mode=mode)
    app = station.app()
    async with app.run_test() as pilot:
        await picker_up(pilot, zoe, where)
        took = await lone_key(
            pilot,
            "2",
            lambda: isinstance(app.screen, ScanScreen) and "T-SHIRT OK" in banner_text(app),
            "the t-shirt redemption",
        )
        assert took >= DECISIVE_KEY_WAIT_S * 0.9
    assert station.count(ProductRedemption) == 1
    assert station.count(ProductRedemption, order_line_item_id=zoe.line_items["tshirt"]) == 1


async def test_a_double_press_within_the_wait_on_the_picker_redeems_once(
    station: Station,
) -> None:
    """A person's 2 pressed twice 150 ms apart: no burst follows the second, so it is the
    same person pressing again, and product 2 is redeemed once."""
    zoe, _bob = zoe_and(station, "BOB1", mode=Mode.MEAL)
    app = station.app()
    async with app.run_test() as pilot:
        await picker_up(pilot, zoe, "meal-picker")
        seq = app.shown_seq
        await settle(pilot)
        send_burst(app, "2")
        await asyncio.sleep(0.15)
        send_burst(app, "2")
        shown = await answered(pilot, seq)
        assert shown.startswith("✔ T-SHIRT OK"), shown
        await pilot.pause(0.3)
        assert isinstance(app.screen, ScanScreen)
        assert app.screen.scan_input.value == ""  # the second press typed nothing
    assert station.count(ProductRedemption) == 1
    assert station.count(ProductRedemption, order_line_item_id=zoe.line_items["tshirt"]) == 1
    assert logged_codes(station) == [zoe.access_code]  # the redemption; the picker logs none


async def test_escape_right_after_a_digit_on_the_picker_takes_it_back(
    station: Station,
) -> None:
    """A person's 2 and then Esc 150 ms later, within the wait: they changed their mind.
    Nothing is redeemed and the picker closes."""
    zoe, _bob = zoe_and(station, "BOB1", mode=Mode.MEAL)
    app = station.app()
    async with app.run_test() as pilot:
        await picker_up(pilot, zoe, "meal-picker")
        await settle(pilot)
        send_burst(app, "2")
        await asyncio.sleep(0.15)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        await pilot.pause(DECISIVE_KEY_WAIT_S + 0.1)  # a digit that acted late would show
        assert app.is_running and isinstance(app.screen, ScanScreen)
    assert station.count(ProductRedemption) == 0


async def test_a_lone_y_on_the_quit_question_quits(station: Station) -> None:
    """A person's y still answers the quit question: the station exits."""
    zoe_and(station, "BOB1")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        took = await lone_key(pilot, "y", lambda: not app.is_running, "the app to exit")
        assert took >= DECISIVE_KEY_WAIT_S * 0.9
    assert app.return_code == 0
    assert station.count(ScanLog) == 0


async def test_a_lone_n_on_the_quit_question_keeps_the_station(station: Station) -> None:
    """A person's n answers no: the question closes, the station runs on."""
    zoe_and(station, "BOB1")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        took = await lone_key(
            pilot, "n", lambda: isinstance(app.screen, ScanScreen), "the scan screen"
        )
        assert took >= DECISIVE_KEY_WAIT_S * 0.9
        assert app.is_running
    assert station.count(ScanLog) == 0


# --------------------------------------------- characters the router must keep


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("\u202eBOB1", id="rtl-override"),
        pytest.param("\u200bBOB1", id="zero-width-space"),
        pytest.param("\x1bBOB1", id="esc-upper-case"),  # Alt+Shift+B
        pytest.param("\x1byan1", id="esc-lower-case"),  # Alt+Y
        pytest.param("\x1bbob1", id="esc-b"),  # the parser reads ESC b as ctrl+left
    ],
)
@pytest.mark.parametrize("where", ["scan", "badge"])
async def test_a_hidden_character_before_a_code_refuses_the_scan(
    station: Station, where: str, payload: str
) -> None:
    """A bidi override, zero-width space or ESC right before a valid code is part of what
    was scanned: REFUSED — NOT A BADGE, logged, and neither the bare code nor any part of
    it is accepted."""
    zoe, _bob = zoe_and(station, "BOB1")
    station.conf.attendee(code="YAN1", first_name="Yan", last_name="Y")
    station.conf.attendee(code="OB1", first_name="Obi", last_name="O")
    station.conf.attendee(code="AN1", first_name="Ann", last_name="A")
    app = station.app()
    async with app.run_test() as pilot:
        if where == "badge":
            await badge_up(pilot, zoe)
        else:
            await started(pilot)
        shown = await scan(pilot, payload)
        assert shown.startswith("✖ REFUSED — NOT A BADGE"), shown
        assert app.is_running
        assert not any(isinstance(s, PickerScreen | LookupScreen) for s in app.screen_stack)
        assert not isinstance(app.screen, BadgeScreen) or app.screen.badge is None
    assert station.count(CheckIn) == (1 if where == "badge" else 0)  # Zoe's only
    assert station.count(ScanLog, outcome="refused", reason="invalid_input") == 1
    assert station.count(ScanLog, outcome="accepted") == (1 if where == "badge" else 0)


@pytest.mark.postgres
@pytest.mark.parametrize("delay", DECISIVE_DELAYS)
async def test_split_scan_on_the_picker_on_postgres(pg_station: Station, delay: float) -> None:
    """The picker's split digit-first scan, on PostgreSQL: Bob checked in, nothing redeemed."""
    zoe, bob = zoe_and(pg_station, "2BOB")
    app = pg_station.app()
    async with app.run_test() as pilot:
        await picker_up(pilot, zoe, "badge-picker")
        seq = app.shown_seq
        gap = await split_scan(pilot, "2", "bob", delay)
        shown = await answered(pilot, seq)
        assert shown.startswith("✔ OK — CHECKED IN"), f"gap {gap:.3f}s: {shown}"
    assert pg_station.count(ProductRedemption) == 0
    assert pg_station.count(CheckIn, attendee_id=bob.attendee_id) == 1
