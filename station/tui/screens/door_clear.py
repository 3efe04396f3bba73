"""F7 at a door: a supervisor clears the room ("everyone out") — name, PIN, then a yes.

Keyboard only, one step at a time: the supervisor's name, Enter, their PIN, Enter;
then the question, with how many are inside now, answered with y (or n / Esc).
Nothing is deleted: the door's "everyone out" is a record, and the room counts
from zero after it. Dismisses with the result, or None (Esc, or n).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from station.scanflow.keys import ScanKeys
from station.services.results import DoorClearResult
from station.tui import keymap
from station.tui.messages import DoorCleared, RoomLoaded
from station.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from station.tui.ports import StationPort


class DoorClearScreen(ModalScreen[DoorClearResult | None]):
    BINDINGS = keymap.DOOR_CLEAR
    # Every key goes to the fields, fast or slow (a name typed quickly, or pasted, is
    # still a name): no scan starts while this screen shows.
    SCAN_KEYS: ClassVar[ScanKeys] = "off"
    AUTO_FOCUS = "#clear-name"

    HELP_TITLE = "everyone out"
    HELP_ABOUT = (
        "A supervisor clears this door's room: everyone counts as outside until scanned "
        "in again. Recorded, not deleted."
    )
    HELP_KEYS = (
        ("Enter", "Next step"),
        ("y / n", "Clear the room, or not"),
        ("Esc", "Cancel: nothing is recorded"),
    )

    def __init__(self, *, door: str) -> None:
        super().__init__()
        self.door = door
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="void-box"):
            yield Static(Content(f"Everyone out — {self.door}"), id="void-title", markup=False)
            yield Input(placeholder="Supervisor name", id="clear-name")
            yield Input(password=True, placeholder="PIN, then Enter", id="clear-pin")
            yield Static(id="void-message", markup=False)

    @property
    def port(self) -> StationPort:
        return cast("StationPort", self.app)

    def say(self, text: str) -> None:
        self.query_one("#void-message", Static).update(Content(text))

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#clear-name")
    def _name_entered(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.query_one("#clear-pin", Input).focus()

    @on(Input.Submitted, "#clear-pin")
    def _pin_entered(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value or self.busy:
            return
        if not self.query_one("#clear-name", Input).value.strip():
            self.query_one("#clear-name", Input).focus()
            return
        self.busy = True
        self.say("Counting the room…")
        self.port.door_room(self)

    def on_room_loaded(self, message: RoomLoaded) -> None:
        if message.room is None:
            self.busy = False
            self.say(message.error.message if message.error else "The room could not be read.")
            return
        room = message.room
        shown = f"{room.inside}/{room.capacity}" if room.capacity else str(room.inside)
        question = f"Everyone out of {room.product}? Inside now: {shown}; the room counts 0 after."
        self.app.push_screen(ConfirmScreen(question), self._answered)

    def _answered(self, yes: bool | None) -> None:
        if not yes:
            self.busy = False
            self.say("Not cleared. Esc closes.")
            return
        self.say("Clearing…")
        self.port.clear_door(
            self.query_one("#clear-name", Input).value,
            self.query_one("#clear-pin", Input).value,
            self,
        )

    def on_door_cleared(self, message: DoorCleared) -> None:
        self.busy = False
        if message.result is not None:
            self.dismiss(message.result)
            return
        assert message.error is not None
        self.say(message.error.message)
        if "PIN" in message.error.message:
            pin = self.query_one("#clear-pin", Input)
            pin.value = ""
            pin.focus()
        else:
            self.query_one("#clear-name", Input).focus()
