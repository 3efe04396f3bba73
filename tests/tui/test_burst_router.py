"""The burst router alone: which keys are a scan, which are a person, by timing and screen."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from textual.events import Key

from station.scanflow.keys import (
    DECISIVE_KEY_WAIT_S,
    LONE_KEY_WAIT_S,
    SCANNER_RUN,
    STALE_AFTER_S,
    BurstRouter,
    Decision,
    ScanKeys,
)
from station.scanner import Terminator

GAP = 0.030
SCANNER_STEP = 0.002  # a real scanner: 2-10 ms per key
PERSON_STEP = 0.200


def key(name: str, at: float, character: str | None = None) -> Key:
    event = Key(name, character if character is not None else (name if len(name) == 1 else None))
    event.time = at
    return event


def router(terminator: Terminator = "enter") -> BurstRouter:
    return BurstRouter(gap=GAP, submit_on_pause=terminator == "none", tab_ends=terminator == "tab")


def feed_all(
    r: BurstRouter, keys: Iterable[Key], kind: ScanKeys = "field", *, bound: bool = False
) -> list[str | None]:
    """Feed keys; return what was submitted along the way (None per key that submitted nothing)."""
    submitted = []
    for k in keys:
        decision = r.feed(k, kind, bound=bound)
        assert not decision.forward, f"{k.key} reached the screen"
        assert not decision.release, f"{k.key} released {decision.release}"
        submitted.append(decision.submit)
    return submitted


def burst(text: str, start: float = 1.0, step: float = SCANNER_STEP) -> list[Key]:
    names = {"\r": "enter", "\t": "tab", "\n": "ctrl+j", "\x1d": "ctrl+right_square_bracket"}
    names |= {"\x10": "ctrl+p", "\x11": "ctrl+q", "\x00": "ctrl+@"}
    return [key(names.get(c, c), start + i * step, c) for i, c in enumerate(text)]


def test_fast_keys_and_enter_are_one_scan_and_nothing_reaches_the_screen() -> None:
    r = router()
    assert feed_all(r, burst("ABCD1234\r"))[-1] == "ABCD1234"
    assert r.held == []


def test_a_person_typing_is_released_in_order_after_the_gap() -> None:
    r = router()
    first = r.feed(key("a", 1.0), "field", bound=False)
    assert not first.forward and not first.release
    assert r.due(1.0) == pytest.approx(GAP)
    second = r.feed(key("b", 1.2), "field", bound=False)  # 200 ms later: a person
    assert [k.key for k in second.release] == ["a"]
    late = r.timeout(1.3)
    assert [k.key for k in late.release] == ["b"]
    assert r.due(1.3) is None
    enter = r.feed(key("enter", 1.4, "\r"), "field", bound=False)
    assert enter.forward and enter.submit is None


@pytest.mark.parametrize("kind", ["field", "bindings"])
def test_keys_stamped_apart_but_routed_together_stay_one_scan(kind: ScanKeys) -> None:
    """The process stalled while one read was parsed: "Y" is stamped 120 ms before the
    rest, but the app routes it only after the rest was stamped (they waited behind it).
    No pause was seen between them, so nothing is handed to the screen."""
    r = router()
    first, *rest = burst("YA01\r", start=1.0)
    for k in rest:
        k.time += 0.120
    routed = 1.2  # the app got to the read after the stall
    assert not r.feed(first, kind, bound=True, now=routed).release
    submitted = [r.feed(k, kind, bound=False, now=routed).submit for k in rest]
    assert submitted[-1] == "YA01"


def test_a_key_stamped_after_the_last_one_was_routed_is_judged_by_its_stamp() -> None:
    """A key that came after the app had routed the one before it (a person, 200 ms
    later) is not joined to it by the new rule: the stamps still decide."""
    r = router()
    r.feed(key("a", 1.0), "field", bound=False, now=1.001)
    second = r.feed(key("b", 1.2), "field", bound=False, now=1.201)
    assert [k.key for k in second.release] == ["a"]


def test_a_quick_letter_and_enter_in_a_text_field_stay_typing() -> None:
    """A person's "v" + Enter within 30 ms in the search box is not a scan of "v"."""
    r = router()
    for text in ("v\r", "ce\r", "lov\r"):
        r.reset()
        *_typed, end = [r.feed(k, "field", bound=False) for k in burst(text)]
        assert end.submit is None and end.forward
        assert "".join(k.key for k in end.release) == text[:-1]


def test_a_burst_becomes_a_scan_after_scanner_run_keys() -> None:
    assert SCANNER_RUN == 4
    r = router()
    feed_all(r, burst("ABC"))
    assert not r.collecting
    feed_all(r, burst("D", start=1.006))
    assert r.collecting


def test_a_burst_split_by_network_jitter_stays_one_scan() -> None:
    """Over SSH the keys come in 20 ms ticks and a tick can be late."""
    r = router()
    keys = burst("ABCD") + burst("1234", start=1.080) + burst("\r", start=1.300)
    assert feed_all(r, keys)[-1] == "ABCD1234"
    assert not r.timeout(1.2).release  # the late tick was waited for, not typed


def test_a_lone_bound_key_on_a_list_screen_is_a_key_press() -> None:
    r = router()
    r.feed(key("1", 1.0), "bindings", bound=True)
    assert [k.key for k in r.timeout(1.1).release] == ["1"]


def test_a_burst_starting_with_a_bound_key_is_a_scan() -> None:
    r = router()
    first = r.feed(key("1", 1.0), "bindings", bound=True)
    assert not first.release and not first.forward
    assert feed_all(r, burst("BR2\r", start=1.002), "bindings")[-1] == "1BR2"


def test_a_lone_decisive_key_waits_out_a_lost_packet() -> None:
    """A key that writes (the picker's digit) waits DECISIVE_KEY_WAIT_S, not the lone-key
    wait: a scan's rest retransmitted 240 ms later still joins it."""
    r = router()
    r.feed(key("2", 1.0), "bindings", bound=True, decisive=True)
    assert r.due(1.0) == pytest.approx(DECISIVE_KEY_WAIT_S)
    assert not r.timeout(1.0 + LONE_KEY_WAIT_S * 1.5).release  # still waiting
    assert feed_all(r, burst("BOB\r", start=1.240), "bindings")[-1] == "2BOB"


def test_a_lone_decisive_key_acts_once_it_waited() -> None:
    r = router()
    r.feed(key("2", 1.0), "bindings", bound=True, decisive=True)
    assert [k.key for k in r.timeout(1.0 + DECISIVE_KEY_WAIT_S).release] == ["2"]
    # The next lone key that is not decisive waits the short time again.
    r.feed(key("r", 2.0), "bindings", bound=True)
    assert r.due(2.0) == pytest.approx(LONE_KEY_WAIT_S)
    assert [k.key for k in r.timeout(2.0 + LONE_KEY_WAIT_S).release] == ["r"]


def test_a_person_pressing_a_decisive_key_twice_is_one_press() -> None:
    r = router()
    r.feed(key("2", 1.0), "bindings", bound=True, decisive=True)
    second = r.feed(key("2", 1.150), "bindings", bound=True, decisive=True)
    assert not second.release and not second.forward  # a scan's late rest would start so
    assert r.due(1.150) == pytest.approx(GAP)
    assert [k.time for k in r.timeout(1.150 + GAP).release] == [1.0]
    assert r.held == []


def test_enter_after_a_decisive_key_lets_it_act() -> None:
    r = router()
    r.feed(key("2", 1.0), "bindings", bound=True, decisive=True)
    enter = r.feed(key("enter", 1.150, "\r"), "bindings", bound=False)
    assert [k.key for k in enter.release] == ["2"]
    assert enter.submit is None and not enter.forward


def test_escape_after_a_decisive_key_takes_it_back() -> None:
    r = router()
    r.feed(key("2", 1.0), "bindings", bound=True, decisive=True)
    escape = r.feed(key("escape", 1.150, "\x1b"), "bindings", bound=True)
    assert escape.forward and not escape.release
    assert r.held == [] and r.due(1.2) is None


def test_a_late_rest_of_two_keys_after_a_decisive_key_is_a_scan() -> None:
    r = router()
    r.feed(key("2", 1.0), "bindings", bound=True, decisive=True)
    assert feed_all(r, burst("B\r", start=1.240), "bindings")[-1] == "2B"


CODES = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=2, max_size=16)
DIGITS = "123456789"  # the picker's keys: bound and decisive
WITHIN_WAIT = DECISIVE_KEY_WAIT_S - 0.01


def feed_on_picker(r: BurstRouter, keys: Iterable[Key]) -> list[Decision[Key]]:
    """Feed keys as the app does on the picker (a key is looked up in the bindings only
    when nothing is held), and run the app's timer whenever the router says it is due."""
    decisions: list[Decision[Key]] = []
    for k in keys:
        due = r.due(k.time)
        if due == 0:
            decisions.append(r.timeout(k.time))
        bound = not r.held and k.character is not None and k.character in DIGITS
        decisions.append(r.feed(k, "bindings", bound=bound, decisive=bound))
    return decisions


@given(code=CODES, cut=st.integers(1, 15), delay=st.floats(0.0, WITHIN_WAIT))
def test_a_code_split_anywhere_on_the_picker_is_one_scan(code: str, cut: int, delay: float) -> None:
    """Whatever key it starts with, wherever it is cut, and however late the rest comes
    within the decisive wait: the whole code is scanned once, and no key acts."""
    cut = min(cut, len(code) - 1)
    r = router()
    first = burst(code[:cut])
    rest = burst(code[cut:] + "\r", start=first[-1].time + delay)
    decisions = feed_on_picker(r, first + rest)
    assert [d.submit for d in decisions if d.submit is not None] == [code]
    assert not [d for d in decisions if d.release or d.forward]
    assert r.held == []


@given(digit=st.sampled_from(DIGITS), again=st.one_of(st.none(), st.floats(GAP * 1.1, WITHIN_WAIT)))
def test_a_persons_digit_on_the_picker_acts_once(digit: str, again: float | None) -> None:
    """A digit alone, or pressed again within the wait, releases that digit once."""
    r = router()
    presses = [key(digit, 1.0)] + ([] if again is None else [key(digit, 1.0 + again)])
    decisions = feed_on_picker(r, presses)
    due = r.due(presses[-1].time)
    assert due is not None
    decisions.append(r.timeout(presses[-1].time + due))
    released = [k for d in decisions for k in d.release]
    assert [(k.key, k.time) for k in released] == [(digit, 1.0)]
    assert not [d for d in decisions if d.submit is not None or d.forward]
    assert r.held == []


def test_on_a_list_screen_a_code_typed_slowly_is_still_a_scan() -> None:
    r = router()
    for i, c in enumerate("B7X"):
        decision = r.feed(key(c, 1.0 + i * 0.5), "bindings", bound=False)
        assert not decision.release and not decision.forward
        assert not r.timeout(1.0 + i * 0.5 + 0.1).release
    assert r.feed(key("enter", 3.0, "\r"), "bindings", bound=False).submit == "B7X"


def test_escape_abandons_a_half_typed_code() -> None:
    r = router()
    r.feed(key("B", 1.0), "bindings", bound=False)
    decision = r.feed(key("escape", 2.0, "\x1b"), "bindings", bound=False)
    assert not decision.release and not decision.forward
    assert r.held == []


def test_backspace_takes_back_a_slowly_typed_character() -> None:
    r = router()
    r.feed(key("B", 1.0), "bindings", bound=False)
    r.feed(key("X", 1.5), "bindings", bound=False)
    assert not r.feed(key("backspace", 2.0, "\x7f"), "bindings", bound=False).forward
    assert r.feed(key("enter", 2.5, "\r"), "bindings", bound=False).submit == "B"


def test_control_bytes_inside_a_burst_go_to_the_decoder_not_the_screen() -> None:
    """GS (ctrl+]), DLE (ctrl+p), DC1 (ctrl+q), NUL: held, never a binding."""
    r = router()
    submitted = feed_all(r, burst("AB\x1dCD\x10\x11\x00\r"))
    assert submitted[-1] == "AB\x1dCD\x10\x11\x00"


def test_a_control_byte_that_starts_a_burst_fires_no_binding() -> None:
    for kind in ("field", "bindings"):
        r = router()
        assert feed_all(r, burst("\x11ABCD1234\x1d\r"), kind)[-1] == "\x11ABCD1234\x1d"


def test_a_lone_control_key_from_a_person_still_arrives() -> None:
    """ctrl+q pressed by a volunteer reaches the quit binding, one gap later (a screen
    with choices waits the longer lone-key time)."""
    for kind, wait in (("field", GAP), ("bindings", LONE_KEY_WAIT_S)):
        r = router()
        held = r.feed(key("ctrl+q", 1.0, "\x11"), kind, bound=True)
        assert not held.forward and not held.release
        if kind == "bindings":
            assert r.timeout(1.0 + GAP * 1.1).release == []
        assert [k.key for k in r.timeout(1.0 + wait).release] == ["ctrl+q"]


def test_keys_without_a_character_inside_a_burst_make_the_scan_refusable() -> None:
    r = router()
    keys = [*burst("ABCD"), key("up", 1.009), *burst("12\r", start=1.010)]
    assert feed_all(r, keys)[-1] == "ABCD\x1b12"


def test_tab_terminator_ends_the_scan() -> None:
    r = router("tab")
    assert feed_all(r, burst("]Q1https://example.org/checkin/ABCD1234\t"))[-1] == (
        "]Q1https://example.org/checkin/ABCD1234"
    )


@pytest.mark.parametrize("terminator", ["enter", "crlf", "tab", "none"])
@pytest.mark.parametrize("ending", ["\r", "\n"])
def test_enter_and_lf_end_a_scan_whatever_the_profile_says(
    terminator: Terminator, ending: str
) -> None:
    for kind in ("field", "bindings"):
        r = router(terminator)
        assert feed_all(r, burst(f"ABCD1234{ending}"), kind)[-1] == "ABCD1234"


@pytest.mark.parametrize("kind", ["field", "bindings"])
def test_without_a_tab_terminator_tab_stays_with_the_code(kind: ScanKeys) -> None:
    """A Tab suffix on an Enter station: kept (the decoder drops it at the end); a Tab
    between two fields of a form payload: kept (the decoder refuses the whole scan)."""
    r = router()
    assert feed_all(r, burst("ABCD1234\tXY\r"), kind)[-1] == "ABCD1234\tXY"
    late_tab = [*burst("ABCD1234"), key("tab", 1.5, "\t")]
    assert feed_all(r, late_tab, kind) == [None] * 9
    assert r.text() == "ABCD1234\t"


def test_tab_never_reaches_a_screen_without_a_field() -> None:
    for terminator in ("enter", "tab"):
        r = router(terminator)  # type: ignore[arg-type]
        decision = r.feed(key("tab", 5.0, "\t"), "bindings", bound=False)
        assert not decision.forward and not decision.release and decision.submit is None


def test_tab_in_a_slowly_typed_code_on_a_list_screen_moves_nothing() -> None:
    r = router()
    r.feed(key("B", 1.0), "bindings", bound=False)
    assert not r.feed(key("tab", 2.0, "\t"), "bindings", bound=False).forward
    assert r.feed(key("enter", 3.0, "\r"), "bindings", bound=False).submit == "B\t"
    r = router("tab")
    r.feed(key("B", 1.0), "bindings", bound=False)
    r.feed(key("7", 1.5), "bindings", bound=False)
    decision = r.feed(key("tab", 2.0, "\t"), "bindings", bound=False)
    assert decision.submit == "B7" and not decision.forward


def test_framing_right_after_a_scan_is_swallowed() -> None:
    """CR LF, or a Tab suffix before Enter: the second half must not pick a list item."""
    for terminator, text in (
        ("crlf", "ABCD1234\r\n"),
        ("tab", "ABCD1234\t\r"),
        ("enter", "ABCD\r\r"),
    ):
        for kind in ("field", "bindings"):
            r = router(terminator)  # type: ignore[arg-type]
            submitted = feed_all(r, burst(text), kind)
            assert submitted[-2] == text[:-2]
            assert submitted[-1] is None


def test_enter_long_after_a_scan_reaches_the_screen() -> None:
    r = router()
    feed_all(r, burst("ABCD1234\r"), "bindings")
    assert r.feed(key("enter", 3.0, "\r"), "bindings", bound=False).forward


def test_framing_after_a_paste_is_swallowed() -> None:
    r = router()
    r.note_submitted(1.0)
    assert not r.feed(key("enter", 1.001, "\r"), "bindings", bound=False).forward


def test_without_a_terminator_a_pause_ends_the_scan() -> None:
    r = router("none")
    feed_all(r, burst("XY9Z"))
    assert r.due(1.006) is not None
    assert r.timeout(1.1).submit == "XY9Z"


def test_without_a_terminator_a_person_typing_is_not_submitted() -> None:
    r = router("none")
    r.feed(key("a", 1.0), "field", bound=False)
    assert [k.key for k in r.timeout(1.1).release] == ["a"]
    r.feed(key("d", 1.2), "field", bound=False)
    r.feed(key("a", 1.21), "field", bound=False)  # two keys rolled over
    decision = r.timeout(1.3)
    assert decision.submit is None
    assert [k.key for k in decision.release] == ["d", "a"]


def test_without_a_terminator_a_burst_on_a_list_screen_ends_on_pause() -> None:
    r = router("none")
    feed_all(r, burst("BOB7"), "bindings")
    assert r.timeout(1.1).submit == "BOB7"


def test_an_unterminated_scan_is_submitted_after_a_while() -> None:
    """A scanner whose terminator is not the configured one: late, but it scans."""
    r = router()
    feed_all(r, burst("ABCD1234"))
    last = r.last
    assert r.timeout(last + 0.5) == Decision()
    assert r.due(last + 0.5) == pytest.approx(STALE_AFTER_S - 0.5)
    assert r.timeout(last + STALE_AFTER_S).submit == "ABCD1234"


def test_an_unterminated_code_on_a_list_screen_is_submitted_after_a_while() -> None:
    r = router()
    feed_all(r, burst("BOB7"), "bindings")
    assert r.timeout(r.last + STALE_AFTER_S).submit == "BOB7"


def test_a_stray_key_on_a_list_screen_is_dropped_after_a_while() -> None:
    r = router()
    r.feed(key("x", 1.0), "bindings", bound=False)
    decision = r.timeout(1.0 + STALE_AFTER_S)
    assert decision.submit is None and not decision.release
    assert r.held == [] and r.due(5.0) is None
