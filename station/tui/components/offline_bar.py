"""The permanent OFFLINE bar: shown while the station decides scans from its snapshot,
with how many scans wait to be sent; hidden (no line taken) while online."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from textual.content import Content
from textual.widgets import Static

from station.offline.link import LinkState

SENT_SHOWN_S = 10.0
"""How long "all offline scans sent" stays up once the journal is replayed."""


def offline_words(state: LinkState, timezone: str = "UTC") -> str:
    """The bar's text, in words a volunteer reads at a glance (times in the event's zone)."""
    waiting = f"{state.waiting} scan{'s' if state.waiting != 1 else ''} waiting"
    if state.online:
        if state.waiting == 0:
            return "ONLINE — every offline scan sent, 0 waiting"
        return f"ONLINE — sending offline scans, {waiting}"
    since = state.since.astimezone(ZoneInfo(timezone)).strftime("%H:%M") if state.since else "?"
    return f"OFFLINE since {since} — {waiting} — scanning continues"


class OfflineBar(Static):
    """Hidden while online with nothing waiting; one bold line, red while offline."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.display = False
        self.state: LinkState | None = None
        self._sent_at: float | None = None

    def show(self, state: LinkState, timezone: str = "UTC") -> None:
        busy = not state.online or state.waiting > 0
        if busy:
            self._sent_at = None
        elif self.display and self._sent_at is None:
            self._sent_at = time.monotonic()  # just caught up: say so for a while
        recent = self._sent_at is not None and time.monotonic() - self._sent_at < SENT_SHOWN_S
        self.display = busy or recent
        self.set_class(not state.online, "-offline")
        if self.display and state != self.state:
            self.update(Content(offline_words(state, timezone)))
        self.state = state
