"""The full-width verdict banner, readable from two metres and without colour."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from station.tui.verdicts import Verdict, console_text, idle


class VerdictBanner(Static):
    """Shows one verdict: a big title line, who it concerns, and what to do."""

    DEFAULT_CLASSES = "-tone-idle"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.verdict: Verdict = idle()

    @property
    def ascii_only(self) -> bool:
        """The app draws for a console font (see ``station.terminal``)."""
        return self.app.has_class("-ascii")

    def on_mount(self) -> None:
        self.update(render_verdict(self.verdict, ascii_only=self.ascii_only), layout=False)

    def show(self, verdict: Verdict) -> None:
        # One class swap and no layout pass: the banner's size never changes, and a
        # scan's latency is mostly the repaint.
        old, self.verdict = self.verdict, verdict
        if old.tone is not verdict.tone:
            self.set_classes(f"-tone-{verdict.tone.value}")  # one style pass, not two
        self.update(render_verdict(verdict, ascii_only=self.ascii_only), layout=False)

    @property
    def text(self) -> str:
        """The banner as plain text (what a person without colour reads)."""
        return render_verdict(self.verdict, ascii_only=self.ascii_only).plain


def render_verdict(verdict: Verdict, *, ascii_only: bool = False) -> Content:
    """Plain parts only: every string goes in literally, never as markup."""

    def shown(text: str) -> str:
        return console_text(text, ascii_only=ascii_only)

    lines: list[Content] = [Content.styled(shown(verdict.title), "bold")]
    if verdict.subject:
        lines.append(Content.styled(verdict.subject, "bold"))
    if verdict.detail:
        lines.append(Content(shown(verdict.detail)))
    if verdict.note:
        lines.append(Content.styled(shown(f"⚠ ATTENTION: {verdict.note}"), "bold"))
    if verdict.advice:
        lines.append(Content(shown(f"→ {verdict.advice}")))
    return Content("\n").join(lines)
