"""The permanent OFFLINE bar: shown while the station decides scans from its snapshot,
with how many scans wait to be sent; hidden (no line taken) while online."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from station.offline.link import LinkState


def offline_words(state: LinkState, timezone_label: str = "") -> str:
    """The bar's text, in words a volunteer reads at a glance."""
    waiting = f"{state.waiting} scan{'s' if state.waiting != 1 else ''} waiting"
    if state.online:
        return f"ONLINE — sending {waiting}"
    since = state.since.astimezone().strftime("%H:%M") if state.since else "?"
    return f"OFFLINE since {since} — {waiting} — scanning continues"


class OfflineBar(Static):
    """Hidden online with nothing waiting; otherwise one bold line, red while offline."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.display = False
        self.state: LinkState | None = None

    def show(self, state: LinkState) -> None:
        if state == self.state:
            return
        self.state = state
        visible = not state.online or state.waiting > 0
        self.display = visible
        self.set_class(not state.online, "-offline")
        if visible:
            self.update(Content(offline_words(state)))
