"""An attention note turns a recorded scan into the attention verdict: its own colour,
symbol and word, the bell, and the note large on the badge preview, never as markup."""

from __future__ import annotations

import pytest
from textual.color import Color

from station.tui.app import StationApp
from station.tui.components.banner import VerdictBanner
from station.tui.screens.badge import BadgeScreen
from station.tui.verdicts import Tone
from tests.tui.conftest import Station, badge_shown, scan, started, wait_for


def with_notes(station: Station) -> str:
    station.conf.ticket_type("vip", "VIP pass", attention="VIP — call the host")
    station.conf.addon("tshirt", "T-shirt", attention="collect T-shirt M")
    station.conf.addon("lunch", "Lunch")
    station.conf.attendee(
        "NOTE1",
        first_name="Ada",
        last_name="Lovelace",
        ticket="vip",
        addons={"tshirt": 1, "lunch": 1},
        attention="[b]wheelchair[/b] user: seat near the aisle",
    )
    return "NOTE1"


def bells(app: StationApp, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    rung: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: rung.append(1))
    return rung


def attention_text(app: StationApp) -> str:
    screen = app.screen
    assert isinstance(screen, BadgeScreen)
    return str(screen.query_one("#badge-attention").render())


async def test_a_check_in_with_notes_is_the_attention_verdict_and_rings(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = with_notes(station)
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        rung = bells(app, monkeypatch)
        shown = await scan(pilot, code)
        assert shown.splitlines()[0] == "⚠ ATTENTION — OK — CHECKED IN"
        note = (
            "[b]wheelchair[/b] user: seat near the aisle · VIP — call the host · collect T-shirt M"
        )
        assert app.verdict.note == note  # the scan screen's banner has it as a line
        assert app.verdict.tone is Tone.ATTENTION and app.verdict.recorded
        assert rung == [1]
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        banner = app.screen.query_one("#badge-verdict", VerdictBanner)
        assert banner.has_class("-tone-attention")
        # On the badge preview the note is the large block, once, markup shown as typed.
        assert attention_text(app) == f"⚠ ATTENTION\n{note}"
        assert note not in banner.text
        block = app.screen.query_one("#badge-attention")
        assert block.display and block.size.height >= 3  # the word and the note, large
        assert block.styles.background == Color.parse("#ff55ff")


async def test_a_meal_line_rings_for_the_note_of_its_own_product_only(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = with_notes(station)
    app = station.app(mode="meal", product="lunch")
    async with app.run_test() as pilot:
        await started(pilot)
        rung = bells(app, monkeypatch)
        shown = await scan(pilot, code)
        assert shown.splitlines()[0] == "⚠ ATTENTION — LUNCH OK — 0 left"
        assert "collect T-shirt M" not in shown and "VIP — call the host" in shown
        assert rung == [1]


async def test_no_note_no_attention_and_no_bell(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    station.conf.attendee("PLAIN1")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        rung = bells(app, monkeypatch)
        shown = await scan(pilot, "PLAIN1")
        assert shown.startswith("✔ OK — CHECKED IN") and app.verdict.tone is Tone.OK
        assert rung == []
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        assert not app.screen.query_one("#badge-attention").display


async def test_console_fonts_and_no_color_still_read_the_attention(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = with_notes(station)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "linux")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        assert app.has_class("-ascii") and app.has_class("-no-color")
        shown = await scan(pilot, code)
        assert shown.splitlines()[0] == "!! ATTENTION - OK - CHECKED IN"
        await wait_for(pilot, lambda: badge_shown(app), "the badge preview")
        assert attention_text(app).startswith("!! ATTENTION\n")
        banner = app.screen.query_one("#badge-verdict", VerdictBanner)
        assert banner.styles.background == Color.parse("white")
        assert banner.styles.color == Color.parse("black")
        assert banner.styles.text_style.bold
