"""The badge preview after a check-in: who this is, what they bought, when they came."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, cast

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Static

from station.scanflow.keys import ScanKeys
from station.services.results import BadgeData, ProductLine
from station.tui import keymap
from station.tui.components.banner import VerdictBanner
from station.tui.components.header import TooSmall
from station.tui.verdicts import Verdict, console_text, first_in_text

if TYPE_CHECKING:
    from station.tui.ports import StationPort

COLUMN_GUTTER = 2
MIN_COLUMN = 28


class BadgeScreen(Screen[None]):
    """Closes after ``seconds``, at once on the next scan (the app does that), or on Esc.

    One instance lives for the whole session and is refilled for each badge:
    composing a screen per scan costs more than the database call does.
    """

    BINDINGS = keymap.BADGE
    # No free-text field here: a burst of keys is a scan (see station.scanflow.keys).
    SCAN_KEYS: ClassVar[ScanKeys] = "bindings"
    # ...but a lone key a person types waits like a bound key, then goes to the scan field
    # (``on_key``): it shows there, and Enter scans what the volunteer can see.
    LONE_KEYS_WAIT: ClassVar[bool] = True
    HELP_TITLE = "badge preview"
    HELP_ABOUT = (
        "Who was just checked in. It closes by itself after badge_seconds, or on the next "
        "scan. Typing a code takes you to the scan field."
    )
    HELP_KEYS = (
        ("r", "Redeem one of the products (opens the picker)"),
        ("↑ ↓", "Scroll a product list longer than the card"),
        ("/  F2", "Find an attendee by name, email or code"),
        ("Esc", "Back to the scan screen"),
    )

    def __init__(self) -> None:
        super().__init__()
        self.badge: BadgeData | None = None
        self.verdict: Verdict | None = None
        self.seconds = 6.0
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield VerdictBanner(id="badge-verdict")
        with Vertical(id="badge-card"):
            yield Static(id="badge-name", markup=False)
            yield Static(id="badge-ticket", markup=False)
            yield Static(id="badge-attention", markup=False)
            yield Static(id="badge-checkins", markup=False)
            with VerticalScroll(id="badge-products-box"):
                yield ProductsView(id="badge-products")
        yield Footer()
        yield TooSmall()

    def show(self, badge: BadgeData, verdict: Verdict, *, seconds: float) -> None:
        """Fill the screen for this badge; call before (re)pushing it."""
        self.badge = badge
        self.verdict = verdict
        self.seconds = seconds
        if self.is_mounted:
            self._fill()
        if self.is_current:
            self._restart_timer()

    def flash(self, verdict: Verdict) -> None:
        """A new verdict for the badge that is up (scanned again): the full time again."""
        self.verdict = verdict
        banner = self.query("#badge-verdict")
        if banner:  # not built yet (pushed a moment ago): on_mount shows self.verdict
            banner.first(VerdictBanner).show(self._banner(verdict))
        if self.is_current:
            self._restart_timer()

    def waiting(self, verdict: Verdict) -> None:
        """The next scan is on its way: never leave the last person's badge up meanwhile."""
        self.badge = None
        self.query_one("#badge-verdict", VerdictBanner).show(verdict)
        for selector in ("#badge-name", "#badge-ticket", "#badge-checkins"):
            self.query_one(selector, Static).update(Content(""), layout=False)
        self.query_one("#badge-products", ProductsView).show(())
        attention = self.query_one("#badge-attention", Static)
        attention.update(Content(""), layout=False)
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_mount(self) -> None:
        self._fill()

    def _banner(self, verdict: Verdict) -> Verdict:
        """The verdict without the note the attention block below shows in full (the
        banner has room for one line of it)."""
        if self.badge is not None and self.badge.attention and verdict.note == self.badge.attention:
            return replace(verdict, note=None)
        return verdict

    def _fill(self) -> None:
        badge, verdict = self.badge, self.verdict
        if badge is None or verdict is None or not self.query("#badge-name"):
            return  # nothing to show yet, or the app is closing before compose finished
        self.query_one("#badge-verdict", VerdictBanner).show(self._banner(verdict))
        # Every field has a fixed height (see station.tcss), so no layout pass per badge.
        self.query_one("#badge-name", Static).update(Content(badge.name), layout=False)
        self.query_one("#badge-ticket", Static).update(render_ticket(badge), layout=False)
        attention = self.query_one("#badge-attention", Static)
        if attention.display != bool(badge.attention):
            attention.display = bool(badge.attention)
        # A note's height varies (1-4 lines): lay out again only when there is one.
        attention.update(
            render_attention(badge.attention, ascii_only=self.app.has_class("-ascii")),
            layout=bool(badge.attention),
        )
        self.query_one("#badge-checkins", Static).update(render_check_ins(badge), layout=False)
        self.query_one("#badge-products", ProductsView).show(badge.products)
        self.query_one("#badge-products-box", VerticalScroll).scroll_home(animate=False)

    def on_screen_resume(self) -> None:
        # Back from the picker, or shown for a new badge: the full time again.
        self._restart_timer()
        # Arrow keys scroll a product list longer than the card.
        self.query_one("#badge-products-box", VerticalScroll).focus()

    def on_key(self, event: events.Key) -> None:
        """A person typing here (a key no binding takes, that no burst followed) means to
        type a code: it goes to the scan field, where it shows, and the preview closes."""
        if event.is_printable and event.character and event.key not in self.active_bindings:
            event.stop()
            event.prevent_default()
            cast("StationPort", self.app).type_into_scan_field(event.character)

    def _restart_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.seconds, self._expire, name="badge-timeout")

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _expire(self) -> None:
        if self.is_current:
            self.dismiss()

    def action_close(self) -> None:
        self.dismiss()

    async def action_redeem(self) -> None:
        await self.app.run_action("open_picker_for_badge")

    async def action_find(self) -> None:
        """The next person has no readable badge: straight to the lookup from here too."""
        await self.dismiss()
        await self.app.run_action("open_lookup")


def render_ticket(badge: BadgeData) -> Content:
    parts: list[str | tuple[str, str]] = [(badge.ticket_type, "bold")]
    if badge.order_reference:
        parts += ["  ·  order ", badge.order_reference]
    if badge.order_status is not None:
        parts += ["  ·  ", badge.order_status.label]
    if badge.order_status is None:
        parts += ["  ·  no order"]
    parts += ["  ·  ", badge.access_code]
    return Content.assemble(*parts)


def render_check_ins(badge: BadgeData) -> Content:
    if badge.first_check_in is None:
        return Content("Not checked in before")
    times = "1 check-in" if badge.check_in_count == 1 else f"{badge.check_in_count} check-ins"
    return Content.assemble("Checked in: ", (first_in_text(badge), "bold"), f"  ·  {times}")


class ProductsView(Static):
    """Every product of the badge: in one column when they fit the card, in two (names
    shortened with …) when they do not, and scrolled with ↑↓ beyond that, which the
    heading then says."""

    DEFAULT_CSS = """
    ProductsView {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.products: tuple[ProductLine, ...] = ()

    def show(self, products: tuple[ProductLine, ...]) -> None:
        self.products = products
        self.refresh(layout=True)

    def render(self) -> Content:
        box = self.parent
        if isinstance(box, Widget) and box.size.height > 0:
            width, height = box.scrollable_content_region.size
        else:
            width, height = self.size.width or 78, 0
        return render_products(self.products, width=width, height=height)


def product_cell(product: ProductLine) -> Content:
    return Content.assemble(
        "  ", (f"{product.remaining}/{product.quantity}", "bold"), "  ", product.name
    )


def render_products(products: tuple[ProductLine, ...], *, width: int, height: int) -> Content:
    """The list for a box ``width`` × ``height`` (0: as high as it needs)."""
    if not products:
        return Content("Products: none")
    rows = len(products)
    columns = 1
    if height and rows + 1 > height and width >= 2 * MIN_COLUMN + COLUMN_GUTTER:
        columns = 2
        rows = (len(products) + 1) // 2
    heading = f"Products (left / bought), {len(products)}:"
    if height and rows + 1 > height:
        heading = f"Products (left / bought), {len(products)} — ↑↓ to see them all:"
    lines: list[Content] = [Content.styled(heading, "bold")]
    cell = (width - COLUMN_GUTTER * (columns - 1)) // columns
    for row in range(rows):
        cells = [product_cell(p) for p in products[row::rows]][:columns]
        if columns == 1:
            lines.append(cells[0].truncate(max(width, 1), ellipsis=True))
            continue
        parts = [c.truncate(cell, ellipsis=True, pad=True) for c in cells]
        lines.append(Content(" " * COLUMN_GUTTER).join(parts).rstrip())
    return Content("\n").join(lines)


def render_attention(note: str | None, *, ascii_only: bool = False) -> Content:
    """The badge's attention block: the word on a line of its own, the note (untrusted,
    never markup) under it."""
    if not note:
        return Content("")
    heading = console_text("⚠ ATTENTION", ascii_only=ascii_only)
    return Content("\n").join([Content.styled(heading, "bold"), Content(note)])
