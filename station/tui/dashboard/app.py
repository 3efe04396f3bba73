"""``station dashboard``: every station of one conference, live, for the organisers.

Read-only and keyboard-only (arrows scroll, q quits). The database is read in one
worker thread, never on the UI thread: the stations' heartbeats and the last
minutes of scans every ``every_s`` seconds, and at once when a heartbeat is
notified (PostgreSQL); the totals (check-ins, units served, rooms) every
``totals_every_s``. A refresh changes only the table cells whose text changed, so
200 stations redraw what moved, not the whole table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from station import terminal
from station.dbadmin import first_line
from station.services.dashboard import BeatListener, DashboardFeed, StationsView, TotalsView
from station.services.errors import DatabaseBusy, DatabaseUnavailable, StationError
from station.tui.dashboard import render

MIN_REFRESH_GAP_S = 1.0
"""However many heartbeats are notified, at most one read per second."""


@dataclass
class FeedRead(Message):
    view: StationsView | None
    totals: TotalsView | None
    error: str | None
    took_s: float


class DashboardApp(App[int], inherit_bindings=False):
    CSS_PATH = "dashboard.tcss"
    ENABLE_COMMAND_PALETTE = False
    TITLE = "station dashboard"
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 (Textual's own attribute, not a ClassVar)
        (0, "-narrow"),
        (120, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False),
        Binding("r", "refresh_now", "Refresh"),
    ]

    def __init__(
        self,
        feed: DashboardFeed,
        listener: BeatListener,
        *,
        every_s: float = 2.0,
        totals_every_s: float = 10.0,
    ) -> None:
        super().__init__()
        self.feed = feed
        self.listener = listener
        self.every_s = every_s
        self.totals_every_s = totals_every_s
        self.view: StationsView | None = None
        self.totals: TotalsView | None = None
        self.reads = 0
        """Reads applied to the screen (tests and the benchmark wait on it)."""
        self.last_apply_s = 0.0
        """UI-thread time the last read took to reach the widgets."""
        self.last_read_s = 0.0
        """Worker time the last read took in the database."""
        self.handle_hangup = False
        self.exit_signals: terminal.ExitOnSignal | None = None
        self._rows: dict[str, tuple[str, ...]] = {}
        self._ascii = False
        self._zone = feed.conference.timezone

    def compose(self) -> ComposeResult:
        yield Static(id="dash-title", markup=False)
        yield Static(id="dash-summary", markup=False)
        with Horizontal(id="dash-body"):
            yield DataTable(id="dash-stations", cursor_type="row", zebra_stripes=True)
            with Vertical(id="dash-side"):
                yield Static(id="dash-refusals", markup=False)
                yield Static(id="dash-products", markup=False)
                yield Static(id="dash-doors", markup=False)
        yield Static(id="dash-keys", markup=False)

    def on_mount(self) -> None:
        traits = terminal.detect_terminal(ascii_borders=None)
        self._ascii = traits.ascii_borders
        self.set_class(traits.ascii_borders, "-ascii")
        self.set_class(traits.no_color, "-no-color")
        if self.handle_hangup:
            self.exit_signals = terminal.install_exit_signals(self, grace_s=8.0)
        table = self.query_one("#dash-stations", DataTable)
        for key, label, width in render.COLUMNS:
            table.add_column(label, key=key, width=width)
        self.query_one("#dash-refusals", Static).border_title = "Refusals, last hour"
        self.query_one("#dash-products", Static).border_title = "Served / bought"
        self.query_one("#dash-doors", Static).border_title = "Inside / room"
        self.query_one("#dash-title", Static).update(
            render.title_line(self.feed.conference.name, None, self._zone)
        )
        self.query_one("#dash-keys", Static).update(
            "↑↓ PgUp PgDn scroll   r refresh   q quit"
            + ("   live (LISTEN)" if self.listener.usable else f"   every {self.every_s:g} s")
        )
        table.focus()
        self._read_loop()

    def action_refresh_now(self) -> None:
        self._wake = True

    _wake = False

    @work(thread=True, exclusive=True, group="feed", exit_on_error=False)
    def _read_loop(self) -> None:
        """Reads until the app ends: on a heartbeat notification (at most once a second)
        or every ``every_s``; the totals every ``totals_every_s``."""
        worker = get_current_worker()
        totals_due = 0.0
        last = 0.0
        while not worker.is_cancelled:
            started = time.monotonic()
            view = totals = None
            error = None
            try:
                view = self.feed.stations()
                if started >= totals_due:
                    totals = self.feed.totals()
                    totals_due = started + self.totals_every_s
            except DatabaseBusy:  # (its own words are a scan's: "scan NOT recorded")
                error = "the database is busy (a statement timed out); trying again"
            except DatabaseUnavailable:
                error = "the database is not reachable; trying again"
            except StationError as failure:
                error = failure.message
            except Exception as failure:  # a bug, not the database: say it, keep trying
                error = first_line(str(failure) or type(failure).__name__, limit=160)
            last = time.monotonic()
            self.post_message(FeedRead(view, totals, error, last - started))
            deadline = last + self.every_s
            while not worker.is_cancelled and time.monotonic() < deadline:
                if self._wake:
                    self._wake = False
                    break
                notified = self.listener.wait(min(0.25, max(0.0, deadline - time.monotonic())))
                if notified and time.monotonic() - last >= MIN_REFRESH_GAP_S:
                    break
                if notified:
                    time.sleep(max(0.0, MIN_REFRESH_GAP_S - (time.monotonic() - last)))
                    break
        self.listener.close()

    def on_feed_read(self, message: FeedRead) -> None:
        try:
            self._apply(message)
        except NoMatches:  # a read that lands while the app closes: its widgets are gone
            if self.is_running and not self._exit:
                raise

    def _apply(self, message: FeedRead) -> None:
        started = time.perf_counter()
        self.last_read_s = message.took_s
        title = self.query_one("#dash-title", Static)
        if message.error is not None:
            at = self.view.now if self.view else None
            title.update(render.error_line(message.error, at, self._zone))
            title.add_class("-error")
            return
        title.remove_class("-error")
        if message.view is not None:
            self.view = message.view
        if message.totals is not None:
            self.totals = message.totals
        title.update(render.title_line(self.feed.conference.name, self.view, self._zone))
        self.query_one("#dash-summary", Static).update(
            render.summary_line(self.view, self.totals, ascii_only=self._ascii)
        )
        self._show_stations()
        self.query_one("#dash-refusals", Static).update("\n".join(render.refusal_lines(self.view)))
        self.query_one("#dash-products", Static).update(
            "\n".join(render.product_lines(self.totals))
        )
        self.query_one("#dash-doors", Static).update("\n".join(render.door_lines(self.totals)))
        self.reads += 1
        self.last_apply_s = time.perf_counter() - started

    def _show_stations(self) -> None:
        view = self.view
        if view is None:
            return
        table: DataTable[Content] = self.query_one("#dash-stations", DataTable)
        seen = set()
        changed_order = False
        for station in view.stations:
            key = station.station
            seen.add(key)
            cells = render.station_cells(station, self._zone, ascii_only=self._ascii)
            before = self._rows.get(key)
            if before == cells:
                continue
            styled = _styled(cells, station.status)
            if before is None:
                table.add_row(*styled, key=key)
                changed_order = True
            else:
                for (column, _, _), old, new, content in zip(
                    render.COLUMNS, before, cells, styled, strict=True
                ):
                    if old != new:
                        table.update_cell(key, column, content)
                if before[1].split()[0] != cells[1].split()[0]:
                    changed_order = True
            self._rows[key] = cells
        for gone in [k for k in self._rows if k not in seen]:
            table.remove_row(gone)
            del self._rows[gone]
        if changed_order:
            # The sort sees the cells, which show a name cut to 40 characters: order by that.
            order: dict[str, int] = {}
            for i, s in enumerate(view.stations):
                order.setdefault(self._rows[s.station][0], i)
            table.sort("station", key=lambda name: order.get(str(name), len(order)))


_STATUS_STYLE = {"lost": "bold reverse red", "offline": "bold yellow", "closed": "dim"}


def _styled(cells: tuple[str, ...], status: str) -> list[Content]:
    """Plain text (never markup); the state cell coloured, the words carry the meaning."""
    contents = [Content(cell) for cell in cells]
    style = _STATUS_STYLE.get(status)
    if style:
        contents[1] = Content.styled(cells[1], style)
    return contents
