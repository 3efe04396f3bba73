"""A yes/no question (quitting), answered with y or n."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from station.scanflow.keys import ScanKeys
from station.tui import keymap


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = keymap.CONFIRM
    # A badge scanned while the question shows must not answer it ("y" in a code).
    SCAN_KEYS: ClassVar[ScanKeys] = "bindings"
    # The answer quits, voids or clears a room: alone, it waits out a lost packet.
    DECISIVE_KEYS: ClassVar[frozenset[str]] = frozenset("yn")

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(Content(self.question), id="confirm-question", markup=False)
            yield Static(Content("y: yes    n / Esc: no"), id="confirm-keys", markup=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
