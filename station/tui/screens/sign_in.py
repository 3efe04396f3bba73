"""Operator sign-in: every write records who was scanning."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from station.scanflow.keys import ScanKeys
from station.services.errors import DatabaseUnavailable
from station.services.results import StaffMember
from station.text import display_safe
from station.tui import keymap
from station.tui.components.header import TooSmall
from station.tui.messages import SignInChecked, StaffListed

if TYPE_CHECKING:
    from station.tui.ports import StationPort

RETRY_S = 2.0
NO_OPERATOR = StaffMember(id=0, name="(no operator)", has_pin=False)


class SignInScreen(Screen[StaffMember | None]):
    """Dismisses with the signed-in member, or None when no staff exist at all."""

    BINDINGS = keymap.SIGN_IN
    # A scanner's Enter must not pick the highlighted operator; the app drops the scan.
    SCAN_KEYS: ClassVar[ScanKeys] = "field"

    HELP_TITLE = "sign in"
    HELP_ABOUT = "Choose your name; type your PIN if asked. Nothing is scanned until then."
    HELP_KEYS = (
        ("↑ ↓ Enter", "Choose your name"),
        ("Esc", "Back from the PIN to the names"),
    )

    def __init__(self, *, preset: str | None, handing_over: bool = False) -> None:
        super().__init__()
        self.preset = preset
        self.handing_over = handing_over
        """Signed out with F3: the title says so (the last operator is gone)."""
        self.staff: tuple[StaffMember, ...] = ()
        self.member: StaffMember | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="sign-in-box"):
            title = "Signed out. Who is scanning now?" if self.handing_over else "Who is scanning?"
            yield Static(Content(title), id="sign-in-title", markup=False)
            yield OptionList(id="staff-list")
            yield Static(id="pin-label", markup=False)
            yield Input(password=True, placeholder="PIN", id="pin-input")
            yield Static(Content("Loading operators…"), id="sign-in-message", markup=False)
        yield TooSmall()

    @property
    def app_(self) -> StationPort:
        return cast("StationPort", self.app)

    def on_mount(self) -> None:
        self.query_one("#pin-input", Input).display = False
        self.query_one("#pin-label", Static).display = False
        self.app_.list_staff(self)

    def say(self, text: str) -> None:
        self.query_one("#sign-in-message", Static).update(Content(text))

    def on_staff_listed(self, message: StaffListed) -> None:
        if message.error is not None:
            self.say(message.error.message + " Retrying…")
            self.set_timer(RETRY_S, lambda: self.app_.list_staff(self))
            return
        self.staff = message.staff
        options = self.query_one("#staff-list", OptionList)
        options.clear_options()
        if not self.staff:
            options.add_option(Option(Content(NO_OPERATOR.name)))
            self.say("No operators are set up. Press Enter to scan without one.")
        else:
            options.add_options(Option(Content(m.name)) for m in self.staff)
            self.say("↑↓ to choose your name, Enter to sign in.")
        options.highlighted = 0
        options.focus()
        if self.preset:
            preset = next((m for m in self.staff if m.name == self.preset.strip()), None)
            if preset is None:
                shown = display_safe(self.preset, limit=40)
                self.say(f"Operator {shown!r} is not on the staff list — choose a name.")
            else:
                self.choose(preset)

    @on(OptionList.OptionSelected, "#staff-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if not self.staff:
            self.dismiss(None)
            return
        self.choose(self.staff[event.option_index])

    def choose(self, member: StaffMember) -> None:
        self.member = member
        if not member.has_pin:
            self.say(f"Signing in {member.name}…")
            self.app_.sign_in(member.name, None, self)
            return
        label = self.query_one("#pin-label", Static)
        label.update(Content.assemble("PIN for ", (member.name, "bold"), ":"))
        label.display = True
        pin = self.query_one("#pin-input", Input)
        pin.display = True
        pin.clear()
        pin.focus()
        self.say("Type your PIN and press Enter. Esc: choose another name.")

    @on(Input.Submitted, "#pin-input")
    def _pin(self, event: Input.Submitted) -> None:
        event.stop()
        if self.member is None:
            return
        self.say("Checking…")
        self.app_.sign_in(self.member.name, event.value, self)

    def on_sign_in_checked(self, message: SignInChecked) -> None:
        if message.member is not None:
            self.dismiss(message.member)
            return
        error = message.error
        member = self.member
        if isinstance(error, DatabaseUnavailable) and member is not None and not member.has_pin:
            # Nobody has to type anything for this one: try again, as the staff list does,
            # so a terminal that starts with its operator preset gets in by itself.
            self.say(f"Database not reachable — signing in {member.name} when it is back…")
            self.set_timer(RETRY_S, lambda: self._sign_in_again(member))
            return
        text = error.message if error is not None else "Sign-in failed."
        if isinstance(error, DatabaseUnavailable):
            text = "Database not reachable — try again in a moment."
        self.say(text)
        pin = self.query_one("#pin-input", Input)
        if pin.display:
            pin.clear()
            pin.focus()

    def _sign_in_again(self, member: StaffMember) -> None:
        if self.member is member:  # not if someone chose another name meanwhile
            self.app_.sign_in(member.name, None, self)

    def action_back(self) -> None:
        pin = self.query_one("#pin-input", Input)
        if pin.display:
            pin.display = False
            self.query_one("#pin-label", Static).display = False
            self.member = None
            self.query_one("#staff-list", OptionList).focus()
            self.say("↑↓ to choose your name, Enter to sign in.")
