"""Every refusal reads as plain words with ✖ and REFUSED, rings the bell, checks nobody in."""

from __future__ import annotations

import pytest

from station.domain import OrderStatus
from station.models import CheckIn, ScanLog
from station.tui.app import StationApp
from station.tui.screens.scan import ScanScreen
from station.tui.verdicts import Tone
from tests.builders import ConferenceBuilder
from tests.tui.conftest import Station, scan, started


def count_bells(app: StationApp, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    rung: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: rung.append(1))
    return rung


@pytest.mark.parametrize(
    ("status", "headline", "reason"),
    [
        (None, "✖ REFUSED — NO ORDER", "no_order"),
        (OrderStatus.PENDING, "✖ REFUSED — ORDER NOT PAID", "unpaid"),
        (OrderStatus.CANCELLED, "✖ REFUSED — ORDER CANCELLED", "cancelled"),
        (OrderStatus.REFUNDED, "✖ REFUSED — ORDER REFUNDED", "refunded"),
    ],
)
async def test_orders_that_do_not_admit_are_refused_in_plain_words(
    station: Station,
    monkeypatch: pytest.MonkeyPatch,
    status: OrderStatus | None,
    headline: str,
    reason: str,
) -> None:
    built = station.conf.attendee(status=status)
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        bells = count_bells(app, monkeypatch)
        shown = await scan(pilot, built.access_code)
        assert shown.splitlines()[0] == headline
        # Named, so the volunteer can speak to the person; the code is for the help desk.
        assert f"Ada Lovelace · badge {built.access_code}" in shown.splitlines()
        assert "Send to the help desk." in shown
        assert app.scan_screen.history.entries[0].who == "Ada Lovelace"
        assert app.verdict.tone is Tone.REFUSED
        assert bells == [1]
        assert isinstance(app.screen, ScanScreen)  # no badge preview for a refusal
    assert station.count(CheckIn) == 0
    assert station.count(ScanLog, outcome="refused", reason=reason) == 1


async def test_unknown_badge_is_refused(station: Station, monkeypatch: pytest.MonkeyPatch) -> None:
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        bells = count_bells(app, monkeypatch)
        shown = await scan(pilot, "NOSUCHCODE")
        assert shown.splitlines()[:2] == ["✖ REFUSED — UNKNOWN BADGE", "Badge NOSUCHCODE"]
        assert bells == [1]
    assert station.count(ScanLog, outcome="refused", reason="not_found") == 1


@pytest.mark.parametrize(
    "payload",
    [
        "AB\x01CD",  # a control character inside the burst
        "AB\tCD",  # a tab: a GS1 or form payload, not a badge
        "AB\x7fCD",  # a DEL inside the burst must not edit the code into another one
        "AB$%CD",  # characters no badge code has
    ],
)
async def test_payloads_that_are_not_badges_are_refused_before_any_lookup(
    station: Station, monkeypatch: pytest.MonkeyPatch, payload: str
) -> None:
    built = station.conf.attendee(code="ABCD")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        bells = count_bells(app, monkeypatch)
        shown = await scan(pilot, payload)
        assert shown.startswith("✖ REFUSED — NOT A BADGE")
        assert "Scan again, or press / to look the attendee up." in shown
        assert "\x1b" not in shown and "\x01" not in shown
        assert bells == [1]
        assert app.scan_screen.scan_input.value == ""  # nothing of the burst leaks into the field
    assert station.count(CheckIn, attendee_id=built.attendee_id) == 0
    assert station.count(ScanLog, outcome="refused", reason="invalid_input") == 1


async def test_badge_of_another_conference_is_refused(station: Station) -> None:
    built = station.conf.attendee()
    other = ConferenceBuilder(station.db.sessions, slug="other-slug", name="Other")
    theirs = other.attendee(code="THEIRS1")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, f"other-slug:{built.access_code}")
        assert shown.splitlines()[0] == "✖ REFUSED — BADGE OF ANOTHER CONFERENCE"
        assert "This badge is for another event." in shown
        # A bare code of the other conference is simply unknown here.
        shown = await scan(pilot, theirs.access_code)
        assert shown.splitlines()[0] == "✖ REFUSED — UNKNOWN BADGE"
    assert station.count(CheckIn) == 0
    assert station.count(ScanLog, outcome="refused", reason="other_conference") == 1


async def test_own_conference_prefix_is_accepted(station: Station) -> None:
    built = station.conf.attendee()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, f"{station.conf.slug}:{built.access_code.lower()}")
        assert shown.startswith("✔ OK — CHECKED IN")
    assert station.count(CheckIn) == 1


async def test_a_console_font_gets_ascii_symbols(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Linux console's font has no ✔ or ✖: there the verdict symbols are ASCII."""
    unpaid = station.conf.attendee(status=OrderStatus.PENDING)
    paid = station.conf.attendee()
    app = station.app(ascii_borders=True)
    async with app.run_test() as pilot:
        await started(pilot)
        count_bells(app, monkeypatch)
        shown = await scan(pilot, unpaid.access_code)
        assert shown.splitlines()[0] == "X REFUSED - ORDER NOT PAID"
        assert "-> Send to the help desk." in shown
        shown = await scan(pilot, paid.access_code)
        assert shown.splitlines()[0].startswith("+ ")
        history = str(app.scan_screen.query_one("ScanHistory").render())
        assert "X ORDER NOT PAID" in history
        assert not set("✔✖▲⚠→—") & set(history + shown), history + shown
