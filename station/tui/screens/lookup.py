"""Manual lookup for a lost or unreadable badge: part of a name, email or code."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from station.scanflow.keys import ScanKeys
from station.services.results import AttendeeMatch
from station.tui import keymap
from station.tui.components.header import TooSmall
from station.tui.messages import SearchFinished

if TYPE_CHECKING:
    from station.tui.ports import StationPort

DEBOUNCE_S = 0.25
MIN_QUERY = 2


class LookupScreen(Screen[str | None]):
    """Dismisses with the chosen access code; the app continues as for a scan."""

    BINDINGS = keymap.LOOKUP
    SCAN_KEYS: ClassVar[ScanKeys] = "field"
    # Pasted text is what the volunteer searches for (the search box takes it); a paste
    # elsewhere is a scan.
    PASTE_IS_TEXT: ClassVar[bool] = True
    AUTO_FOCUS = "#lookup-input"
    HELP_TITLE = "find an attendee"
    HELP_ABOUT = "Type part of a name, email or badge code; a scan here scans as anywhere."
    HELP_KEYS = (
        ("↓ ↑", "Move to a result"),
        ("Enter", "Take the result moved to (a lone Enter picks nothing)"),
        ("Esc", "Back to the scan screen"),
    )

    def __init__(self) -> None:
        super().__init__()
        self.matches: tuple[AttendeeMatch, ...] = ()
        self.matches_for = ""
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(Content("Find an attendee"), id="lookup-title", markup=False)
        yield Input(placeholder="Part of a name, email or badge code", id="lookup-input")
        yield Static(Content("Type at least 2 characters."), id="lookup-status", markup=False)
        yield OptionList(id="lookup-results")
        yield Footer()
        yield TooSmall()

    @property
    def results(self) -> OptionList:
        return self.query_one("#lookup-results", OptionList)

    @property
    def search_input(self) -> Input:
        return self.query_one("#lookup-input", Input)

    def take_back(self, spilled: str) -> None:
        """The first keys of a split scan went into the search box: take them out."""
        field = self.search_input
        if spilled and field.value.endswith(spilled):
            field.value = field.value[: -len(spilled)]
            field.cursor_position = len(field.value)

    def _status(self, text: str) -> None:
        self.query_one("#lookup-status", Static).update(Content(text))

    @on(Input.Changed, "#lookup-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        query = event.value.strip()
        if len(query) < MIN_QUERY:
            self._show(query, ())
            self._status("Type at least 2 characters.")
            return
        self._status("Searching…")
        self._debounce = self.set_timer(DEBOUNCE_S, lambda: self._search(query))

    def _search(self, query: str) -> None:
        cast("StationPort", self.app).search_attendees(query, self)

    def on_search_finished(self, message: SearchFinished) -> None:
        current = self.query_one("#lookup-input", Input).value.strip()
        if message.query != current:
            return  # an older search answered late
        if message.error is not None:
            self._show(message.query, ())
            self._status(message.error.message)
            return
        self._show(message.query, message.matches)
        if not message.matches:
            self._status("No attendee matches.")
        elif message.more:
            self._status(f"First {len(message.matches)} shown — refine the search.")
        else:
            self._status(f"{len(message.matches)} found — ↓ to choose one, then Enter.")

    def _show(self, query: str, matches: tuple[AttendeeMatch, ...]) -> None:
        self.matches = matches
        self.matches_for = query
        self.results.clear_options()
        # Room for the vertical scrollbar even before it shows: the options go in first, and
        # a list that then overflows would shrink under them, wrapping each line's code away.
        results = self.results
        width = (results.content_region.width or 78) - results.styles.scrollbar_size_vertical
        self.results.add_options(match_option(m, width=width) for m in matches)
        # No row is chosen until the volunteer moves to one: a stray Enter (a scanner's
        # framing, a code the terminal cut short) must not pick somebody.
        self.results.highlighted = None

    @on(Input.Submitted, "#lookup-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        index = self.results.highlighted
        if self.matches and self.matches_for == event.value.strip() and index is not None:
            self.dismiss(self.matches[index].access_code)

    @on(OptionList.OptionSelected, "#lookup-results")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.matches[event.option_index].access_code)

    def action_results_down(self) -> None:
        self.results.action_cursor_down()

    def action_results_up(self) -> None:
        self.results.action_cursor_up()

    def action_close(self) -> None:
        self.dismiss(None)


def match_option(match: AttendeeMatch, *, width: int = 76) -> Option:
    """One line, whatever the width: name, email and ticket are shortened with …, the
    code at the end always shows (a result that wrapped was drawn one line high)."""
    code = Content.assemble("  ·  ", match.access_code)
    about = Content.assemble((match.name, "bold"), "  ", match.email, "  ·  ", match.ticket_type)
    room = max(width - code.cell_length, 8)
    if about.cell_length > room:
        about = about.truncate(room, ellipsis=True)
    return Option(about + code)
