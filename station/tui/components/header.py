"""The scan screen's top lines: where we are, who is scanning, and the database light."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from station.domain import Mode
from station.services.results import StationCounts

MODE_WORDS = {Mode.CHECKIN: "CHECK-IN", Mode.MEAL: "MEAL", Mode.DOOR: "DOOR"}


class DatabaseLight(Static):
    """Green ● OK / red ● OFFLINE; the word is there for terminals without colour."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.online = True

    def on_mount(self) -> None:
        self.set_online(self.online)

    def set_online(self, online: bool) -> None:
        self.online = online
        self.set_class(online, "-online")
        self.set_class(not online, "-offline")
        self.update(Content("● DB OK" if online else "● DB OFFLINE"))


class StationHeader(Horizontal):
    """Conference · station · mode (product) · operator, and the database light."""

    def compose(self) -> ComposeResult:
        yield Static(id="where", markup=False)
        yield DatabaseLight(id="db-light")

    def show(
        self,
        *,
        conference: str,
        station: str,
        mode: Mode,
        product: str | None,
        operator: str | None,
    ) -> None:
        mode_text = MODE_WORDS[mode] + (f": {product}" if product else "")
        parts: list[str | tuple[str, str]] = [
            (conference, "bold"),
            " · ",
            station,
            " · ",
            (mode_text, "bold"),
        ]
        if operator:
            parts += [" · op: ", operator]
        self.query_one("#where", Static).update(Content.assemble(*parts), layout=False)


class Counters(Static):
    """This station today, and the whole conference."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)

    def show(self, counts: StationCounts | None) -> None:
        if counts is None:
            self.update(Content("This station today: –   Conference checked in: –"), layout=False)
            return
        self.update(
            Content.assemble(
                "This station today: ",
                (str(counts.station_today), "bold"),
                "   Conference checked in: ",
                (f"{counts.conference_checked_in} / {counts.conference_attendees}", "bold"),
            ),
            layout=False,
        )
