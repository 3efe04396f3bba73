"""Several codes in one terminal read: every one is scanned, answered and logged, in order.

A scanner on a busy USB hub, or any scanner over an SSH link, can deliver two,
three or ten codes in a single read ("CODE1\\rCODE2\\r…"). Whatever screen shows
when they arrive, each code gets exactly one verdict, one scan-log row (the same
code twice in one read shares the first one's answer), the records its mode
writes, in arrival order; "working…" clears and the station keeps running.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import select
from textual.pilot import Pilot
from textual.widgets import Static

from station.domain import Mode, OrderStatus
from station.models import CheckIn, DoorCheck, ProductRedemption, ScanLog
from station.tui.app import StationApp
from station.tui.screens.confirm import ConfirmScreen
from station.tui.screens.lookup import LookupScreen
from station.tui.screens.picker import PickerScreen
from station.tui.verdicts import Tone, Verdict
from tests.builders import Built
from tests.tui.conftest import (
    Station,
    badge_shown,
    picker_shown,
    scan,
    send_burst,
    send_stalled_burst,
    started,
    wait_for,
)

# Every valid code starts with a key bound somewhere (y/n answer the quit question,
# r opens the picker, digits pick a product); they are sent in lower case, as a
# scanner without caps lock types them.
VALID = ["YA01", "RB02", "NC03", "1D04", "2E05", "3F06", "9G07"]
UNKNOWN = "ZZ99X"
CANCELLED = "CX01"


@dataclass(frozen=True)
class Where:
    """One screen a read can arrive on, and what the station's mode writes."""

    mode: Mode
    product: str | None
    record: type
    """The table a valid scan writes to (nothing for the picker's look-up)."""
    ok_word: str
    """The verdict word of a valid code."""
    history_of_valid: bool = True
    """Whether a valid code's verdict goes into the history (a look-up does not)."""
    log_valid: bool = True
    """Whether a valid code writes a scan-log row (a look-up does not)."""


CHECKIN = Where(Mode.CHECKIN, None, CheckIn, "OK")
SCREENS: dict[str, Where] = {
    "scan": CHECKIN,
    "badge": CHECKIN,
    "badge-picker": CHECKIN,
    "lookup": CHECKIN,
    "quit": CHECKIN,
    "meal-picker": Where(
        Mode.MEAL, None, ProductRedemption, "CHOOSE", history_of_valid=False, log_valid=False
    ),
    "meal": Where(Mode.MEAL, "lunch", ProductRedemption, "OK"),
    "door": Where(Mode.DOOR, "addon:lunch", DoorCheck, "ADMITTED"),
}


@dataclass(frozen=True)
class Person:
    code: str
    name: str
    kind: str
    """valid, unknown or cancelled."""


def the_read(n: int) -> list[Person]:
    """N codes: valid ones, an unknown one, a cancelled order's, and one code twice."""
    valid = [Person(c, f"{c} Person", "valid") for c in VALID]
    mix = [
        valid[0],
        Person(UNKNOWN, "", "unknown"),
        Person(CANCELLED, "Carl Cancelled", "cancelled"),
        valid[0],
        *valid[1:],
    ]
    return mix[:n]


def conference(station: Station, where: Where) -> Built:
    """The attendees of every read, and Zoe, who brings up the screen; returns Zoe."""
    station.conf.addon("lunch", "Lunch")
    station.settings = replace(station.settings, mode=where.mode, product=where.product)
    for code in VALID:
        station.conf.attendee(code=code, first_name=code, last_name="Person", addons={"lunch": 2})
    station.conf.attendee(
        code=CANCELLED,
        first_name="Carl",
        last_name="Cancelled",
        status=OrderStatus.CANCELLED,
        addons={"lunch": 1},
    )
    return station.conf.attendee(code="ZOE1", first_name="Zoe", last_name="Z", addons={"lunch": 2})


async def bring_up(pilot: Pilot[Any], where: str, zoe: Built) -> None:
    """Show the screen the read arrives on, the way a volunteer gets there."""
    app = pilot.app
    assert isinstance(app, StationApp)
    if where in ("badge", "badge-picker"):
        await scan(pilot, zoe.access_code)
        await wait_for(pilot, lambda: badge_shown(app, "Zoe Z"), "Zoe's badge")
    if where == "badge-picker":
        await pilot.press("r")
        await wait_for(pilot, lambda: picker_shown(app), "the picker")
    if where == "meal-picker":
        await scan(pilot, zoe.access_code, until=lambda: isinstance(app.screen, PickerScreen))
    if where == "lookup":
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
    if where == "quit":
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")


def spy_on_verdicts(app: StationApp) -> list[Verdict]:
    """Every verdict the scan flow shows from now on (banner and history share this call)."""
    screen = app.scan_screen
    real = screen.show_outcome
    shown: list[Verdict] = []

    def show_outcome(verdict: Verdict, entry: tuple[str, str] | None) -> None:
        shown.append(verdict)
        real(verdict, entry)

    screen.show_outcome = show_outcome  # type: ignore[method-assign]
    return shown


def expected_verdict(person: Person, where: Where, first_time: bool) -> tuple[str, str, str]:
    """(word, headline of a refusal, subject) of one code's verdict."""
    if not first_time:
        return ("JUST SCANNED", "", person.name)
    if person.kind == "unknown":
        return ("REFUSED", "UNKNOWN BADGE", f"Badge {person.code}")
    if person.kind == "cancelled":
        return ("REFUSED", "ORDER CANCELLED", f"{person.name} · badge {person.code}")
    return (where.ok_word, "", person.name)


def described(verdict: Verdict) -> tuple[str, str, str]:
    headline = verdict.headline if verdict.tone is Tone.REFUSED else ""
    return (verdict.word, headline, verdict.subject)


def scan_log_after(station: Station, last_id: int) -> list[tuple[str, str]]:
    """(code, outcome) of the scan-log rows written after ``last_id``, oldest first."""
    with station.db.sessions() as s:
        rows = s.scalars(select(ScanLog).where(ScanLog.id > last_id).order_by(ScanLog.id))
        return [(row.code.upper(), row.outcome) for row in rows]


def last_scan_log_id(station: Station) -> int:
    with station.db.sessions() as s:
        return max(s.scalars(select(ScanLog.id)), default=0)


def working_text(app: StationApp) -> str:
    return str(app.scan_screen.query_one("#working", Static).render())


async def read_codes(
    pilot: Pilot[Any], codes: list[str], shown: list[Verdict], *, total: int | None = None
) -> None:
    """All codes in one read; wait until ``total`` verdicts (one per code unless told)
    were shown and nothing is in flight."""
    app = pilot.app
    assert isinstance(app, StationApp)
    total = len(shown) + len(codes) if total is None else total
    send_burst(app, "".join(code.lower() + "\r" for code in codes))
    await wait_for(
        pilot,
        lambda: len(shown) >= total and not app.scanning,
        f"{total} verdicts",
        timeout=15.0,
    )
    await pilot.pause(0.3)  # a verdict too many would show by now


@pytest.mark.parametrize("n", [2, 10])  # 10 begins with what 3 would send
@pytest.mark.parametrize("where", list(SCREENS))
async def test_every_code_of_one_read_gets_one_verdict_one_log_row_in_order(
    any_station: Station, where: str, n: int
) -> None:
    """N codes in one read on any screen: one verdict and one scan-log row each, in
    arrival order, the right records, the repeated code answered as JUST SCANNED."""
    mode = SCREENS[where]
    zoe = conference(any_station, mode)
    people = the_read(n)
    app = any_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await bring_up(pilot, where, zoe)
        records_before = any_station.count(mode.record)
        log_before = last_scan_log_id(any_station)
        history_before = len(app.scan_screen.history.entries)
        shown = spy_on_verdicts(app)
        await read_codes(pilot, [p.code for p in people], shown)

        seen: set[str] = set()
        expected: list[tuple[str, str, str]] = []
        for person in people:
            expected.append(expected_verdict(person, mode, person.code not in seen))
            seen.add(person.code)
        assert [described(v) for v in shown] == expected

        # The history: one row per scan answered by the database, oldest at the bottom.
        firsts = [p for i, p in enumerate(people) if p not in people[:i]]
        in_history = [p for p in firsts if mode.history_of_valid or p.kind != "valid"]
        entries = list(app.scan_screen.history.entries)[: len(in_history)][::-1]
        assert len(app.scan_screen.history.entries) - history_before == len(in_history)
        assert [(e.who, described(e.verdict)) for e in entries] == [
            (p.name or f"Badge {p.code}", expected_verdict(p, mode, True)) for p in in_history
        ]

        assert not app.scanning
        assert working_text(app) == ""
        assert app.is_running
        if where == "quit":
            assert isinstance(app.screen, ConfirmScreen), "the question is still asked"
        if where == "meal-picker" and people[-1].kind == "valid" and len(firsts) == len(people):
            await wait_for(
                pilot,
                lambda: isinstance(app.screen, PickerScreen) and app.screen.code == people[-1].code,
                "the picker for the last code",
            )

    logged = [p for p in firsts if mode.log_valid or p.kind != "valid"]
    outcome = {"valid": "accepted", "unknown": "refused", "cancelled": "refused"}
    assert scan_log_after(any_station, log_before) == [(p.code, outcome[p.kind]) for p in logged]
    valid_codes = {p.code for p in people if p.kind == "valid"}
    written = 0 if where == "meal-picker" else len(valid_codes)
    assert any_station.count(mode.record) - records_before == written


@pytest.mark.parametrize("where", list(SCREENS))
async def test_the_same_code_twice_in_one_read_is_one_record_and_two_verdicts(
    any_station: Station, where: str
) -> None:
    """A code repeated within one read (a scanner's double read): the second shares the
    first one's answer, shown as JUST SCANNED; one record, one scan-log row."""
    mode = SCREENS[where]
    zoe = conference(any_station, mode)
    app = any_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await bring_up(pilot, where, zoe)
        records_before = any_station.count(mode.record)
        log_before = last_scan_log_id(any_station)
        shown = spy_on_verdicts(app)
        await read_codes(pilot, [VALID[0], VALID[0]], shown)
        assert [(v.word, v.subject) for v in shown] == [
            (mode.ok_word, f"{VALID[0]} Person"),
            ("JUST SCANNED", f"{VALID[0]} Person"),
        ]
        assert app.is_running and not app.scanning
    written = 0 if where == "meal-picker" else 1
    assert any_station.count(mode.record) - records_before == written
    assert len(scan_log_after(any_station, log_before)) == (1 if mode.log_valid else 0)


@pytest.mark.parametrize("cut", [1, 6], ids=["first-key-alone", "second-code-first-key-alone"])
@pytest.mark.parametrize("where", list(SCREENS))
async def test_a_read_whose_keys_were_stamped_apart_is_still_every_code_in_order(
    station: Station, where: str, cut: int
) -> None:
    """On a loaded machine the process can stall while one read's keys are parsed: a
    key is stamped 120 ms before the rest (more than the lone-key wait and the split
    window), yet all reach the app together. No key is handed to the screen on its own
    (a "y" answering the quit question, an "r" opening the picker, a letter typed into a
    field the rest of its code never reaches): three codes, three verdicts, in order."""
    mode = SCREENS[where]
    zoe = conference(station, mode)
    people = the_read(1) + [Person(c, f"{c} Person", "valid") for c in VALID[1:3]]
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await bring_up(pilot, where, zoe)
        shown = spy_on_verdicts(app)
        text = "".join(p.code.lower() + "\r" for p in people)
        send_stalled_burst(app, [text[:cut], text[cut:]], stall_s=0.12)
        await wait_for(pilot, lambda: len(shown) >= len(people) and not app.scanning, "3 verdicts")
        await pilot.pause(0.3)  # a verdict too many would show by now
        assert [described(v) for v in shown] == [expected_verdict(p, mode, True) for p in people]
        assert app.is_running
        if where == "quit":
            assert isinstance(app.screen, ConfirmScreen), "the question is still asked"
        assert app.scan_screen.scan_input.value == "", "no key was left in the scan field"


@pytest.mark.parametrize("where", ["scan", "badge", "meal-picker", "quit"])
async def test_reads_one_after_another_are_all_answered(station: Station, where: str) -> None:
    """A second read arriving while the first one's scans are still in flight is not
    lost behind it: 3 + 3 codes, six verdicts, in order."""
    mode = SCREENS[where]
    zoe = conference(station, mode)
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await bring_up(pilot, where, zoe)
        log_before = last_scan_log_id(station)
        shown = spy_on_verdicts(app)
        send_burst(app, "".join(code.lower() + "\r" for code in VALID[:3]))
        await read_codes(pilot, VALID[3:6], shown, total=6)
        assert [v.subject for v in shown] == [f"{code} Person" for code in VALID[:6]]
        assert app.is_running and not app.scanning
    if mode.log_valid:
        assert scan_log_after(station, log_before) == [(c, "accepted") for c in VALID[:6]]


async def test_a_repeat_answered_from_memory_waits_for_the_scans_before_it(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A code scanned again within the double-scan window is answered from memory
    (JUST SCANNED), but not before the scans that arrived ahead of it: an unknown
    badge still in flight keeps its own refusal, on the banner and in the history."""
    zoe = conference(station, CHECKIN)
    app = station.app()
    hold = threading.Event()
    real = app.services.scans.scan

    def slow_for_unknown(ctx: Any, code: str, **kwargs: Any) -> Any:
        if code.upper() == UNKNOWN:
            hold.wait(5)
        return real(ctx, code, **kwargs)

    monkeypatch.setattr(app.services.scans, "scan", slow_for_unknown)
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, zoe.access_code)  # Zoe is checked in: remembered for 3 s
        shown = spy_on_verdicts(app)
        send_burst(app, f"{UNKNOWN.lower()}\r{zoe.access_code.lower()}\r")
        await pilot.pause(0.3)  # the repeat is read while the unknown badge is in flight
        hold.set()
        await wait_for(pilot, lambda: len(shown) >= 2 and not app.scanning, "two verdicts")
        await pilot.pause(0.3)
        assert [described(v) for v in shown] == [
            ("REFUSED", "UNKNOWN BADGE", f"Badge {UNKNOWN}"),
            ("JUST SCANNED", "", "Zoe Z"),
        ]
        newest = app.scan_screen.history.entries[0]
        assert (newest.who, described(newest.verdict)) == (
            f"Badge {UNKNOWN}",
            ("REFUSED", "UNKNOWN BADGE", f"Badge {UNKNOWN}"),
        )
    assert station.count(CheckIn) == 1
