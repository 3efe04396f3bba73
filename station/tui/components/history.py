"""The last scans of this station: time, name and verdict, newest first."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rich.text import Text
from textual.content import Content
from textual.widgets import DataTable

from station.tui.verdicts import Verdict

KEEP = 10


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    when: str
    who: str
    verdict: Verdict

    @property
    def outcome(self) -> str:
        return f"{self.verdict.symbol} {self.verdict.headline}"


class ScanHistory(DataTable[Content]):
    """Cells are Content objects, never strings, so names cannot act as markup."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", zebra_stripes=True, show_cursor=False)
        self.can_focus = False
        self.entries: deque[HistoryEntry] = deque(maxlen=KEEP)

    def on_mount(self) -> None:
        # Fixed labels as Text (never parsed as markup); the rows are Content.
        self.add_column(Text("Time"), key="time", width=8)
        self.add_column(Text("Who"), key="who", width=24)
        self.add_column(Text("Verdict"), key="verdict", width=42)

    def record(self, when: str, who: str, verdict: Verdict, *, redraw: bool = True) -> None:
        self.entries.appendleft(HistoryEntry(when, who, verdict))
        if redraw:
            self.redraw()

    def redraw(self) -> None:
        self.clear()
        for entry in self.entries:
            self.add_row(Content(entry.when), Content(entry.who), Content(entry.outcome))
