"""The burst router alone: which keys are a scan, which are a person, by timing and screen."""

from __future__ import annotations

from textual.events import Key

from station.scanner import ScannerProfile, is_terminator
from station.tui.burst import BurstRouter

GAP = 0.030


def key(name: str, at: float, character: str | None = None) -> Key:
    event = Key(name, character if character is not None else (name if len(name) == 1 else None))
    event.time = at
    return event


def router(**kwargs: bool) -> BurstRouter:
    profile = ScannerProfile()
    return BurstRouter(gap=GAP, is_terminator=lambda ch: is_terminator(ch, profile), **kwargs)


def test_fast_keys_and_enter_are_one_scan_and_nothing_reaches_the_screen() -> None:
    r = router()
    decisions = [r.feed(key(c, 1.0 + i * 0.001), "field", bound=False) for i, c in enumerate("AB1")]
    end = r.feed(key("enter", 1.004, "\r"), "field", bound=False)
    assert end.submit == "AB1"
    assert not any(d.forward or d.release for d in [*decisions, end])


def test_a_person_typing_is_released_in_order_after_the_gap() -> None:
    r = router()
    first = r.feed(key("a", 1.0), "field", bound=False)
    assert first.start_timer and not first.forward and not first.release
    second = r.feed(key("b", 1.2), "field", bound=False)  # 200 ms later: a person
    assert [k.key for k in second.release] == ["a"]
    late = r.timeout(1.3)
    assert [k.key for k in late.release] == ["b"]
    enter = r.feed(key("enter", 1.4, "\r"), "field", bound=False)
    assert enter.forward and enter.submit is None


def test_a_lone_bound_key_on_a_list_screen_is_a_key_press() -> None:
    r = router()
    r.feed(key("1", 1.0), "bindings", bound=True)
    assert [k.key for k in r.timeout(1.1).release] == ["1"]


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


def test_a_control_key_inside_a_burst_makes_the_scan_refusable() -> None:
    r = router()
    r.feed(key("A", 1.0), "field", bound=False)
    r.feed(key("ctrl+a", 1.001, "\x01"), "field", bound=False)
    r.feed(key("B", 1.002), "field", bound=False)
    assert r.feed(key("enter", 1.003, "\r"), "field", bound=False).submit == "A\x01B"


def test_without_a_terminator_a_pause_ends_the_scan() -> None:
    r = router(submit_on_pause=True)
    for i, c in enumerate("XY9"):
        r.feed(key(c, 1.0 + i * 0.001), "field", bound=False)
    assert r.timeout(1.1).submit == "XY9"
