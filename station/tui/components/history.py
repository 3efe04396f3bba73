"""The last scans of this station: time, name and verdict, newest first.

Drawn as plain lines of Content, not a DataTable: the table re-rendered every
cell after each scan and cost more than the database call (see
benchmarks/tui_latency.py). Names go in as Content, never as markup.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from textual.content import Content
from textual.widgets import Static

from station.tui.verdicts import Tone, Verdict, console_text

KEEP = 10
TIME_WIDTH = 8
WHO_WIDTH = 24
GUTTER = "  "

_TONE_STYLE = {
    Tone.REFUSED: "bold",
    Tone.OFFLINE: "bold",
    Tone.ATTENTION: "bold",
    Tone.WARNING: "",
    Tone.OK: "",
}


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    when: str
    who: str
    verdict: Verdict

    @property
    def outcome(self) -> str:
        return f"{self.verdict.symbol} {self.verdict.headline}"


class ScanHistory(Static):
    """A header line and up to ten scans; the widget has a fixed height."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.entries: deque[HistoryEntry] = deque(maxlen=KEEP)
        self.placeholder: Content | None = None
        """Shown instead of the empty table until the first scan (the demo's codes)."""

    def on_mount(self) -> None:
        self.redraw()

    def record(self, when: str, who: str, verdict: Verdict, *, redraw: bool = True) -> None:
        self.entries.appendleft(HistoryEntry(when, who, verdict))
        if redraw:
            self.redraw()

    def redraw(self) -> None:
        if not self.entries and self.placeholder is not None:
            self.update(self.placeholder, layout=False)
            return
        lines = [_row(Content("Time"), Content("Who"), Content("Verdict"), header=True)]
        lines += [
            _row(
                Content(entry.when),
                Content(entry.who),
                Content.styled(
                    console_text(entry.outcome, ascii_only=self.app.has_class("-ascii")),
                    _TONE_STYLE.get(entry.verdict.tone, ""),
                ),
            )
            for entry in self.entries
        ]
        self.update(Content("\n").join(lines), layout=False)


def _row(when: Content, who: Content, outcome: Content, *, header: bool = False) -> Content:
    row = Content.assemble(
        when.truncate(TIME_WIDTH, pad=True),
        GUTTER,
        who.truncate(WHO_WIDTH, ellipsis=True, pad=True),
        GUTTER,
        outcome,
    )
    return row.stylize("bold underline") if header else row
