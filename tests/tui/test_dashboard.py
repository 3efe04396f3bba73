"""The organisers' dashboard (DashboardApp) on real databases, and the station app's
heartbeats that feed it."""

from __future__ import annotations

import shutil
import signal
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import update
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Static

from station.db import make_engine
from station.domain import Mode
from station.health import WindowSummary
from station.models import TicketType
from station.services import CheckInService, RedemptionService
from station.services.dashboard import BeatListener, DashboardFeed
from station.services.errors import StationError
from station.services.health import HealthService
from station.services.results import StationContext
from station.terminal import ExitOnSignal
from station.tui.dashboard.app import DashboardApp, FeedRead
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase
from tests.health.helpers import age_beat, health_rows, heartbeat
from tests.tui.conftest import Station, scan, started, wait_for
from tests.tui.proxy import TcpProxy

EVERY_S = 0.2


def dashboard(db: TestDatabase, slug: str = "pycon-test", **kwargs: Any) -> DashboardApp:
    feed = DashboardFeed(db.engine, slug)
    kwargs.setdefault("every_s", EVERY_S)
    kwargs.setdefault("totals_every_s", 1.0)
    return DashboardApp(feed, BeatListener(db.engine), **kwargs)


def text_of(app: DashboardApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def table(app: DashboardApp) -> DataTable[Any]:
    return app.query_one("#dash-stations", DataTable)


def cells(app: DashboardApp, station: str) -> list[str]:
    return [str(cell) for cell in table(app).get_row(station)]


def has_row(app: DashboardApp, station: str) -> bool:
    return station in app._rows


async def read_after(pilot: Pilot[Any], app: DashboardApp, what: str) -> None:
    """Wait for a read that started after now to reach the screen."""
    seen = app.reads
    await wait_for(pilot, lambda: app.reads >= seen + 2, what)


def a_morning(db: TestDatabase) -> ConferenceBuilder:
    """Check-ins, lunches and a door at two stations; three stations beating."""
    conf = ConferenceBuilder(db.sessions)
    conf.ticket_type("general", "Conference pass")
    conf.addon("lunch", "Lunch")
    with db.sessions.begin() as s:
        s.execute(update(TicketType).values(capacity=50))
    for code in ("ADA1", "BOB1"):
        conf.attendee(code, addons={"lunch": 1})
    conf.attendee("CY1")
    checkin = CheckInService(db.sessions)
    redemption = RedemptionService(db.sessions)
    desk = StationContext(conf.slug, "Desk 1")
    meal = StationContext(conf.slug, "Meal 1")
    for code in ("ADA1", "BOB1"):
        checkin.check_in(desk, code)
        checkin.record_door_check(desk, code, product="ticket:general")
        redemption.redeem_product(meal, code, product="lunch")
    with pytest.raises(StationError):
        redemption.redeem_product(meal, "ADA1", product="lunch")
    with pytest.raises(StationError):
        checkin.check_in(desk, "NOBODY")
    health = HealthService(db.sessions)
    health.beat(conf.slug, heartbeat("Desk 1"))
    health.beat(conf.slug, heartbeat("Meal 1", mode="meal", product="Lunch", online=False))
    health.beat(conf.slug, heartbeat("Door 9", mode="door", closing=True))
    return conf


# --- what it shows ---------------------------------------------------------------------


async def test_a_row_per_station_and_the_three_panes(sqlite_database: TestDatabase) -> None:
    a_morning(sqlite_database)
    app = dashboard(sqlite_database)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.reads > 0 and app.totals is not None, "a read")
        assert [str(table(app).get_row_at(i)[0]) for i in range(table(app).row_count)] == [
            "Meal 1",
            "Desk 1",
            "Door 9",
        ]  # offline first, closed last
        desk = cells(app, "Desk 1")
        assert desk[1:5] == ["OK", "0", "0", "—"]
        assert desk[5].strip()  # scans in the sparkline
        assert desk[7] == "checkin" and desk[8] == "Ana"
        assert cells(app, "Meal 1")[1] == "OFFLINE" and cells(app, "Meal 1")[7] == "meal Lunch"
        assert cells(app, "Door 9")[1] == "closed"
        title = text_of(app, "#dash-title")
        assert title.startswith("PyCon Test — ")
        assert title.endswith("3 stations, 1 ok, 1 offline, 1 closed")
        assert text_of(app, "#dash-summary").startswith("Checked in 2/3 (67%)")
        refusals = text_of(app, "#dash-refusals").splitlines()
        assert sorted(line.split(maxsplit=1)[1] for line in refusals) == [
            "Already redeemed",
            "Unknown badge",
        ]
        assert text_of(app, "#dash-products") == "2/2 Lunch"
        assert text_of(app, "#dash-doors") == "2/50 Conference pass"


async def test_markup_in_names_shows_literally_and_crashes_nothing(
    sqlite_database: TestDatabase,
) -> None:
    conf = ConferenceBuilder(sqlite_database.sessions, name="[b]Con[/b] Ann[/]")
    health = HealthService(sqlite_database.sessions)
    tricky = ["[@click=app.quit]x[/]", "Ann[/]", "[red]Bob", "Eve\x1b]0;pwned\x07"]
    for name in tricky:
        health.beat(conf.slug, heartbeat(name, operator="[b]Op[/b]", product="$x [i]"))
    app = dashboard(sqlite_database)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: len(app._rows) == len(tricky), "every station")
        shown = {str(table(app).get_row_at(i)[0]) for i in range(table(app).row_count)}
        assert shown == {"[@click=app.quit]x[/]", "Ann[/]", "[red]Bob", "Eve]0;pwned"}
        row = cells(app, "[@click=app.quit]x[/]")
        assert row[7] == "checkin $x [i]" and row[8] == "[b]Op[/b]"
        assert text_of(app, "#dash-title").startswith("[b]Con[/b] Ann[/] — ")
        for y in range(1, 6):  # click on every row's name: no action hides in it
            await pilot.click("#dash-stations", offset=(3, y))
        await pilot.pause(0.3)
        assert app.is_running and app.return_code is None
        assert "\x1b" not in app.export_screenshot()


async def test_a_silent_station_turns_lost(sqlite_database: TestDatabase) -> None:
    conf = ConferenceBuilder(sqlite_database.sessions)
    health = HealthService(sqlite_database.sessions)
    health.beat(conf.slug, heartbeat("Desk 1"))
    health.beat(conf.slug, heartbeat("Desk 2"))
    app = dashboard(sqlite_database)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: has_row(app, "Desk 2"), "the stations")
        assert cells(app, "Desk 2")[1] == "OK"
        age_beat(sqlite_database, "Desk 2", 300)
        await wait_for(pilot, lambda: cells(app, "Desk 2")[1].startswith("LOST"), "LOST")
        assert cells(app, "Desk 2")[1] == "LOST 5m"
        assert str(table(app).get_row_at(0)[0]) == "Desk 2"  # the lost one on top
        assert text_of(app, "#dash-title").endswith("2 stations, 1 ok, 1 lost")
        health.beat(conf.slug, heartbeat("Desk 2"))
        await wait_for(pilot, lambda: cells(app, "Desk 2")[1] == "OK", "OK again")


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
async def test_everything_fits_the_screen(
    sqlite_database: TestDatabase, size: tuple[int, int]
) -> None:
    a_morning(sqlite_database)
    app = dashboard(sqlite_database)
    screen = Region(0, 0, *size)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.reads > 0 and app.totals is not None, "a read")
        await pilot.pause()
        regions = {}
        for selector in (
            "#dash-title",
            "#dash-summary",
            "#dash-stations",
            "#dash-refusals",
            "#dash-products",
            "#dash-doors",
            "#dash-keys",
        ):
            region = app.query_one(selector, Widget).region
            assert region.area > 0, f"{selector} is not shown at {size}"
            assert screen.contains_region(region), f"{selector} at {region} is off {size}"
            regions[selector] = region
        stations, refusals = regions["#dash-stations"], regions["#dash-refusals"]
        assert stations.height >= 5  # the header and a few stations at least
        if size[0] < 120:  # narrow: the panes under the table
            assert refusals.y >= stations.bottom
        else:  # wide: beside it
            assert refusals.x >= stations.right and refusals.y == stations.y
        for pane in ("#dash-refusals", "#dash-products", "#dash-doors"):
            assert not regions[pane].overlaps(stations)


async def test_two_hundred_stations_and_the_cursor_moves_while_it_reads(
    sqlite_database: TestDatabase,
) -> None:
    conf = ConferenceBuilder(sqlite_database.sessions)
    health = HealthService(sqlite_database.sessions)
    names = [f"Station {i:03d}" for i in range(200)]
    for name in names:
        health.beat(conf.slug, heartbeat(name))
    stop = threading.Event()

    def busy_stations() -> None:  # ten stations keep scanning: cells change every read
        n = 0
        while not stop.is_set():
            n += 1
            for name in names[:10]:
                window = WindowSummary(n, 0, 50.0, 90.0 + n, None)
                health.beat(conf.slug, heartbeat(name, window=window))
            stop.wait(0.3)

    app = dashboard(sqlite_database)
    beating = threading.Thread(target=busy_stations, daemon=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: table(app).row_count == 200, "200 rows", timeout=10)
        assert set(app._rows) == set(names)
        beating.start()
        try:
            reads = app.reads
            for expected in range(1, 16):
                await pilot.press("down")
                assert table(app).cursor_row == expected
            await wait_for(pilot, lambda: app.reads >= reads + 3, "reads going on")
            await wait_for(pilot, lambda: cells(app, names[0])[2] != "0", "changing cells")
            assert table(app).cursor_row == 15
            await pilot.press("pagedown")
            assert table(app).cursor_row > 15
        finally:
            stop.set()
            beating.join(timeout=5)
        assert table(app).row_count == 200
        print(
            f"200 stations: last apply {app.last_apply_s * 1000:.1f} ms on the UI thread, "
            f"last read {app.last_read_s * 1000:.1f} ms"
        )
        assert app.last_apply_s > 0


async def test_a_missing_sqlite_file_is_one_line_in_the_title_and_it_recovers(
    sqlite_database: TestDatabase, tmp_path: Path
) -> None:
    conf = ConferenceBuilder(sqlite_database.sessions)
    HealthService(sqlite_database.sessions).beat(conf.slug, heartbeat("Desk 1"))
    app = dashboard(sqlite_database)
    path = Path(urlsplit(sqlite_database.settings.url).path)
    aside = tmp_path / "aside"
    aside.mkdir()
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: has_row(app, "Desk 1"), "the station")
        sqlite_database.engine.dispose()  # the last connection closes: no WAL left behind
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
        for file in files:
            shutil.move(file, aside / file.name)
        title = app.query_one("#dash-title", Static)
        await wait_for(pilot, lambda: title.has_class("-error"), "the error")
        shown = text_of(app, "#dash-title")
        print(shown)
        assert shown.startswith("Cannot read the database: ")
        assert "\n" not in shown and "(last good read " in shown
        assert has_row(app, "Desk 1")  # the last good figures stay
        await pilot.pause(0.5)
        assert app.is_running
        for stray in [p for p in path.parent.iterdir() if p.name.startswith(path.name)]:
            stray.unlink()  # what opening the missing file made
        for file in files:
            shutil.move(aside / file.name, file)
        await wait_for(pilot, lambda: not title.has_class("-error"), "the recovery")
        assert text_of(app, "#dash-title").endswith("1 stations, 1 ok")
        await pilot.press("q")
    assert app.return_code in (0, None)


@pytest.fixture
def proxied(postgres_database: TestDatabase) -> Iterator[tuple[TestDatabase, TcpProxy]]:
    upstream = urlsplit(postgres_database.settings.url)
    proxy = TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 5432)
    proxy.start()
    url = postgres_database.settings.url.replace(
        f"{upstream.hostname}:{upstream.port}", f"127.0.0.1:{proxy.port}"
    )
    settings = replace(postgres_database.settings, url=url, connect_timeout_s=2)
    engine = make_engine(settings)
    db = replace(postgres_database, settings=settings, engine=engine)
    try:
        yield db, proxy
    finally:
        proxy.stop()
        engine.dispose()


@pytest.mark.postgres
async def test_postgres_going_away_is_one_line_and_it_recovers(
    postgres_database: TestDatabase, proxied: tuple[TestDatabase, TcpProxy]
) -> None:
    through_proxy, proxy = proxied
    conf = ConferenceBuilder(postgres_database.sessions)
    health = HealthService(postgres_database.sessions)
    health.beat(conf.slug, heartbeat("Desk 1"))
    app = dashboard(through_proxy, every_s=0.5)
    assert app.listener.usable
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: has_row(app, "Desk 1"), "the station")
        assert "live (LISTEN)" in text_of(app, "#dash-keys")
        # A beat wakes the dashboard: the new station shows before the next 0.5 s poll.
        await pilot.pause(0.6)
        health.beat(conf.slug, heartbeat("Desk 2"))
        await wait_for(pilot, lambda: has_row(app, "Desk 2"), "the new station", timeout=3)

        proxy.stop()
        title = app.query_one("#dash-title", Static)
        await wait_for(pilot, lambda: title.has_class("-error"), "the error", timeout=10)
        shown = text_of(app, "#dash-title")
        print(shown)
        assert shown.startswith("Cannot read the database: ") and "\n" not in shown
        assert app.is_running
        proxy.start()
        await wait_for(pilot, lambda: not title.has_class("-error"), "the recovery", timeout=10)
        health.beat(conf.slug, heartbeat("Desk 3"))
        await wait_for(pilot, lambda: has_row(app, "Desk 3"), "a station after recovery")


async def test_r_reads_at_once_and_q_quits(sqlite_database: TestDatabase) -> None:
    conf = ConferenceBuilder(sqlite_database.sessions)
    health = HealthService(sqlite_database.sessions)
    health.beat(conf.slug, heartbeat("Desk 1"))
    app = dashboard(sqlite_database, every_s=30.0)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: has_row(app, "Desk 1"), "the station")
        health.beat(conf.slug, heartbeat("Desk 2"))
        await pilot.pause(0.5)
        assert not has_row(app, "Desk 2")  # every 30 s: not yet
        await pilot.press("r")
        await wait_for(pilot, lambda: has_row(app, "Desk 2"), "the read r asked for", timeout=2)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to end")


# --- the station app's heartbeats ------------------------------------------------------


async def test_the_station_beats_after_sign_in_and_when_it_closes(any_station: Station) -> None:
    built = [any_station.conf.attendee() for _ in range(3)]
    app = any_station.app(heartbeat_s=1.0)
    db = any_station.db

    def row() -> Any:
        rows = [r for r in health_rows(db) if r.station == "Door A"]
        return rows[0] if rows else None

    async with app.run_test() as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: row() is not None and row().operator == "Ana", "a beat")
        first = row()
        assert (first.state, first.mode, first.online, first.scans_1m) == (
            "running",
            "checkin",
            True,
            0,
        )
        assert first.backlog is None  # offline mode is off
        for person in built:
            await scan(pilot, person.access_code)
        shown = await scan(pilot, "NOBODY42")
        assert "UNKNOWN BADGE" in shown
        await wait_for(
            pilot,
            lambda: row() is not None and (row().scans_1m, row().refusals_1m) == (4, 1),
            "the scans in a beat",
        )
        beat = row()
        assert beat.operator == "Ana" and beat.state == "running"
        assert beat.p50_ms is not None and beat.p95_ms is not None
        assert 0 < beat.p50_ms <= beat.p95_ms < 5000
        assert beat.last_scan_at is not None and beat.every_s == 1.0
        assert beat.beats >= 2
    closed = row()
    assert closed.state == "closed"
    assert closed.beats > beat.beats


@pytest.mark.parametrize(
    ("signum", "state"), [(signal.SIGHUP, "running"), (signal.SIGTERM, "closed")]
)
async def test_a_station_that_hangs_up_is_not_shown_closed(
    station: Station, signum: int, state: str
) -> None:
    """SIGHUP (the terminal or its SSH link is gone): no goodbye beat, so the dashboard
    calls it lost, not closed. SIGTERM (stopped on purpose) still says closed."""
    app = station.app(heartbeat_s=1.0)

    def rows() -> list[Any]:
        return [r for r in health_rows(station.db) if r.station == "Door A"]

    async with app.run_test() as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: bool(rows()), "a beat")
        handler = app.exit_signals = ExitOnSignal(app, grace_s=30.0, hard_exit=lambda _c: None)
        handler(signum)
        await wait_for(pilot, lambda: not app.is_running, "the app to end")
    handler.cancel()
    assert rows()[0].state == state


async def test_the_dashboard_shows_a_running_station(station: Station) -> None:
    """The two ends together: the station app beats, the dashboard reads it."""
    built = station.conf.attendee()
    app = station.app(heartbeat_s=1.0)
    async with app.run_test() as pilot:
        await started(pilot)
        await scan(pilot, built.access_code)
        await wait_for(
            pilot,
            lambda: any(r.scans_1m == 1 for r in health_rows(station.db)),
            "the scan in a beat",
        )
    board = dashboard(station.db, station.conf.slug)
    async with board.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: has_row(board, "Door A"), "the station")
        row = cells(board, "Door A")
        assert row[1] == "closed" and row[2] == "1" and row[8] == "Ana"
        assert row[6] != "—"  # the last scan's time


async def test_a_read_landing_while_the_app_closes_is_dropped(
    sqlite_database: TestDatabase,
) -> None:
    """The read worker may post a read just as the app quits (q, a hangup): its widgets are
    being taken away then, and applying the read must not crash the way out (seen once in
    thirty runs under load: NoMatches '#dash-title' from on_feed_read at shutdown)."""
    conf = ConferenceBuilder(sqlite_database.sessions)
    HealthService(sqlite_database.sessions).beat(conf.slug, heartbeat("Desk 1"))
    app = dashboard(sqlite_database)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: has_row(app, "Desk 1"), "the station")
        view, totals = app.view, app.totals
    assert not app.is_running and not app.query("#dash-title")
    # What Textual does with a message still queued as the widgets go: it handles it.
    app.on_feed_read(FeedRead(view, totals, None, 0.01))
    app.on_feed_read(FeedRead(None, None, "connection lost", 0.01))


async def test_a_lost_station_with_a_long_name_goes_on_top(sqlite_database: TestDatabase) -> None:
    """The table shows 40 characters of a name; the order must still be the feed's."""
    conf = ConferenceBuilder(sqlite_database.sessions)
    health = HealthService(sqlite_database.sessions)
    names = [f"{letter} registration desk by the main hall entrance" for letter in "ABC"]
    assert all(len(name) > 40 for name in names)
    for name in names:
        health.beat(conf.slug, heartbeat(name))
    app = dashboard(sqlite_database)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: len(app._rows) == 3, "the stations")
        shown = [str(table(app).get_row_at(i)[0]) for i in range(3)]
        assert [s[0] for s in shown] == ["A", "B", "C"] and shown[0].endswith("…")
        age_beat(sqlite_database, names[2], 300)
        await wait_for(pilot, lambda: cells(app, names[2])[1].startswith("LOST"), "LOST")
        assert [str(table(app).get_row_at(i)[0])[0] for i in range(3)] == ["C", "A", "B"]


@pytest.mark.parametrize("mode", [Mode.MEAL, "meal"], ids=["Mode", "plain-string"])
async def test_a_meal_line_beats_its_mode_and_product(station: Station, mode: Any) -> None:
    """Settings built by hand may carry the mode's plain value (tests/tui do): the beat
    must not take the station down at sign-in."""
    station.conf.addon("lunch", "Lunch [veg]")
    app = station.app(mode=mode, product="lunch", heartbeat_s=1.0)
    async with app.run_test() as pilot:
        await started(pilot)
        await wait_for(pilot, lambda: bool(health_rows(station.db)), "a beat")
        [row] = health_rows(station.db)
        assert (row.mode, row.operator, row.state) == ("meal", "Ana", "running")
        if mode is Mode.MEAL:  # the first beat may go before the station's info is read
            await wait_for(
                pilot,
                lambda: [r.product for r in health_rows(station.db)] == ["Lunch [veg]"],
                "a beat with the product's name",
            )
