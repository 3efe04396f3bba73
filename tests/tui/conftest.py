"""Drive the real station app (built by make_app, as the CLI does) on real databases.

Scans are fed the way a keyboard-wedge scanner arrives: a burst of key events
from Textual's own terminal parser, posted through the driver, with no pause
between keys. Then the test polls the screen until the expected state shows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from textual._xterm_parser import XTermParser
from textual.constants import ESCAPE_DELAY
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static

from station.bootstrap import Services
from station.config import Settings
from station.db import make_engine, make_session_factory
from station.domain import Mode
from station.models import utcnow
from station.offline.settings import OfflineSettings
from station.services import CheckInService, RedemptionService, StaffService
from station.tui.app import StationApp, make_app
from station.tui.components.banner import VerdictBanner
from station.tui.components.header import DatabaseLight
from station.tui.screens.badge import BadgeScreen
from station.tui.screens.picker import PickerScreen
from station.tui.screens.scan import ScanScreen
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase
from tests.tui.proxy import TcpProxy

TIMEOUT_S = 5.0
STARTUP_TIMEOUT_S = 15.0
FIXED_NOW = datetime(2025, 5, 16, 8, 30, 0, tzinfo=UTC)  # 10:30 in Europe/Berlin


class SteppingClock:
    """A clock the test moves by hand: the double-scan window counts on the app's clock."""

    def __init__(self, start: datetime = FIXED_NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _own_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The pending-scans file of every app lands in the test's own directory."""
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes screenshots differ by the millisecond."""
    monkeypatch.setattr(Input, "cursor_blink", False)


async def wait_for(
    pilot: Pilot[Any], ready: Callable[[], bool], what: str, timeout: float = TIMEOUT_S
) -> None:
    """Poll in short steps until ``ready()``; fail saying what never appeared."""
    loop_time = pilot.app._loop.time if pilot.app._loop else None
    assert loop_time is not None
    deadline = loop_time() + timeout
    while not ready():
        if loop_time() > deadline:
            app = pilot.app
            shown = banner_text(app) if isinstance(app, StationApp) else "?"
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; "
                f"screen={type(app.screen).__name__}, banner={shown!r}"
            )
        if getattr(pilot.app, "_exit", False):
            # Closing down: the screen's widgets stop taking messages, so a pause (which waits
            # for them to drain) could wait out its 30 s; the app's own loop still turns.
            await asyncio.sleep(0.005)
        else:
            await pilot.pause(0.005)


def send_burst(app: StationApp, text: str) -> XTermParser:
    """Exactly what a wedge scanner's keys look like to the app."""
    driver = app._driver
    assert driver is not None
    parser = XTermParser()
    for event in parser.feed(text):
        driver.send_message(event)
    return parser


def send_stalled_burst(app: StationApp, pieces: list[str], stall_s: float) -> None:
    """One read whose keys were stamped apart: the process stalled between the pieces
    (descheduled on a loaded machine, the GIL held by a worker thread) while the keys
    were parsed. The event loop is blocked meanwhile, so they reach the app together."""
    driver = app._driver
    assert driver is not None
    parser = XTermParser()
    for n, piece in enumerate(pieces):
        if n:
            time.sleep(stall_s)  # blocks the event loop: nothing is handled meanwhile
        for event in parser.feed(piece):
            driver.send_message(event)


async def finish_escapes(app: StationApp, parser: XTermParser) -> None:
    """An ESC in a burst makes the parser wait for the rest of a sequence; the real
    driver ticks it after ESCAPE_DELAY and the held characters come out as keys."""
    driver = app._driver
    assert driver is not None
    while parser._timeout_time is not None:
        await asyncio.sleep(ESCAPE_DELAY)
        for event in parser.tick():
            driver.send_message(event)


async def scan(
    pilot: Pilot[Any],
    text: str,
    *,
    until: Callable[[], bool] | None = None,
    what: str = "the scan's verdict",
    terminator: str = "\r",
) -> str:
    """Scan ``text`` and wait for its verdict (or ``until``); returns the banner text."""
    app = pilot.app
    assert isinstance(app, StationApp)
    seq_before = app.shown_seq
    await finish_escapes(app, send_burst(app, text + terminator))
    if until is None:

        def until() -> bool:
            return app.shown_seq > seq_before and not app.scanning

    await wait_for(pilot, until, what)
    await pilot.pause()
    return banner_text(app)


def banner_text(app: StationApp) -> str:
    """The verdict banner a person sees now: the badge preview's, or the scan screen's."""
    if isinstance(app.screen, BadgeScreen):
        return app.screen.query_one("#badge-verdict", VerdictBanner).text
    return app.scan_screen.query_one("#banner", VerdictBanner).text


def light_text(app: StationApp) -> str:
    light = app.scan_screen.query_one("#db-light", DatabaseLight)
    return str(light.render())


def screen_text(app: StationApp) -> str:
    """Everything the current screen shows, as plain text (what a person reads)."""
    parts: list[str] = []
    for widget in app.screen.query(Static):
        parts.append(str(widget.render()))
    return "\n".join(parts)


def badge_shown(app: StationApp, name: str | None = None) -> bool:
    """The badge preview is up and filled in (for ``name``, if given)."""
    screen = app.screen
    if not isinstance(screen, BadgeScreen) or screen.badge is None:
        return False
    shown = screen.query("#badge-name")
    if not shown:
        return False
    return name is None or str(shown.first(Static).render()) == name


def picker_shown(app: StationApp) -> bool:
    """The product picker is up and built: composed and mounted, its list in place.

    A pushed screen is ``app.screen`` a moment before its widgets are composed and
    mounted; a test that reads the list after waiting only for the screen's type can
    find none on a busy machine (seen under pytest -n 2)."""
    return isinstance(app.screen, PickerScreen) and app.screen.is_mounted


def option_texts(screen: Screen[Any], selector: str = "OptionList") -> list[str]:
    options = screen.query_one(selector, OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def started(pilot: Pilot[Any]) -> StationApp:
    app = pilot.app
    assert isinstance(app, StationApp)
    # Start-up is not what these tests time: a loaded CI took over 5 s to sign in once
    # (reading the operators through a test's fault proxy while the first sync ran).
    ready = lambda: app.ready and isinstance(app.screen, ScanScreen)  # noqa: E731
    await wait_for(pilot, ready, "sign-in", timeout=STARTUP_TIMEOUT_S)
    await wait_for(pilot, lambda: app.info is not None, "station info", timeout=STARTUP_TIMEOUT_S)
    return app


@dataclass
class Station:
    """One test's conference, database and a way to build the app on it."""

    db: TestDatabase
    conf: ConferenceBuilder
    settings: Settings
    clock: Callable[[], datetime] | None = None
    apps: list[Services] = field(default_factory=list)

    def services(self, settings: Settings | None = None) -> Services:
        """Services on their own engine, as a separate station process would have."""
        settings = settings or self.settings
        engine = make_engine(settings.database)
        sessions = make_session_factory(engine)
        clock = self.clock or utcnow
        services = Services(
            settings=settings,
            checkin=CheckInService(sessions, clock=clock),
            redemption=RedemptionService(sessions, clock=clock),
            staff=StaffService(sessions, clock=clock),
            engine=engine,
        )
        self.apps.append(services)
        return services

    def app(self, **changes: Any) -> StationApp:
        settings = replace(self.settings, **changes)
        clock = self.clock
        return make_app(self.services(settings), settings=settings, clock=clock)

    def count(self, model: type, **where: object) -> int:
        with self.db.sessions() as s:
            query = select(func.count()).select_from(model)
            for column, value in where.items():
                query = query.where(getattr(model, column) == value)
            return int(s.scalar(query) or 0)


def _station(db: TestDatabase) -> Iterator[Station]:
    conf = ConferenceBuilder(db.sessions)
    conf.staff("Ana")
    settings = Settings(
        database=db.settings,
        conference=conf.slug,
        station="Door A",
        mode=Mode.CHECKIN,
        operator="Ana",
        badge_seconds=30.0,
        # Offline mode has tests of its own (tests/offline); here "not recorded" is the point.
        offline=OfflineSettings(enabled=False),
    )
    station = Station(db=db, conf=conf, settings=settings)
    yield station
    for services in station.apps:
        services.dispose()


@pytest.fixture
def station(sqlite_database: TestDatabase) -> Iterator[Station]:
    """The default: SQLite, check-in mode, operator Ana signed in (no PIN)."""
    yield from _station(sqlite_database)


@pytest.fixture
def pg_station(postgres_database: TestDatabase) -> Iterator[Station]:
    yield from _station(postgres_database)


@pytest.fixture
def any_station(database: TestDatabase) -> Iterator[Station]:
    """Runs once on SQLite and once on PostgreSQL."""
    yield from _station(database)


@pytest.fixture
def proxy(pg_station: Station) -> Iterator[TcpProxy]:
    """PostgreSQL behind a TCP proxy: stopping it is a cut network cable at the venue."""
    upstream = urlsplit(pg_station.db.settings.url)
    tcp = TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 5432)
    tcp.start()
    url = pg_station.db.settings.url.replace(
        f"{upstream.hostname}:{upstream.port}", f"127.0.0.1:{tcp.port}"
    )
    database = replace(pg_station.settings.database, url=url, connect_timeout_s=2)
    pg_station.settings = replace(pg_station.settings, database=database)
    yield tcp
    tcp.stop()
