"""The scan screen's top lines: where we are, who is scanning, and the database light."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from station.domain import Mode
from station.services.tallies import StationTally

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


class TooSmall(Static):
    """Over every screen while the terminal is smaller than the station needs (the app
    sets the text); scanning goes on underneath."""

    def __init__(self) -> None:
        super().__init__(classes="too-small", markup=False)

    def on_mount(self) -> None:
        self.update(Content(str(getattr(self.app, "too_small_text", ""))))


class StationHeader(Horizontal):
    """Conference · station · mode (product), the operator, and the database light.

    The operator has a place of their own on the right: a long product name is
    shortened with … and never pushes the name off the line."""

    def compose(self) -> ComposeResult:
        yield Static(id="where", markup=False)
        yield Static(id="operator", markup=False)
        yield DatabaseLight(id="db-light")

    def show(
        self,
        *,
        conference: str,
        station: str,
        mode: Mode,
        product: str | None,
        operator: str | None,
        direction: str = "in",
    ) -> None:
        # A door says which way it scans before its product, so a long name never hides it.
        word = MODE_WORDS[mode]
        if mode is Mode.DOOR:
            word += " OUT (exits)" if direction == "out" else " IN"
        mode_text = word + (f": {product}" if product else "")
        parts: list[str | tuple[str, str]] = [
            (conference, "bold"),
            " · ",
            station,
            " · ",
            (mode_text, "bold"),
        ]
        self.query_one("#where", Static).update(Content.assemble(*parts), layout=False)
        who = Content.assemble("op: ", (operator, "bold")) if operator else Content("signed out")
        self.query_one("#operator", Static).update(who.truncate(24, ellipsis=True))


class Counters(Static):
    """What this station is for, counted: check-ins at a desk, meals served on a meal line,
    people admitted at a door (see ``StationTally``); and this station's own scans today."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)

    def show(self, tally: StationTally | None, *, mode: Mode = Mode.CHECKIN) -> None:
        self.update(render_counters(tally, mode=mode), layout=False)


COUNTER_WORDS = {
    Mode.CHECKIN: "Checked in today",
    Mode.MEAL: "Served today",
    Mode.DOOR: "Admitted today",
}


def render_counters(tally: StationTally | None, *, mode: Mode) -> Content:
    if tally is None:
        return Content(f"{COUNTER_WORDS[mode]}: –   This station today: –")
    room: list[str | tuple[str, str]] = []
    if tally.inside is not None:
        inside = str(tally.inside)
        if tally.capacity is not None:
            inside += f"/{tally.capacity}"
        room = ["Inside: ", (inside, "bold"), "   "]
    today = str(tally.today)
    if tally.total is not None:
        today += f" / {tally.total}"
        if tally.mode is Mode.MEAL:
            today += " bought"
    return Content.assemble(
        *room,
        f"{COUNTER_WORDS[tally.mode]}: ",
        (today, "bold"),
        f"   All days: {tally.done}   This station today: ",
        (str(tally.station_today), "bold"),
    )
