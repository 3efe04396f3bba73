"""Faults at the venue: each is a plain "not recorded, try again", nothing half-written,
and the next scan works without restarting the station.

The server restarts happen on a private throwaway cluster; the killed
connection and the held lock happen on the shared server, inside this test
run's own schema.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, select, text

from station.db import DatabaseSettings, make_engine, make_session_factory, upgrade
from station.models import Attendee, CheckIn, ProductRedemption, ScanLog
from station.services import CheckInService, RedemptionService
from station.services.errors import DatabaseBusy, DatabaseUnavailable, FullyRedeemed
from station.services.results import RedemptionResult, StationContext
from tests.builders import Built, ConferenceBuilder
from tests.conftest import REQUIRE_PG
from tests.services.pg_cluster import Cluster, make_cluster
from tests.services.test_hot_paths import truncate

pytestmark = pytest.mark.postgres


def count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(model)) or 0)


def wait_until(condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class InBackground:
    """Run a scan in a thread; keep its result or error for the test to look at."""

    def __init__(self, call: Callable[[], object]) -> None:
        self.outcome: object = None
        self.seconds = 0.0

        def run() -> None:
            started = time.monotonic()
            try:
                self.outcome = call()
            except Exception as exc:  # the outcome under test
                self.outcome = exc
            self.seconds = time.monotonic() - started

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def result(self) -> object:
        self.thread.join(15)
        assert not self.thread.is_alive()
        return self.outcome


def waiting_on_a_lock(admin: Engine, application_name: str) -> Callable[[], bool]:
    def check() -> bool:
        with admin.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE application_name = :name AND wait_event_type = 'Lock'"
                    ),
                    {"name": application_name},
                )
            )

    return check


def hold_attendee_lock(engine: Engine, attendee_id: int) -> Connection:
    """Another session holding the attendee row, as a stuck transaction would."""
    blocker = engine.connect()
    blocker.begin()
    blocker.execute(select(Attendee.id).where(Attendee.id == attendee_id).with_for_update())
    return blocker


# --- the server restarts (private cluster) ---------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="station-faults-"))
    made = make_cluster(base)
    if made is None:
        shutil.rmtree(base, ignore_errors=True)
        message = "restart tests need the PostgreSQL server binaries (initdb, pg_ctl)"
        if REQUIRE_PG:
            pytest.fail(message + " (STATION_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    made.start()
    engine = make_engine(DatabaseSettings(url=made.url))
    upgrade(engine)
    engine.dispose()
    try:
        yield made
    finally:
        try:
            made.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def private(cluster: Cluster) -> Iterator[tuple[Cluster, Engine, ConferenceBuilder]]:
    name = f"station-fault-{uuid.uuid4().hex[:8]}"
    settings = DatabaseSettings(url=cluster.url, connect_timeout_s=2, application_name=name)
    engine = make_engine(settings)
    truncate(engine)
    conf = ConferenceBuilder(make_session_factory(engine), slug=f"con-{name}")
    yield cluster, engine, conf
    engine.dispose()


def test_a_restart_between_scans_goes_unnoticed(
    private: tuple[Cluster, Engine, ConferenceBuilder],
) -> None:
    cluster, engine, conf = private
    service = CheckInService(make_session_factory(engine))
    ctx = StationContext(conf.slug, "Desk 1")
    first, second = conf.attendee(), conf.attendee()
    service.check_in(ctx, first.access_code)

    cluster.restart()
    # The pooled connection was closed by the server; checkout notices and replaces it.
    result = service.check_in(ctx, second.access_code)
    assert result.badge.access_code == second.access_code
    assert count(engine, CheckIn) == 2


@pytest.mark.parametrize("hot_paths", [None, False], ids=["hot", "general"])
def test_server_down_is_not_recorded_and_the_next_scan_after_it_is_back_works(
    private: tuple[Cluster, Engine, ConferenceBuilder], hot_paths: bool | None
) -> None:
    cluster, engine, conf = private
    service = RedemptionService(make_session_factory(engine), hot_paths=hot_paths)
    ctx = StationContext(conf.slug, "Meal line")
    built = conf.attendee(addons={"lunch": 2})
    service.redeem_product(ctx, built.access_code, product="lunch")

    cluster.stop()
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseUnavailable) as failed:
            service.redeem_product(ctx, built.access_code, product="lunch")
        assert time.monotonic() - started < 3
        assert failed.value.message == "Database not reachable — scan NOT recorded, try again."
        # A stopped server is "offline", never "busy": the UI turns its light red for it.
        assert not isinstance(failed.value, DatabaseBusy)
    finally:
        cluster.start()

    again = service.redeem_product(ctx, built.access_code, product="lunch")
    assert (again.redeemed, again.quantity) == (2, 2)
    assert count(engine, ProductRedemption) == 2


def test_a_restart_during_a_scan_is_not_recorded(
    private: tuple[Cluster, Engine, ConferenceBuilder],
) -> None:
    cluster, engine, conf = private
    admin = make_engine(DatabaseSettings(url=cluster.url))
    service = RedemptionService(make_session_factory(engine))
    ctx = StationContext(conf.slug, "Meal line")
    built = conf.attendee(addons={"lunch": 1})
    logged_before = count(engine, ScanLog)

    blocker = hold_attendee_lock(admin, built.attendee_id)
    scan = InBackground(lambda: service.redeem_product(ctx, built.access_code, product="lunch"))
    wait_until(waiting_on_a_lock(admin, _application_name(engine)))
    cluster.restart()  # ends the blocker's session and the waiting scan alike

    outcome = scan.result()
    blocker.invalidate()
    admin.dispose()
    if isinstance(outcome, RedemptionResult):
        # The shutdown ended the blocker first and the scan's write got the lock and
        # committed before its own session was ended (seen once in 80 runs): recorded, and
        # the answer says so. What may never happen is an answer the database disagrees with.
        assert count(engine, ProductRedemption) == 1
        assert count(engine, ScanLog) == logged_before + 1
        with pytest.raises(FullyRedeemed):
            service.redeem_product(ctx, built.access_code, product="lunch")
        return
    assert isinstance(outcome, DatabaseUnavailable), outcome
    assert not isinstance(outcome, DatabaseBusy)
    assert count(engine, ProductRedemption) == 0
    assert count(engine, ScanLog) == logged_before
    assert service.redeem_product(ctx, built.access_code, product="lunch").redeemed == 1


def _application_name(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.scalar(text("SELECT current_setting('application_name')")))


# --- a killed connection and a held lock (shared server, own schema) ---------------------


@pytest.fixture
def shared(
    postgres_schema: DatabaseSettings, postgres_database: object
) -> Iterator[tuple[DatabaseSettings, ConferenceBuilder, Engine]]:
    name = f"station-fault-{uuid.uuid4().hex[:8]}"
    settings = replace(postgres_schema, application_name=name, lock_timeout_ms=8000)
    admin = make_engine(postgres_schema)
    conf = ConferenceBuilder(make_session_factory(admin))
    yield settings, conf, admin
    admin.dispose()


# The stations' engines that ``scans`` made, disposed after each test: a pool left to the
# garbage collector keeps its connections open, and the repeats in CI run in one process.
_station_engines: list[Engine] = []


@pytest.fixture(autouse=True)
def _dispose_station_engines() -> Iterator[None]:
    yield
    while _station_engines:
        _station_engines.pop().dispose()


def scans(
    settings: DatabaseSettings, conf: ConferenceBuilder, hot_paths: bool | None
) -> dict[str, Callable[[Built], object]]:
    engine = make_engine(settings)
    _station_engines.append(engine)
    sessions = make_session_factory(engine)
    checkin = CheckInService(sessions, hot_paths=hot_paths)
    redemption = RedemptionService(sessions, hot_paths=hot_paths)
    ctx = StationContext(conf.slug, "Desk 1")
    return {
        "check-in": lambda built: checkin.check_in(ctx, built.access_code),
        "redeem": lambda built: redemption.redeem_product(ctx, built.access_code, product="lunch"),
    }


def written(admin: Engine) -> tuple[int, int, int]:
    return count(admin, CheckIn), count(admin, ProductRedemption), count(admin, ScanLog)


@pytest.mark.parametrize("hot_paths", [None, False], ids=["hot", "general"])
@pytest.mark.parametrize("action", ["check-in", "redeem"])
def test_a_connection_killed_mid_transaction_is_not_recorded(
    shared: tuple[DatabaseSettings, ConferenceBuilder, Engine], action: str, hot_paths: bool | None
) -> None:
    settings, conf, admin = shared
    scan = scans(settings, conf, hot_paths)[action]
    victim, other = conf.attendee(addons={"lunch": 1}), conf.attendee(addons={"lunch": 1})
    before = written(admin)

    blocker = hold_attendee_lock(admin, victim.attendee_id)
    try:
        running = InBackground(lambda: scan(victim))
        wait_until(waiting_on_a_lock(admin, settings.application_name))
        with admin.connect() as conn:
            killed = conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ),
                {"name": settings.application_name},
            )
        assert killed
        outcome = running.result()
    finally:
        blocker.rollback()
        blocker.close()
    assert isinstance(outcome, DatabaseUnavailable), outcome
    assert not isinstance(outcome, DatabaseBusy)
    assert "NOT recorded" in outcome.message
    assert written(admin) == before
    # The pool dropped the dead connection: the next scan, same station, works.
    scan(other)
    scan(victim)
    assert written(admin) > before


@pytest.mark.parametrize("hot_paths", [None, False], ids=["hot", "general"])
@pytest.mark.parametrize("action", ["check-in", "redeem"])
def test_a_lock_held_past_the_lock_timeout_is_busy_not_recorded(
    shared: tuple[DatabaseSettings, ConferenceBuilder, Engine], action: str, hot_paths: bool | None
) -> None:
    settings, conf, admin = shared
    scan = scans(replace(settings, lock_timeout_ms=300), conf, hot_paths)[action]
    victim = conf.attendee(addons={"lunch": 1})
    before = written(admin)

    blocker = hold_attendee_lock(admin, victim.attendee_id)
    try:
        started = time.monotonic()
        # Busy, not offline: the server answered, the row was just taken. The UI tells
        # the two apart by the class; DatabaseBusy is still a DatabaseUnavailable.
        with pytest.raises(DatabaseBusy) as failed:
            scan(victim)
        waited = time.monotonic() - started
    finally:
        blocker.rollback()
        blocker.close()
    assert 0.25 < waited < 2
    assert failed.value.message == "Database busy — scan NOT recorded, try again."
    assert written(admin) == before
    scan(victim)
    assert written(admin) > before


def test_a_connection_killed_while_idle_is_replaced_before_the_next_scan(
    shared: tuple[DatabaseSettings, ConferenceBuilder, Engine],
) -> None:
    settings, conf, admin = shared
    scan = scans(settings, conf, None)["check-in"]
    scan(conf.attendee())
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": settings.application_name},
        )
    time.sleep(0.1)
    scan(conf.attendee())
    assert count(admin, CheckIn) == 2
