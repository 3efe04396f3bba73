"""F1: the keys of the screen underneath, and in the demo the sample badge codes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from station.scanflow.keys import ScanKeys
from station.tui import keymap

if TYPE_CHECKING:
    from station.tui.ports import StationPort

KEY_WIDTH = 10


class HelpScreen(Screen[None]):
    """Closes with Esc or F1, on a scan (the scan goes on as anywhere), or when the
    volunteer starts typing a code, which goes to the scan field."""

    BINDINGS = keymap.HELP
    SCAN_KEYS: ClassVar[ScanKeys] = "bindings"
    LONE_KEYS_WAIT: ClassVar[bool] = True

    def __init__(
        self,
        *,
        title: str,
        about: str,
        keys: tuple[tuple[str, str], ...],
        demo_codes: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__()
        self.title_text = title
        self.about = about
        self.keys = keys
        self.demo_codes = demo_codes

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(render_help(self), id="help-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-box", VerticalScroll).focus()

    def on_key(self, event: events.Key) -> None:
        """A person starts typing a code: to the scan field with it."""
        if event.is_printable and event.character and event.key not in self.active_bindings:
            event.stop()
            event.prevent_default()
            cast("StationPort", self.app).type_into_scan_field(event.character)

    def action_close(self) -> None:
        self.dismiss()


def render_help(screen: HelpScreen) -> Content:
    """Plain parts only: nothing here is read as markup."""
    lines: list[Content] = [Content.styled(f"Keys — {screen.title_text}", "bold")]
    if screen.about:
        lines.append(Content(screen.about))
    lines.append(Content(""))
    for key, what in screen.keys:
        lines.append(Content.assemble((key.ljust(KEY_WIDTH), "bold"), "  ", what))
    if screen.demo_codes:
        lines += [
            Content(""),
            Content.styled("Demo badge codes (type one on the scan screen, then Enter):", "bold"),
        ]
        lines += demo_code_lines(screen.demo_codes)
    return Content("\n").join(lines)


def demo_code_lines(codes: tuple[tuple[str, str], ...], *, cell: int = 37) -> list[Content]:
    """The demo's (case, code) pairs in two columns, so all of them fit at 80×24."""
    rows = (len(codes) + 1) // 2
    lines: list[Content] = []
    for row in range(rows):
        cells = [
            Content.assemble((code, "bold"), " ", label).truncate(cell, ellipsis=True, pad=True)
            for label, code in codes[row::rows]
        ]
        lines.append(Content("  ").join(cells).rstrip())
    return lines
