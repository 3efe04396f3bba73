"""Kiosk mode: a volunteer cannot leave the station, reach a shell, or hang it.

The app already owns every binding (no inherited ctrl+q/ctrl+c, no command
palette) and runs with the mouse off, so in kiosk mode only quitting is left
to lock: it asks for the supervisor PIN. Keys that a terminal would turn into
signals (ctrl+c, ctrl+z, ctrl+\\) stay plain keys as long as Textual keeps ISIG
off, which ``TEXTUAL_ALLOW_SIGNALS`` would undo, so that variable is dropped.

Over a slow SSH link every blink of the cursor and every animation frame is
traffic, so both are off.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Static

from station.pins import verify_pin
from station.scanflow.keys import ScanKeys

__all__ = [
    "NO_PIN_MESSAGE",
    "SupervisorPinScreen",
    "harden_environment",
    "lock_down",
    "quiet_cursor",
    "request_quit",
]

NO_PIN_MESSAGE = "Kiosk mode: quitting needs a supervisor PIN, and none is configured."
WRONG_PIN_MESSAGE = "Wrong PIN."
SIGNAL_KEYS_ENV = "TEXTUAL_ALLOW_SIGNALS"


def harden_environment(environ: MutableMapping[str, str]) -> None:
    """Call before the app starts: keep ctrl+c / ctrl+z / ctrl+\\ from becoming signals."""
    environ.pop(SIGNAL_KEYS_ENV, None)


def lock_down(app: App[Any]) -> None:
    """Call from the app's ``on_mount`` in kiosk mode."""
    app.animation_level = "none"


def quiet_cursor(widget: Widget) -> None:
    """Call for every focused widget in kiosk mode: a focused Input stops blinking."""
    if isinstance(widget, Input) and widget.cursor_blink:
        widget.cursor_blink = False


def request_quit(app: App[Any], pin_hash: str | None, *, exit_code: int = 0) -> None:
    """Quit only after the supervisor PIN; without a configured PIN, never from the keyboard."""
    if isinstance(app.screen, SupervisorPinScreen):
        return
    if not pin_hash:
        app.notify(NO_PIN_MESSAGE, severity="warning", markup=False)
        return

    def answered(unlocked: bool | None) -> None:
        if unlocked:
            app.exit(return_code=exit_code)

    app.push_screen(SupervisorPinScreen(pin_hash), answered)


class SupervisorPinScreen(ModalScreen[bool]):
    """Asks for the supervisor PIN; dismisses True only for the right one.

    The PIN is checked in a thread (scrypt is slow on purpose) and each wrong
    one locks the field for a moment, so guessing at the desk is tedious.
    """

    SCOPED_CSS = False  # the app's ``-ascii`` class must reach these rules
    DEFAULT_CSS = """
    SupervisorPinScreen {
        align: center middle;
    }
    #supervisor-box {
        width: 46;
        height: auto;
        padding: 1 2;
        border: thick $warning;
        background: $surface;
    }
    #supervisor-title {
        text-style: bold;
    }
    #supervisor-message {
        height: 1;
    }
    .-ascii #supervisor-box {
        border: ascii $warning;
    }
    .-ascii #supervisor-pin, .-ascii #supervisor-pin:focus {
        border: ascii $accent;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Back"),
    ]
    # A person's PIN reaches the field; a badge scanned meanwhile goes to the scan flow
    # (never into the PIN field, where its Enter would count as a wrong PIN).
    SCAN_KEYS: ClassVar[ScanKeys] = "field"
    WRONG_PIN_PAUSE_S: ClassVar[float] = 1.0

    def __init__(self, pin_hash: str, *, verify: Callable[[str, str], bool] = verify_pin) -> None:
        super().__init__()
        self.pin_hash = pin_hash
        self.verify = verify
        self.attempts = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="supervisor-box"):
            yield Static(Content("Supervisor PIN to quit"), id="supervisor-title", markup=False)
            yield Input(password=True, placeholder="PIN", id="supervisor-pin")
            yield Static(
                Content("Enter: unlock    Esc: back to scanning"),
                id="supervisor-message",
                markup=False,
            )

    @property
    def pin_input(self) -> Input:
        return self.query_one("#supervisor-pin", Input)

    def on_mount(self) -> None:
        quiet_cursor(self.pin_input)
        self.pin_input.focus()

    def say(self, text: str) -> None:
        self.query_one("#supervisor-message", Static).update(Content(text))

    @on(Input.Submitted, "#supervisor-pin")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        pin = event.value
        self.pin_input.clear()
        if not pin or self.pin_input.disabled:
            return
        self.pin_input.disabled = True
        self.say("Checking…")
        self._check(pin)

    @work(thread=True, exclusive=True, group="supervisor-pin", exit_on_error=False)
    def _check(self, pin: str) -> None:
        try:
            unlocked = self.verify(pin, self.pin_hash)
        except Exception:
            unlocked = False
        self.app.call_from_thread(self._checked, unlocked)

    def _checked(self, unlocked: bool) -> None:
        if not self.is_attached:
            return  # dismissed with Esc while the PIN was being checked
        if unlocked:
            self.dismiss(True)
            return
        self.attempts += 1
        self.say(WRONG_PIN_MESSAGE)
        self.set_timer(self.WRONG_PIN_PAUSE_S, self._unlock_field)

    def _unlock_field(self) -> None:
        self.pin_input.disabled = False
        self.pin_input.focus()
        quiet_cursor(self.pin_input)
        self.say(f"{WRONG_PIN_MESSAGE} Try again, or Esc.")

    def action_cancel(self) -> None:
        self.dismiss(False)
