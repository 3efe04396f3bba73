"""The home screen: one scan field that always has focus, the verdict, the last scans."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from station.scanflow.keys import ScanKeys
from station.tui import keymap
from station.tui.components.banner import VerdictBanner
from station.tui.components.header import Counters, StationHeader, TooSmall
from station.tui.components.history import ScanHistory
from station.tui.components.offline_bar import OfflineBar
from station.tui.messages import ScanSubmitted
from station.tui.verdicts import Tone, Verdict, idle

if TYPE_CHECKING:
    from station.tui.ports import StationPort


class ScanInput(Input):
    """The scan field. No restrict/max_length: those drop characters silently, and a
    truncated code can match another badge; the decoder validates on submit.
    Tab submits like Enter: it is a common scanner terminator and never moves focus."""

    BINDINGS = keymap.SCAN_INPUT

    def check_consume_key(self, key: str, character: str | None) -> bool:
        # A "?" typed into the empty field is the screen's help key; anywhere else (after
        # other keys, or inside a scanner burst, which goes straight to the field) it types.
        if character == "?" and not self.value:
            return False
        return super().check_consume_key(key, character)


class ScanScreen(Screen[None]):
    BINDINGS = keymap.SCAN
    SCAN_KEYS: ClassVar[ScanKeys] = "field"
    AUTO_FOCUS = "#scan-input"
    HELP_TITLE = "scan screen"
    HELP_ABOUT = "Scan a badge, or type its code and press Enter (or Tab)."
    HELP_KEYS = (
        ("Enter", "Scan the code in the field"),
        ("/  F2", "Find an attendee by name, email or code (/: field empty)"),
        ("?", "This help (while the field is empty)"),
        ("F4", "Undo: void this station's last scan (within the void window; asks first)"),
        ("F5", "Supervisor void: PIN, badge, the scan to void, a reason"),
        ("F6", "Door: switch between IN (admit) and OUT (record exits)"),
        ("F7", "Door: everyone out (a supervisor with their PIN; asks first)"),
    )

    def __init__(self) -> None:
        super().__init__()
        self.verdict: Verdict = idle()
        self._stale = False
        self.verdict_seconds = 6.0
        """How long a verdict stays up (``badge_seconds``); then the band says READY."""
        self._verdict_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StationHeader(id="header")
        yield Counters(id="counters")
        yield OfflineBar(id="offline-bar")
        yield ScanInput(placeholder="Scan a badge — or press / to search by name", id="scan-input")
        yield VerdictBanner(id="banner")
        yield Static(id="working", markup=False)
        yield ScanHistory(id="history")
        yield Footer()
        yield TooSmall()

    @property
    def scan_input(self) -> ScanInput:
        return self.query_one("#scan-input", ScanInput)

    @property
    def banner(self) -> VerdictBanner:
        return self.query_one("#banner", VerdictBanner)

    @property
    def history(self) -> ScanHistory:
        return self.query_one("#history", ScanHistory)

    @property
    def counters(self) -> Counters:
        return self.query_one("#counters", Counters)

    @property
    def offline_bar(self) -> OfflineBar:
        return self.query_one("#offline-bar", OfflineBar)

    @property
    def header(self) -> StationHeader:
        return self.query_one("#header", StationHeader)

    def on_mount(self) -> None:
        cast("StationPort", self.app).scan_screen_mounted()

    def on_screen_resume(self) -> None:
        self.scan_input.focus()
        # Catch up with what happened while a badge preview covered this screen.
        if self._stale:
            self._stale = False
            self.banner.show(self.verdict)
            self.history.redraw()

    def show_outcome(self, verdict: Verdict, entry: tuple[str, str] | None) -> None:
        """Show a scan's verdict (and add ``entry`` = (time, who) to the history).

        While covered by the badge preview, only remember it: repainting a hidden
        screen would slow down the badge the volunteer is looking at.
        """
        self.verdict = verdict
        self._time_verdict(verdict)
        visible = self.is_current
        if entry is not None:
            self.history.record(*entry, verdict, redraw=visible)
        if visible:
            self.banner.show(verdict)
        else:
            self._stale = True

    def _time_verdict(self, verdict: Verdict) -> None:
        """Every verdict, OK or refused, clears after ``verdict_seconds``: the next person
        in line must not read the last one's. A scan on its way (CHECKING) stays."""
        if self._verdict_timer is not None:
            self._verdict_timer.stop()
            self._verdict_timer = None
        if verdict.tone is not Tone.IDLE or verdict.word not in ("READY", "CHECKING"):
            self._verdict_timer = self.set_timer(
                self.verdict_seconds, self._verdict_expired, name="verdict-timeout"
            )

    def _verdict_expired(self) -> None:
        self._verdict_timer = None
        self.verdict = idle()
        if self.is_current:
            self.banner.show(self.verdict)
        else:
            self._stale = True

    def on_descendant_blur(self) -> None:
        # Nothing else here may hold focus: a scan must always land in the field.
        self.call_after_refresh(self._refocus)

    def _refocus(self) -> None:
        if self.is_current and self.focused is not self.scan_input:
            self.scan_input.focus()

    @on(Input.Submitted, "#scan-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        self.scan_input.clear()
        if text.strip():
            self.app.post_message(ScanSubmitted(text))

    def take_typed(self) -> str:
        """Empty the field and return what had been typed into it."""
        field = self.scan_input
        typed = field.value
        if typed:
            field.clear()
        return typed

    def set_working(self, working: bool) -> None:
        self.query_one("#working", Static).update(
            Content("working…" if working else ""), layout=False
        )

    async def action_slash_lookup(self) -> None:
        if self.scan_input.value:
            raise SkipAction()
        await self.app.run_action("open_lookup")

    async def action_question_help(self) -> None:
        if self.scan_input.value:
            raise SkipAction()
        await self.app.run_action("help")
