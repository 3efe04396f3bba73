"""Issue #16: the screens as volunteers meet them at 80×24.

Every product of a badge shows; a verdict clears by itself after ``badge_seconds``;
lookup lines stay one line with the code visible; a paste into the search box is a
search; typing on the badge preview goes to the scan field; the door header names
the operator; the terminal too small says so; the counters count what the station is
for; F3 hands the station over; F1 shows the keys (and the demo's codes).
"""

from __future__ import annotations

import pytest
from textual import events
from textual.color import Color
from textual.widgets import Input, OptionList, Static

from station.domain import Mode, OrderStatus
from station.models import CheckIn, ScanLog
from station.tui.app import StationApp
from station.tui.components.banner import VerdictBanner
from station.tui.components.header import TooSmall
from station.tui.kiosk import SupervisorPinScreen
from station.tui.screens.badge import BadgeScreen, ProductsView
from station.tui.screens.help import HelpScreen
from station.tui.screens.lookup import LookupScreen
from station.tui.screens.scan import ScanScreen
from station.tui.screens.sign_in import SignInScreen
from tests.tui.conftest import (
    Station,
    badge_shown,
    banner_text,
    scan,
    screen_text,
    send_burst,
    started,
    wait_for,
)

TEN = {f"extra-{n:02}": 1 for n in range(1, 11)}


def ten_products(station: Station) -> None:
    for slug in TEN:
        station.conf.addon(slug, f"Add-on number {slug[-2:]} with a longish name")


def counters_text(app: StationApp) -> str:
    return str(app.scan_screen.counters.render())


# ---------------------------------------------------------------- 1. badge products


async def test_badge_preview_shows_all_ten_products_at_80x24(station: Station) -> None:
    ten_products(station)
    built = station.conf.attendee(addons=TEN)
    app = station.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge")
        await pilot.pause()
        view = app.screen.query_one("#badge-products", ProductsView)
        box = app.screen.query_one("#badge-products-box")
        shown = str(view.render())
        for n in range(1, 11):
            assert f"number {n:02}" in shown, shown
        assert "↑↓" not in shown  # all of them fit: nothing to scroll to
        assert view.region.height <= box.region.height
        assert box.region.bottom <= 23


async def test_badge_preview_with_more_products_than_fit_says_to_scroll(
    station: Station,
) -> None:
    many = {f"many-{n:02}": 1 for n in range(1, 31)}
    for slug in many:
        station.conf.addon(slug, f"Thing {slug[-2:]}")
    built = station.conf.attendee(addons=many)
    app = station.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge")
        await pilot.pause()
        view = app.screen.query_one("#badge-products", ProductsView)
        assert "30 — ↑↓ to see them all" in str(view.render())
        box = app.screen.query_one("#badge-products-box")
        assert box.has_focus
        await pilot.press("down", "down", "down")
        assert box.scroll_y > 0


# ---------------------------------------------------------------- 2. verdict timeout


@pytest.mark.parametrize("status", [OrderStatus.PAID, OrderStatus.CANCELLED])
async def test_every_verdict_clears_after_badge_seconds(
    station: Station, status: OrderStatus
) -> None:
    built = station.conf.attendee(status=status)
    # Long enough that a loaded CI still reads the verdict before it clears (0.6 s once
    # was not: the screen was READY again by the time the test looked).
    app = station.app(badge_seconds=2.0)
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, built.access_code)
        assert "READY" not in shown
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, ScanScreen) and "READY" in banner_text(app),
            "the verdict to clear",
            timeout=6,
        )
        # The history still has the scan.
        assert "Ada Lovelace" in str(app.scan_screen.history.render())


# ---------------------------------------------------------------- 4. lookup


async def test_a_long_lookup_line_stays_one_line_and_keeps_its_code(station: Station) -> None:
    built = station.conf.attendee(
        first_name="Maximiliane-Josephine",
        last_name="von Hohenzollern-Sigmaringen-Unterwössen",
        email="maximiliane.josephine.von.hohenzollern@example.org",
    )
    app = station.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
        await pilot.press(*"Maximiliane")
        results = app.screen.query_one("#lookup-results", OptionList)
        await wait_for(pilot, lambda: results.option_count == 1, "the match")
        prompt = results.get_option_at_index(0).prompt
        text = str(prompt)
        assert text.endswith(built.access_code)
        assert "…" in text
        assert "\n" not in text
        assert results.get_option_at_index(0)  # drawn one line high, with its code
        assert len(text) <= results.scrollable_content_region.width


async def test_long_lines_keep_their_codes_on_screen_when_the_list_scrolls(
    station: Station,
) -> None:
    """A list taller than the screen gains a scrollbar after its lines are made: each code
    must still be drawn (seen in tmux: every long line's code was wrapped off)."""
    built = [
        station.conf.attendee(
            first_name="Øyvind", last_name="Bjørnstad", email=f"oyvind.bjornstad.{n}@example.org"
        )
        for n in range(15)
    ]
    app = station.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
        await pilot.press(*"oyvind")
        results = app.screen.query_one("#lookup-results", OptionList)
        await wait_for(pilot, lambda: results.option_count == 15, "the matches")
        await pilot.pause()
        assert results.show_vertical_scrollbar
        room = results.scrollable_content_region.width
        for index in range(results.option_count):
            text = str(results.get_option_at_index(index).prompt)
            assert len(text) <= room, (len(text), room)
        for each in built:  # every line ends with its own code
            assert any(
                str(results.get_option_at_index(i).prompt).endswith(each.access_code)
                for i in range(15)
            ), each.access_code


async def test_a_search_that_hit_its_limit_says_first_20_shown(station: Station) -> None:
    for n in range(21):
        station.conf.attendee(first_name="山田", last_name=f"Taro{n}")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
        await pilot.press(*"Taro")
        status = app.screen.query_one("#lookup-status", Static)
        await wait_for(pilot, lambda: "First 20 shown" in str(status.render()), "the limit")
        assert "refine" in str(status.render())
        assert app.screen.query_one(OptionList).option_count == 20


async def test_text_pasted_into_the_search_box_is_searched_not_scanned(station: Station) -> None:
    station.conf.attendee(first_name="Grace", last_name="Hopper")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, LookupScreen), "the lookup")
        assert app._driver is not None
        app._driver.send_message(events.Paste("Hopper"))
        field = app.screen.query_one("#lookup-input", Input)
        await wait_for(pilot, lambda: field.value == "Hopper", "the pasted text in the box")
        results = app.screen.query_one("#lookup-results", OptionList)
        await wait_for(pilot, lambda: results.option_count == 1, "the match")
        assert isinstance(app.screen, LookupScreen)
    assert station.count(ScanLog) == 0


async def test_a_paste_on_the_scan_screen_is_still_a_scan(station: Station) -> None:
    built = station.conf.attendee()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        assert app._driver is not None
        app._driver.send_message(events.Paste(built.access_code))
        await wait_for(pilot, lambda: badge_shown(app), "the badge")
    assert station.count(CheckIn) == 1


# ---------------------------------------------------------------- 5. typing on the badge


async def test_keys_typed_on_the_badge_preview_go_to_the_scan_field(station: Station) -> None:
    ada = station.conf.attendee(first_name="Ada", last_name="Lovelace")
    grace = station.conf.attendee(first_name="Grace", last_name="Hopper")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge")
        # A person types at a person's pace: a key every 120 ms or so.
        for key in grace.access_code[:4]:
            await pilot.press(key)
            await pilot.pause(0.12)
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "the scan screen")
        field = app.scan_screen.scan_input
        await wait_for(pilot, lambda: field.value == grace.access_code[:4], "the typed keys")
        assert station.count(CheckIn) == 1  # nothing was scanned unseen
        await pilot.press(*grace.access_code[4:], "enter")
        await wait_for(pilot, lambda: badge_shown(app, "Grace Hopper"), "Grace's badge")
    assert station.count(CheckIn) == 2


async def test_a_scanner_burst_on_the_badge_preview_is_still_one_scan(station: Station) -> None:
    ada = station.conf.attendee(first_name="Ada", last_name="Lovelace")
    grace = station.conf.attendee(first_name="Grace", last_name="Hopper")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge")
        send_burst(app, grace.access_code + "\r")
        await wait_for(pilot, lambda: badge_shown(app, "Grace Hopper"), "Grace's badge")
        assert app.scan_screen.scan_input.value == ""
    assert station.count(CheckIn) == 2


# ---------------------------------------------------------------- 6. door header


async def test_door_header_names_the_operator_beside_a_long_product_name(
    station: Station,
) -> None:
    station.conf.addon("tutorial", "Tutorial: SQLAlchemy in depth, from Core to ORM and back")
    app = station.app(mode=Mode.DOOR, product="addon:tutorial")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot)
        await pilot.pause()
        operator = app.scan_screen.query_one("#operator", Static)
        assert str(operator.render()) == "op: Ana"
        assert operator.region.right <= 80 and operator.region.width >= len("op: Ana")


# ---------------------------------------------------------------- 7. TERM=linux


BOX_GLYPH_FREE = {"", "none", "hidden", "blank", "ascii"}


def drawn_borders(app: StationApp) -> list[str]:
    """Every border or outline edge on the screen that is not plain ASCII."""
    found = []
    for widget in app.screen.walk_children(with_self=True):
        if not widget.display:
            continue
        styles = widget.styles
        for edge in ("top", "right", "bottom", "left"):
            for kind in ("border", "outline"):
                style, _color = getattr(styles, f"{kind}_{edge}")
                if style not in BOX_GLYPH_FREE:
                    found.append(f"{widget!r} {kind}-{edge}: {style}")
    return found


async def test_ascii_borders_on_sign_in_list_pin_field_and_kiosk_dialog(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "linux")
    station.conf.staff("Ben", pin="1357")
    from station.pins import hash_pin

    app = station.app(operator=None, kiosk=True, supervisor_pin_hash=hash_pin("2468"))
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "sign-in")
        options = app.screen.query_one("#staff-list", OptionList)
        await wait_for(pilot, lambda: options.option_count == 2, "the operators")
        assert app.has_class("-ascii")
        assert drawn_borders(app) == []
        await pilot.press("down", "enter")  # Ben has a PIN
        pin = app.screen.query_one("#pin-input", Input)
        await wait_for(pilot, lambda: pin.display and pin.has_focus, "the PIN field")
        assert drawn_borders(app) == []
        await pilot.press(*"1357", "enter")
        await started(pilot)
        assert drawn_borders(app) == []
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, SupervisorPinScreen), "the PIN")
        await pilot.pause()
        assert drawn_borders(app) == []
        await pilot.press("escape", "f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        assert drawn_borders(app) == []


# ---------------------------------------------------------------- 8. NO_COLOR, too small


def _luminance(color: Color) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.r) + 0.7152 * channel(color.g) + 0.0722 * channel(color.b)


def contrast(a: Color, b: Color) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


async def test_no_color_ok_band_reads_at_4_5_to_1(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    ok = station.conf.attendee(first_name="Ada")
    refused = station.conf.attendee(first_name="Eve", status=OrderStatus.CANCELLED)
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        assert app.no_color  # Textual draws in greys: what the band becomes is what counts
        for built in (ok, refused):
            await scan(pilot, built.access_code)
            if isinstance(app.screen, BadgeScreen):
                banner = app.screen.query_one("#badge-verdict", VerdictBanner)
            else:
                banner = app.scan_screen.banner
            _base, _base_color, background, color = banner.colors
            ratio = contrast(background.monochrome, color.monochrome)
            assert ratio >= 4.5, (banner_text(app), ratio)
            await pilot.press("escape")


async def test_a_terminal_too_small_says_how_big_it_must_be(station: Station) -> None:
    app = station.app()
    async with app.run_test(size=(60, 20)) as pilot:
        await started(pilot)
        notice = app.screen.query_one(TooSmall)
        await pilot.pause()
        assert notice.display and notice.region.area > 0
        assert "need at least 80×24" in str(notice.render())
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not app.screen.query_one(TooSmall).region.area


# ---------------------------------------------------------------- 9. demo codes, D. help


async def test_demo_codes_show_on_the_scan_screen_and_in_the_help(station: Station) -> None:
    from station.tui.app import make_app

    codes = (("paid, Lunch Day 1 x1", "DEMO0001"), ("order cancelled", "DEMO0002"))
    settings = station.settings
    app = make_app(station.services(), settings=settings, demo_codes=codes)
    async with app.run_test() as pilot:
        await started(pilot)
        history = str(app.scan_screen.history.render())
        assert "DEMO0001 paid, Lunch Day 1 x1" in history
        assert "DEMO0002 order cancelled" in history
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        text = screen_text(app)
        assert "Demo badge codes" in text and "DEMO0002 order cancelled" in text
        assert "F3" in text and "Hand over" in text
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, ScanScreen), "help closed")


async def test_help_lists_the_keys_of_the_screen_it_was_opened_on(station: Station) -> None:
    built = station.conf.attendee()
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        assert "Keys — scan screen" in screen_text(app)
        assert "Demo badge codes" not in screen_text(app)
        await pilot.press("escape")
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge")
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        text = screen_text(app)
        assert "Keys — badge preview" in text and "Redeem one of the products" in text
        # A scan while the help is up is a scan, as anywhere.
        other = station.conf.attendee(first_name="Grace", last_name="Hopper")
        send_burst(app, other.access_code + "\r")
        await wait_for(pilot, lambda: badge_shown(app, "Grace Hopper"), "Grace's badge")


async def test_a_question_mark_inside_a_scan_is_never_taken_as_help(station: Station) -> None:
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        shown = await scan(pilot, "?CODE?1")
        assert "NOT A BADGE" in shown
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press(*"AB")
        await pilot.press("question_mark")  # typed after other keys: stays in the field
        assert app.scan_screen.scan_input.value == "AB?"
        assert not isinstance(app.screen, HelpScreen)


# ---------------------------------------------------------------- 10 / B. counters


async def test_desk_counts_checked_in_today_of_all(station: Station) -> None:
    built = station.conf.attendee()
    station.conf.attendee(first_name="Grace")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: "Checked in today: 0 / 2" in counters_text(app), "counts")
        await scan(pilot, built.access_code)
        await wait_for(pilot, lambda: "Checked in today: 1 / 2" in counters_text(app), "counts")
        assert "This station today: 1" in counters_text(app)


async def test_meal_line_counts_served_today_of_bought(any_station: Station) -> None:
    any_station.conf.addon("lunch-1", "Lunch Day 1")
    any_station.conf.addon("dinner", "Dinner")
    ada = any_station.conf.attendee(addons={"lunch-1": 2, "dinner": 5})
    any_station.conf.attendee(first_name="Grace", addons={"lunch-1": 1})
    any_station.conf.attendee(first_name="Eve", status=OrderStatus.CANCELLED, addons={"lunch-1": 1})
    app = any_station.app(mode=Mode.MEAL, product="lunch-1")
    async with app.run_test() as pilot:
        await started(pilot)
        await wait_for(
            pilot, lambda: "Served today: 0 / 3 bought" in counters_text(app), "the counts"
        )
        await scan(pilot, ada.access_code)
        await wait_for(
            pilot, lambda: "Served today: 1 / 3 bought" in counters_text(app), "the counts"
        )
        assert "Checked in" not in counters_text(app)


async def test_door_counts_people_admitted_today(any_station: Station) -> None:
    any_station.conf.addon("tutorial", "Tutorial")
    ada = any_station.conf.attendee(addons={"tutorial": 1})
    eve = any_station.conf.attendee(first_name="Eve")
    any_station.conf.attendee(first_name="Grace", addons={"tutorial": 1})
    app = any_station.app(mode=Mode.DOOR, product="addon:tutorial")
    async with app.run_test() as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: "Admitted today: 0" in counters_text(app), "the counts")
        await scan(pilot, ada.access_code)
        await scan(pilot, eve.access_code)  # refused: not counted
        await wait_for(pilot, lambda: "Admitted today: 1" in counters_text(app), "the counts")
        assert "Checked in" not in counters_text(app)


# ---------------------------------------------------------------- C. hand-over


async def test_f3_hands_over_to_an_operator_with_a_pin(station: Station) -> None:
    ben_id = station.conf.staff("Ben", pin="1357")
    ada = station.conf.attendee(first_name="Ada")
    grace = station.conf.attendee(first_name="Grace", last_name="Hopper")
    app = station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, ada.access_code)
        await wait_for(pilot, lambda: badge_shown(app), "the badge")
        await pilot.press("f3")  # from the badge preview: any screen
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "the sign-in")
        assert "Signed out" in screen_text(app)
        assert app.operator is None and not app.ready
        # The operators listed first: listing them says "choose your name", over any word.
        options = app.screen.query_one("#staff-list", OptionList)
        await wait_for(pilot, lambda: options.option_count == 2, "the operators")
        # Nobody is signed in: a scan checks nobody in.
        send_burst(app, grace.access_code + "\r")
        await wait_for(pilot, lambda: "Sign in first" in screen_text(app), "the refusal")
        await pilot.press("down", "enter")
        pin = app.screen.query_one("#pin-input", Input)
        await wait_for(pilot, lambda: pin.has_focus, "the PIN field")
        await pilot.press(*"0000", "enter")
        await wait_for(pilot, lambda: "PIN" in screen_text(app) and not pin.value, "refused")
        assert isinstance(app.screen, SignInScreen)
        await pilot.press(*"1357", "enter")
        await started(pilot)
        assert app.operator is not None and app.operator.name == "Ben"
        assert str(app.scan_screen.query_one("#operator", Static).render()) == "op: Ben"
        await scan(pilot, grace.access_code)
    assert station.count(CheckIn, attendee_id=grace.attendee_id, staff_id=ben_id) == 1
    assert station.count(CheckIn, attendee_id=ada.attendee_id, staff_id=ben_id) == 0


async def test_a_kiosk_stays_locked_while_nobody_is_signed_in(
    station: Station, monkeypatch: pytest.MonkeyPatch
) -> None:
    from station.pins import hash_pin

    built = station.conf.attendee()
    app = station.app(kiosk=True, supervisor_pin_hash=hash_pin("2468"))
    async with app.run_test() as pilot:
        await started(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, SignInScreen), "the sign-in")
        await pilot.press("escape")  # no way back to scanning without signing in
        assert isinstance(app.screen, SignInScreen)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, SupervisorPinScreen), "the PIN")
        await pilot.press("escape")
        assert isinstance(app.screen, SignInScreen) and app.is_running
        send_burst(app, built.access_code + "\r")
        await pilot.pause(0.3)
        assert isinstance(app.screen, SignInScreen)
    assert station.count(CheckIn) == 0
