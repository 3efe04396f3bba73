"""The badge preview after a check-in: who this is, what they bought, when they came."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from station.domain import OrderStatus
from station.services.results import BadgeData
from station.tui import keymap
from station.tui.burst import ScanKeys
from station.tui.components.banner import VerdictBanner
from station.tui.verdicts import Verdict, first_in_text


class BadgeScreen(Screen[None]):
    """Closes after ``seconds``, at once on the next scan (the app does that), or on Esc."""

    BINDINGS = keymap.BADGE
    # No free-text field here: every printable key belongs to a scan (see station.tui.burst).
    SCAN_KEYS: ClassVar[ScanKeys] = "bindings"

    def __init__(self, badge: BadgeData, verdict: Verdict, *, seconds: float) -> None:
        super().__init__()
        self.badge = badge
        self.verdict = verdict
        self.seconds = seconds

    def compose(self) -> ComposeResult:
        yield VerdictBanner(id="badge-verdict")
        with Vertical(id="badge-card"):
            yield Static(Content(self.badge.name), id="badge-name", markup=False)
            yield Static(render_ticket(self.badge), id="badge-ticket", markup=False)
            if self.badge.attention:
                yield Static(
                    Content(f"⚠ ATTENTION: {self.badge.attention}"),
                    id="badge-attention",
                    markup=False,
                )
            yield Static(render_check_ins(self.badge), id="badge-checkins", markup=False)
            yield Static(render_products(self.badge), id="badge-products", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#badge-verdict", VerdictBanner).show(self.verdict)
        self.set_timer(self.seconds, self._expire, name="badge-timeout")

    def _expire(self) -> None:
        if self.is_current:
            self.dismiss()

    def action_close(self) -> None:
        self.dismiss()

    async def action_redeem(self) -> None:
        await self.app.run_action("open_picker_for_badge")


def render_ticket(badge: BadgeData) -> Content:
    parts: list[str | tuple[str, str]] = [(badge.ticket_type, "bold")]
    if badge.order_reference:
        parts += ["  ·  order ", badge.order_reference]
    if badge.order_status is not None:
        parts += ["  ·  ", badge.order_status.label]
    if badge.order_status is None:
        parts += ["  ·  no order"]
    elif badge.order_status is not OrderStatus.PAID:
        parts += [("  (check the order)", "bold")]
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
