"""Pick one purchased product to redeem one unit of: number keys, or arrows and Enter."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from station.scanflow.keys import ScanKeys
from station.services.results import ProductLine
from station.tui import keymap
from station.tui.components.header import TooSmall
from station.tui.messages import RedeemRequested
from station.tui.verdicts import Verdict, console_text


class PickerScreen(Screen[None]):
    BINDINGS = keymap.PICKER
    SCAN_KEYS: ClassVar[ScanKeys] = "bindings"
    # A digit redeems: alone, it waits out a lost packet before it acts (see scanflow.keys).
    DECISIVE_KEYS: ClassVar[frozenset[str]] = frozenset("123456789")
    HELP_TITLE = "redeem"
    HELP_ABOUT = "Choose the product to redeem one unit of."
    HELP_KEYS = (
        ("1–9", "Redeem one unit of that line"),
        ("↓ Enter", "Move to a line, then redeem it (a lone Enter picks nothing)"),
        ("Esc", "Back"),
    )

    def __init__(self, *, code: str, name: str, products: tuple[ProductLine, ...]) -> None:
        super().__init__()
        self.code = code
        self.attendee_name = name
        self.products = products
        self.chosen = False
        self._flashed: Verdict | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            Content.assemble(("Redeem for ", "bold"), (self.attendee_name, "bold")),
            id="picker-title",
            markup=False,
        )
        if self.products:
            yield OptionList(*(product_option(n, p) for n, p in self.numbered()), id="picker-list")
        yield Static(Content(self.hint), id="picker-hint", markup=False)
        yield Footer()
        yield TooSmall()

    @property
    def hint(self) -> str:
        if self.products:
            return "Press 1–9, or ↓ to a line and Enter, to redeem one unit. Esc: back."
        return "Nothing left to redeem on this order. Esc: back."

    def flash(self, verdict: Verdict) -> None:
        """The same badge scanned again while choosing: say so where the hint was."""
        hint = self.query("#picker-hint")
        if not hint:  # not built yet (pushed a moment ago): on_mount says it
            self._flashed = verdict
            return
        title = console_text(verdict.title, ascii_only=self.app.has_class("-ascii"))
        hint.first(Static).update(Content.styled(title, "bold"))

    def numbered(self) -> list[tuple[int, ProductLine]]:
        return list(enumerate(self.products, start=1))

    def on_mount(self) -> None:
        if self._flashed is not None:
            self.flash(self._flashed)
        if self.products:
            options = self.query_one("#picker-list", OptionList)
            # No line is chosen until the volunteer moves to one: a stray Enter must
            # not redeem the first product.
            options.highlighted = None
            options.focus()

    def action_pick(self, number: int) -> None:
        if 1 <= number <= len(self.products):
            self._choose(self.products[number - 1])

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(self.products[event.option_index])

    def _choose(self, product: ProductLine) -> None:
        # One choice per picker: a second key press must not redeem a second unit.
        if self.chosen:
            return
        self.chosen = True
        self.app.post_message(RedeemRequested(self.code, product.line_item_id))

    def action_close(self) -> None:
        self.dismiss()


def product_option(number: int, product: ProductLine) -> Option:
    label = Content.assemble(
        (f"{number}" if number <= 9 else " ", "bold"),
        "  ",
        (product.name, "bold"),
        f"  —  {product.remaining} of {product.quantity} left",
    )
    return Option(label, id=f"line-{product.line_item_id}")
