"""Tell a scanner's burst of keys from a person's typing, before any widget sees them.

A keyboard-wedge scanner types a whole code plus Enter within milliseconds; a
person leaves 50 ms or more between keys. If the scanner's keys reached a
focused list or search box, its Enter would pick whatever is highlighted — a
silent wrong redemption — and its letters could fire bindings. So the app
routes every key through a :class:`BurstRouter` first:

- ``"field"`` screens (scan, lookup, sign-in, supervisor PIN) have a text field. The first
  key is held for ``gap`` seconds; keys that follow within the gap are held
  too. Once :data:`SCANNER_RUN` keys came that fast (no person types so), the
  held keys are a scan and stay one whatever the timing, until the terminator.
  A shorter run is released, in order, to the screen as if never held — so a
  person's quick "v" + Enter in the search box stays a search.
- ``"bindings"`` screens (badge, picker, the quit question) have no free-text
  field, so every printable key and the terminator belong to a scan, however
  slowly they come. The one exception is a lone key that is bound on the
  screen (``r``, ``1``–``9``, ``y``) with nothing after it within
  :data:`LONE_KEY_WAIT_S`: that is a person pressing a key. The wait is longer
  than the burst gap because an SSH link delivers a scan's first key alone and
  the rest 20–45 ms later; a person does not notice 80 ms. A lone key whose
  action writes a record or ends the station (the picker's digits, the
  question's y and n: the screen's ``DECISIVE_KEYS``) waits longer,
  :data:`DECISIVE_KEY_WAIT_S`: when a packet of the link is lost, the rest of
  the scan comes only after TCP's retransmission timeout (200 ms at least),
  and that first key would otherwise redeem the last person's product. A key
  that comes within that wait but later than a burst's gap starts the scan's
  rest if a burst follows it; alone, it is the same person pressing again and
  is dropped (one press acts); Enter lets the first key act, Esc or an arrow
  takes it back. Tab never reaches these screens (it would move focus).
- ``"off"`` screens get their keys untouched (none at the moment).

Characters that are not printable (a bidi override, a zero-width space) and
an Alt chord (the terminal's reading of ESC followed at once by a character)
are held and passed on as what they are, so the decoder refuses the scan
instead of a shortened code being accepted. The terminal's parser reads a few
ESC + character pairs as keys without a character (ESC b is ctrl+left, ESC f
ctrl+right, ESC O x an SS3 key): such a key is held like a control byte when it
comes first, so the code behind it cannot lose its ESC and its first letter and
be accepted as a shorter code (ESC + "bob1" would check in badge OB1); alone,
it is passed on after the wait.

On a field screen other than the scan screen (the lookup), a short first piece
of a split scan is released to the field before the rest is recognised as a
burst; the router remembers it (``Decision.spilled``) so the app can take it
back out of the field and put it in front of the scan. A second piece too
short to be a burst on its own (a six-character code split 3 + 3) still is
one when it follows such a first piece at once and the two together make
:data:`SCANNER_RUN` fast keys.

Control bytes a scanner types (the GS1 separator 0x1D arrives as ctrl+], 0x10
as ctrl+p, 0x11 as ctrl+q) are held like printable keys, so inside or at the
start of a burst they never fire a binding; they go to the decoder with the
rest, which drops the separators and refuses any other control character. A
lone one that nothing follows is released: a person pressed ctrl+q.

Over SSH, timing is jittery (OpenSSH 9.5+ sends keys in 20 ms ticks). A burst
cut in two by the network stays one scan once it was recognised; on the scan
screen the app also puts whatever reached the field before the rest of the
burst in front of it (see ``StationApp``). The framing right after a scan (the
LF of CR LF, an Enter after a Tab or after a paste) is swallowed, never sent
to the screen, where it could pick a list item.

The stamps (``Key.time``) are taken when the keys are parsed, and a loaded machine
can stall in the middle of one read (the process descheduled, the GIL held by a
worker thread): one key is then stamped 100 ms before the rest although all of
them reach the app together. A key stamped before the app routed the one ahead
of it was already waiting behind it, so the app saw no pause between them: it
continues the held run whatever the stamps say. Otherwise the first key would
be handed to the screen alone, where it answers the quit question, opens the
picker or types into a field, while the rest is scanned as a shorter code.

A code that stops before its terminator is not held for ever: after
:data:`STALE_AFTER_S` it is submitted (a scanner whose terminator is not the
configured one still gets through, a little late).

Enter (CR) and LF end a scan whatever terminator the profile names; Tab ends
one only with ``terminator = "tab"`` (elsewhere it is kept with the code: the
decoder drops it at the end and refuses it inside, and a code that then never
gets its Enter is finished after :data:`STALE_AFTER_S`, see below). With
``terminator = "none"`` a pause after a burst ends the scan.

The router only decides; the app holds the events and replays them. It
knows nothing of Textual: any object with the four attributes of
:class:`KeyLike` will do, so it is unit-tested as plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

ScanKeys = Literal["field", "bindings", "off"]

SCANNER_RUN = 4
"""Keys in a row, each within the gap of the one before, that make a burst a scan."""
STALE_AFTER_S = 1.5
"""How long a recognised but unterminated code waits for its terminator."""
LONE_KEY_WAIT_S = 0.08
"""How long a lone bound key on a screen with choices waits for followers before it acts:
a split's 45 ms plus the event loop's jitter (50 ms once let a 45 ms split through in CI)."""
DECISIVE_KEY_WAIT_S = 0.3
"""How long a lone key that writes or ends the station waits: TCP's shortest retransmission
timeout (200 ms on Linux) plus a round trip and jitter, still quick for a person's choice."""
SPLIT_WINDOW_S = 0.08
"""A burst starting this soon after keys were released to a field continues them."""
QUIET_BEFORE_SPLIT_S = 0.15
"""...if nothing reached the screen for this long before those keys: a scan's first piece
comes out of silence, a person's last typed letter right after their other letters."""


class KeyLike(Protocol):
    """What the router reads of a key event (Textual's ``events.Key`` has all four)."""

    @property
    def key(self) -> str: ...

    @property
    def character(self) -> str | None: ...

    @property
    def time(self) -> float: ...

    @property
    def is_printable(self) -> bool: ...


K = TypeVar("K", bound=KeyLike)

# Keys that some sources (Textual's pilot, some drivers) send without a character.
_KEY_CHARACTERS = {"enter": "\r", "tab": "\t"}
_FRAMING = ("\r", "\n", "\t")
# CR and LF end a scan whichever terminator the profile names (scanners are often set up
# differently than their paperwork says); Tab only when the profile says so, because some
# scanners put one between the fields of a form payload, which must be refused whole.
_ENDS = ("\r", "\n")
# Control characters that are keys a person uses, not bytes a scanner types.
_PERSON_KEYS = frozenset({"escape", "backspace", "tab", "enter"})
# Keys without a character that a person uses (and holds down to repeat): never held.
_PERSON_NAVIGATION = _PERSON_KEYS | frozenset(
    {"shift+tab", "up", "down", "left", "right", "home", "end", "pageup", "pagedown"}
    | {"insert", "delete"}
)


def is_scanner_control(key: KeyLike) -> bool:
    """A character that is not printable (a C0 byte such as GS or DLE, a bidi override,
    a zero-width space): part of what was scanned, never a key a person means."""
    character = key.character
    return (
        character is not None
        and len(character) == 1
        and not character.isprintable()
        and key.key not in _PERSON_KEYS
    )


def is_escape_residue(key: KeyLike) -> bool:
    """A key without a character that no person uses on a station (ctrl+left, F5...):
    it may be what the terminal made of an ESC in front of a scanned code."""
    return not key.character and key.key not in _PERSON_NAVIGATION


def _scanned_text(key: KeyLike) -> str:
    """What a held key contributes to the scanned text.

    A key that is not text (an arrow, a function key) becomes ESC, so the decoder
    refuses the whole scan instead of accepting a shortened code. An Alt chord is
    the terminal's reading of ESC followed at once by a character: it stays ESC
    plus the character, and the decoder refuses it, as it refuses any ESC.
    """
    character = key.character or _KEY_CHARACTERS.get(key.key, "")
    if not character:
        return "\x1b"
    if key.key.startswith("alt+"):
        return "\x1b" + character
    return character


@dataclass(slots=True)
class Decision(Generic[K]):
    """What to do with the key just fed: replay ``release`` first, then the rest."""

    release: list[K] = field(default_factory=list)
    forward: bool = False
    submit: str | None = None
    spilled: str = ""
    """Text released to the field just before this submitted burst: its first piece."""


@dataclass(slots=True)
class BurstRouter(Generic[K]):
    gap: float
    submit_on_pause: bool = False
    """The scanner sends no terminator: a burst ends when the keys stop."""
    tab_ends: bool = False
    """The scanner ends a code with Tab."""
    stale_after: float = STALE_AFTER_S
    lone_wait: float = LONE_KEY_WAIT_S
    decisive_wait: float = DECISIVE_KEY_WAIT_S
    split_window: float = SPLIT_WINDOW_S
    held: list[K] = field(default_factory=list)
    last: float = 0.0
    """Time of the last held key (``Key.time``, monotonic)."""
    run: int = 0
    """Held keys that came each within the gap of the one before, counting the first."""
    collecting: bool = False
    """True once the held keys are known to be a code (not bindings, not typing)."""
    decisive: bool = False
    """The one held key writes or ends the station if it stays alone: it waits longer."""
    again: bool = False
    """A second key came only within that longer wait: the rest of a scan if a burst
    follows, else the same person pressing again (dropped: one press)."""
    kind: ScanKeys = "field"
    """The screen kind the last key was fed for."""
    submitted_at: float = float("-inf")
    """When the last scan was submitted: framing right after it is swallowed."""
    spill: str = ""
    """Keys last released to a field, which a burst right after them continues."""
    spill_at: float = float("-inf")
    """Time of the last of those keys."""
    started_at: float = float("-inf")
    """Time of the first held key."""
    spill_run: int = 0
    """How many fast keys in a row the spilled keys were."""
    touched_at: float = float("-inf")
    """Time of the last key that reached the screen (released or passed on)."""
    routed_at: float = float("-inf")
    """When the app routed the last key fed (monotonic, the clock of ``Key.time``)."""

    def _window(self) -> float:
        """How long the held keys wait for the next one: a lone key on a screen with
        choices waits longer (an SSH link sends a scan's first key alone)."""
        if self.kind == "bindings" and len(self.held) == 1 and not self.collecting:
            return max(self.gap, self.decisive_wait if self.decisive else self.lone_wait)
        return self.gap

    def text(self) -> str:
        """The held keys as scanned text."""
        return "".join(_scanned_text(key) for key in self.held)

    def take(self) -> list[K]:
        """Give up every held key (the caller replays or drops them)."""
        held, self.held = self.held, []
        if self.again:
            del held[1:]  # a person's second press within the wait: one press
        self.collecting = False
        self.decisive = False
        self.again = False
        self.run = 0
        return held

    def _hold(self, key: K) -> None:
        if not self.held:
            self.started_at = key.time
        self.held.append(key)
        self.last = key.time

    def _release(self) -> list[K]:
        """Give the held keys back to the screen; on a field they may be a split scan's
        first piece, so remember them for a burst that follows at once."""
        run = self.run
        released = self.take()
        if released and self.kind == "field":
            self.spill_run = run
            quiet = released[0].time - self.touched_at >= QUIET_BEFORE_SPLIT_S
            self.spill = "".join(_scanned_text(key) for key in released) if quiet else ""
            self.spill_at = released[-1].time
        return released

    def _submit(self, at: float) -> Decision[K]:
        started = self.started_at
        text = self.text()
        self.take()
        self.submitted_at = at
        spilled = ""
        if self.spill and 0 <= started - self.spill_at <= self.split_window:
            spilled = self.spill
        self.spill = ""
        return Decision(submit=text, spilled=spilled)

    def _continues_spill(self) -> bool:
        """The held keys follow at once a first piece released to the field out of
        silence, and with it they make a scanner's run: the rest of a split scan, even
        when it alone is too short to be recognised."""
        return (
            bool(self.spill)
            and 0 <= self.started_at - self.spill_at <= self.split_window
            and self.run + self.spill_run >= SCANNER_RUN
        )

    def _pressed_again(self, key: K) -> bool:
        """The key follows a lone decisive key later than a burst's gap (only the longer
        wait took it in), and did not arrive with it."""
        return (
            self.decisive
            and len(self.held) == 1
            and not self.collecting
            and key.time - self.last > self.gap
            and key.time > self.routed_at
        )

    def note_submitted(self, at: float) -> None:
        """A scan arrived another way (a paste): swallow the framing that may follow."""
        self.submitted_at = at

    def feed(
        self,
        key: K,
        kind: ScanKeys,
        *,
        bound: bool,
        decisive: bool = False,
        now: float | None = None,
    ) -> Decision[K]:
        """Route one key; ``bound`` says whether the current screen binds it, ``decisive``
        whether that binding writes or ends the station, ``now`` when the app routes it (a
        key stamped before the last one was routed was waiting behind it: the two came
        together, whatever their stamps say)."""
        decision = self._feed(key, kind, bound=bound, decisive=decisive)
        self._touched(decision, key)
        self.routed_at = key.time if now is None else now
        return decision

    def _touched(self, decision: Decision[K], key: K | None) -> None:
        if decision.release:
            self.touched_at = decision.release[-1].time
        if decision.forward and key is not None:
            self.touched_at = key.time

    def _feed(self, key: K, kind: ScanKeys, *, bound: bool, decisive: bool) -> Decision[K]:
        self.kind = kind
        character = key.character or _KEY_CHARACTERS.get(key.key, "")
        within_gap = bool(self.held) and (
            key.time - self.last <= self._window() or key.time <= self.routed_at
        )
        if not self.held and character in _FRAMING and key.time - self.submitted_at <= self.gap:
            return Decision()  # the rest of the last scan's framing
        if within_gap and self._pressed_again(key):
            if character in _ENDS:  # Enter after a person's digit or y: no code is one key
                return Decision(release=self.take())
            if key.key in _PERSON_NAVIGATION:  # Esc, an arrow: the person changed their mind
                self.take()
                return Decision(forward=key.key != "tab")
            self._hold(key)  # a scan's late rest, or the same person pressing again
            self.run = 1
            self.again = True
            return Decision()
        if character in _ENDS or (character == "\t" and self.tab_ends):
            ends_scan = kind == "bindings" or self._continues_spill()
            if self.held and (self.collecting or (within_gap and ends_scan)):
                return self._submit(key.time)
            release = self.take()
            # Tab never moves focus where there is no field to type in.
            return Decision(release=release, forward=not (kind == "bindings" and key.key == "tab"))
        if within_gap:
            # Mid-burst, even a control key belongs to the scan (the decoder judges it).
            self._hold(key)
            self.run += 1
            self.collecting = (
                self.collecting
                or kind == "bindings"
                or self.run >= SCANNER_RUN
                or self._continues_spill()
            )
            self.again = self.again and not self.collecting
            return Decision()
        if not (key.is_printable or is_scanner_control(key)):
            if key.key == "tab":
                if self.collecting:  # the decoder drops it at the end, refuses it inside
                    self._hold(key)
                    self.run = 1
                    return Decision()
                if kind == "bindings":
                    return Decision()  # Tab never moves focus where there is no field
            if not self.collecting and is_escape_residue(key):
                # Held like a control byte: if a code follows, the decoder refuses the ESC.
                release = self._release()
                self._hold(key)
                self.run = 1
                return Decision(release=release)
            if not self.collecting:
                self.spill = ""  # a person's key: whatever was typed before stays theirs
                return Decision(release=self.take(), forward=True)
            if key.key == "backspace":
                self.held.pop()
                if not self.held:
                    self.take()
                return Decision()
            self.take()  # Esc, arrows...: a half-typed code is abandoned, never replayed
            return Decision(forward=key.key != "escape")
        if self.collecting:
            self._hold(key)  # a code typed slowly on a screen without a field
            self.run = 1
            return Decision()
        release = self._release()
        self._hold(key)
        self.run = 1
        self.collecting = kind == "bindings" and not bound and key.is_printable
        self.decisive = bound and decisive
        return Decision(release=release)

    def due(self, now: float) -> float | None:
        """Seconds until :meth:`timeout` has something to decide; None while nothing is held."""
        if not self.held:
            return None
        ends_on_pause = self.submit_on_pause and len(self.held) > 1
        wait = self._window() if ends_on_pause or not self.collecting else self.stale_after
        return max(0.0, self.last + wait - now)

    def timeout(self, now: float) -> Decision[K]:
        """Called when :meth:`due` says so: decide what the pause after the held keys means.

        A short run is a person: released. With a scanner that sends no
        terminator, a pause after a burst ends the scan. A recognised code
        whose terminator never came is submitted after ``stale_after`` (a
        single stray key on a screen without a field is dropped).
        """
        decision = self._timeout(now)
        self._touched(decision, None)
        return decision

    def _timeout(self, now: float) -> Decision[K]:
        if not self.held:
            return Decision()
        waited = now - self.last
        if waited < self._window() * 0.9:
            return Decision()
        if self.submit_on_pause and self.collecting and len(self.held) > 1:
            return self._submit(now)
        if not self.collecting:
            return Decision(release=self._release())
        if waited < self.stale_after * 0.9:
            return Decision()
        if len(self.held) > 1:
            return self._submit(now)
        self.take()
        return Decision()

    def reset(self) -> None:
        self.take()
