"""The badge preview after a check-in: who this is, what they bought, when they came."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from station.scanflow.keys import ScanKeys
from station.services.results import BadgeData
from station.tui import keymap
from station.tui.components.banner import VerdictBanner
from station.tui.verdicts import Verdict, first_in_text


class BadgeScreen(Screen[None]):
    """Closes after ``seconds``, at once on the next scan (the app does that), or on Esc.

    One instance lives for the whole session and is refilled for each badge:
    composing a screen per scan costs more than the database call does.
    """

    BINDINGS = keymap.BADGE
    # No free-text field here: every printable key belongs to a scan (see station.scanflow.keys).
    SCAN_KEYS: ClassVar[ScanKeys] = "bindings"

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
            yield Static(id="badge-products", markup=False)
        yield Footer()

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
            banner.first(VerdictBanner).show(verdict)
        if self.is_current:
            self._restart_timer()

    def waiting(self, verdict: Verdict) -> None:
        """The next scan is on its way: never leave the last person's badge up meanwhile."""
        self.badge = None
        self.query_one("#badge-verdict", VerdictBanner).show(verdict)
        for selector in ("#badge-name", "#badge-ticket", "#badge-checkins", "#badge-products"):
            self.query_one(selector, Static).update(Content(""), layout=False)
        attention = self.query_one("#badge-attention", Static)
        attention.update(Content(""), layout=False)
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        badge, verdict = self.badge, self.verdict
        if badge is None or verdict is None or not self.query("#badge-name"):
            return  # nothing to show yet, or the app is closing before compose finished
        self.query_one("#badge-verdict", VerdictBanner).show(verdict)
        # Every field has a fixed height (see station.tcss), so no layout pass per badge.
        self.query_one("#badge-name", Static).update(Content(badge.name), layout=False)
        self.query_one("#badge-ticket", Static).update(render_ticket(badge), layout=False)
        attention = self.query_one("#badge-attention", Static)
        if attention.display != bool(badge.attention):
            attention.display = bool(badge.attention)
        attention.update(
            Content(f"⚠ ATTENTION: {badge.attention}" if badge.attention else ""), layout=False
        )
        self.query_one("#badge-checkins", Static).update(render_check_ins(badge), layout=False)
        self.query_one("#badge-products", Static).update(render_products(badge), layout=False)

    def on_screen_resume(self) -> None:
        # Back from the picker, or shown for a new badge: the full time again.
        self._restart_timer()

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


def render_products(badge: BadgeData) -> Content:
    if not badge.products:
        return Content("Products: none")
    lines: list[Content] = [Content.styled("Products (left / bought):", "bold")]
    for product in badge.products[:6]:
        lines.append(
            Content.assemble(
                "  ",
                (f"{product.remaining}/{product.quantity}", "bold"),
                "  ",
                product.name,
            )
        )
    if len(badge.products) > 6:
        lines.append(Content(f"  … and {len(badge.products) - 6} more (press r)"))
    return Content("\n").join(lines)
