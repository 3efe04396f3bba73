"""Tell a scanner's burst of keys from a person's typing, before any widget sees them.

A keyboard-wedge scanner types a whole code plus Enter within milliseconds; a
person leaves 50 ms or more between keys. If the scanner's keys reached a
focused list or search box, its Enter would pick whatever is highlighted — a
silent wrong redemption — and its letters could fire bindings. So the app
routes every key through a :class:`BurstRouter` first:

- ``"field"`` screens (scan, lookup) have a free-text field: timing alone
  decides. The first key is held for ``gap`` seconds; a second key within the
  gap makes it a burst, which ends with the terminator and becomes a scan.
  Anything else is released, in order, to the screen as if never held.
- ``"bindings"`` screens (badge, picker) have no free-text field, so every
  printable key and the terminator belong to a scan. The one exception is a
  lone key that is bound on the screen (``r``, ``1``–``9``) with nothing after
  it within the gap: that is a person pressing a key.
- ``"off"`` screens (sign-in, confirm) get their keys untouched.

Over SSH, timing is jittery; a burst cut in two by the network can reach a
``"field"`` screen as typing. On ``"bindings"`` screens a split burst stays a
scan because the keys after a non-binding key keep being collected until the
terminator.

The router only decides; the app holds the events and replays them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from textual import events

ScanKeys = Literal["field", "bindings", "off"]

# Keys that some sources (Textual's pilot, some drivers) send without a character.
_KEY_CHARACTERS = {"enter": "\r", "tab": "\t"}


@dataclass(slots=True)
class Decision:
    """What to do with the key just fed: replay ``release`` first, then the rest."""

    release: list[events.Key] = field(default_factory=list)
    forward: bool = False
    submit: str | None = None
    start_timer: bool = False


@dataclass(slots=True)
class BurstRouter:
    gap: float
    is_terminator: Callable[[str], bool]
    held: list[events.Key] = field(default_factory=list)
    last: float = 0.0
    submit_on_pause: bool = False
    """The scanner sends no terminator: a burst ends when the keys stop."""
    collecting: bool = False
    """True once the held keys are known to be a code (not bindings, not typing)."""

    def text(self) -> str:
        """The held keys as scanned text; a key that is not text counts as a control
        character, so the decoder refuses the whole scan instead of a shortened code."""
        return "".join(
            (key.character or "\x1b") if not key.is_printable else (key.character or "")
            for key in self.held
        )

    def _take(self) -> list[events.Key]:
        held, self.held = self.held, []
        self.collecting = False
        return held

    def _hold(self, key: events.Key) -> None:
        self.held.append(key)
        self.last = key.time

    def feed(self, key: events.Key, kind: ScanKeys, *, bound: bool) -> Decision:
        """Route one key; ``bound`` says whether the current screen binds it."""
        character = key.character or _KEY_CHARACTERS.get(key.key, "")
        within_gap = bool(self.held) and key.time - self.last <= self.gap
        if character and self.is_terminator(character):
            if self.held and (within_gap or self.collecting):
                text = self.text()
                self._take()
                return Decision(submit=text)
            return Decision(release=self._take(), forward=True)
        if within_gap:
            # Mid-burst, even a control key belongs to the scan (and gets it refused).
            self._hold(key)
            self.collecting = self.collecting or kind == "bindings"
            return Decision(start_timer=True)
        if not key.is_printable:
            if not self.collecting:
                return Decision(release=self._take(), forward=True)
            if key.key == "backspace":
                self.held.pop()
                if not self.held:
                    self.collecting = False
                return Decision()
            self._take()  # Esc, arrows...: a half-typed code is abandoned, never replayed
            return Decision(forward=key.key != "escape")
        if self.collecting:
            self._hold(key)
            return Decision(start_timer=True)
        release = self._take()
        self._hold(key)
        self.collecting = kind == "bindings" and not bound
        return Decision(release=release, start_timer=True)

    def timeout(self, now: float) -> Decision:
        """Called ``gap`` after the last key: release what turned out to be typing.

        With a scanner that sends no terminator, a pause after a burst ends the scan.
        """
        if not self.held or now - self.last < self.gap * 0.9:
            return Decision()
        if self.submit_on_pause and (len(self.held) > 1 or self.collecting):
            text = self.text()
            self._take()
            return Decision(submit=text)
        if self.collecting:
            return Decision()  # a code typed on a screen without a text field: wait for Enter
        return Decision(release=self._take())

    def reset(self) -> None:
        self._take()
