"""F5: a supervisor voids any scan — name, PIN, badge, the scan to void, a reason.

One step at a time, each an Enter: the supervisor's name, their PIN, the badge
(scanned or typed; a scan here fills the badge field, it is never a scan at the
station), then the badge's check-ins, admissions and redemptions to pick from,
then why. Dismisses with the void's result, or None (Esc).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from station.scanflow.keys import ScanKeys
from station.services.results import VoidResult
from station.text import display_safe
from station.tui import keymap
from station.tui.messages import VoidFinished, VoidRecordsLoaded
from station.tui.verdicts import local_time

if TYPE_CHECKING:
    from station.tui.ports import StationPort


class SupervisorVoidScreen(ModalScreen[VoidResult | None]):
    BINDINGS = keymap.SUPERVISOR_VOID
    # Keys go to the fields; a scanner's burst is routed to the badge field by the app.
    SCAN_KEYS: ClassVar[ScanKeys] = "field"
    AUTO_FOCUS = "#void-name"

    HELP_TITLE = "supervisor void"
    HELP_ABOUT = (
        "A supervisor voids a check-in, admission or redemption: name, PIN, badge, "
        "the scan, a reason. The scan stays on record, marked voided."
    )
    HELP_KEYS = (
        ("Enter", "Next step"),
        ("↑ ↓ Enter", "Pick the scan to void"),
        ("Esc", "Cancel: nothing is voided"),
    )

    def __init__(self, *, timezone: str) -> None:
        super().__init__()
        self.timezone = timezone
        self.records: tuple[VoidResult, ...] = ()
        self.chosen: VoidResult | None = None
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="void-box"):
            yield Static(Content("Supervisor void"), id="void-title", markup=False)
            yield Input(placeholder="Supervisor name", id="void-name")
            yield Input(password=True, placeholder="PIN", id="void-pin")
            yield Input(placeholder="Scan or type the badge, then Enter", id="void-badge")
            yield OptionList(id="void-records")
            yield Input(placeholder="Reason (required), then Enter to void", id="void-reason")
            yield Static(id="void-message", markup=False)

    @property
    def port(self) -> StationPort:
        return cast("StationPort", self.app)

    def say(self, text: str) -> None:
        self.query_one("#void-message", Static).update(Content(text))

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#void-name")
    def _name_entered(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.query_one("#void-pin", Input).focus()

    @on(Input.Submitted, "#void-pin")
    def _pin_entered(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value:
            self.query_one("#void-badge", Input).focus()

    def badge_scanned(self, code: str) -> None:
        """A scanner's code while this screen shows: the badge to look at."""
        field = self.query_one("#void-badge", Input)
        field.value = code
        self._load(code)

    @on(Input.Submitted, "#void-badge")
    def _badge_entered(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self._load(event.value.strip())

    def _load(self, code: str) -> None:
        self.say("Looking the badge up…")
        self.port.void_records(code, self)

    def on_void_records_loaded(self, message: VoidRecordsLoaded) -> None:
        if message.error is not None:
            self.say(message.error.message)
            return
        self.records = message.records
        options = self.query_one("#void-records", OptionList)
        options.clear_options()
        options.add_options([Option(self._line(r)) for r in message.records])
        self.say("Pick the scan to void (↑ ↓ Enter).")
        options.highlighted = 0 if message.records else None
        options.focus()

    def _line(self, record: VoidResult) -> Content:
        """One scan of the list: plain text only (names are untrusted)."""
        when = local_time(record.scanned_at, self.timezone)
        voided = "  (voided)" if record.already_voided else ""
        return Content(
            display_safe(
                f"{when}  {record.what} — {record.attendee_name} at {record.station}{voided}",
                limit=76,
            )
        )

    @on(OptionList.OptionSelected, "#void-records")
    def _record_picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        record = self.records[event.option_index]
        if record.already_voided:
            self.say("That scan is already voided: pick another.")
            return
        self.chosen = record
        self.say(f"Voiding: {display_safe(record.what, limit=40)}. Why?")
        self.query_one("#void-reason", Input).focus()

    @on(Input.Submitted, "#void-reason")
    def _reason_entered(self, event: Input.Submitted) -> None:
        event.stop()
        if self.chosen is None or self.busy:
            return
        if not event.value.strip():
            self.say("A reason is required.")
            return
        self.busy = True
        self.say("Voiding…")
        self.port.supervisor_void(
            self.query_one("#void-name", Input).value,
            self.query_one("#void-pin", Input).value,
            self.chosen,
            event.value,
            self,
        )

    def on_void_finished(self, message: VoidFinished) -> None:
        self.busy = False
        if message.result is not None:
            self.dismiss(message.result)
            return
        assert message.error is not None
        self.say(message.error.message)
        if "PIN" in message.error.message:
            pin = self.query_one("#void-pin", Input)
            pin.value = ""
            pin.focus()
        elif "supervisor" in message.error.message:
            self.query_one("#void-name", Input).focus()
