"""PostgreSQL only: a station role beats for its own conference and reads nothing; a
dashboard listening on ``station_health`` is woken by a beat at once."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from station.db import make_session_factory
from station.services.dashboard import BeatListener
from station.services.errors import ConfigurationError
from station.services.health import HealthService
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase
from tests.health.helpers import health_rows, heartbeat
from tests.services.test_station_role import StationRole, station_role

__all__ = ["station_role"]  # the fixture

pytestmark = pytest.mark.postgres


def _as_admin(role: StationRole) -> sessionmaker[Session]:
    return make_session_factory(role.admin)


def test_a_station_role_beats_for_its_own_conference(
    station_role: StationRole, postgres_database: TestDatabase
) -> None:
    health = HealthService(make_session_factory(station_role.station))
    health.beat("pycon-test", heartbeat("Door A"))
    health.beat("pycon-test", heartbeat("Door A", closing=True))
    [row] = health_rows(postgres_database)
    assert (row.station, row.state, row.beats) == ("Door A", "closed", 2)


def test_a_station_role_cannot_beat_for_another_conference(
    station_role: StationRole, postgres_database: TestDatabase
) -> None:
    ConferenceBuilder(_as_admin(station_role), slug="other-con", name="Other Con")
    health = HealthService(make_session_factory(station_role.station))
    with pytest.raises(ConfigurationError, match="only for its own conference"):
        health.beat("other-con", heartbeat("Sneaky"))
    with pytest.raises(ConfigurationError, match="no conference nope"):
        health.beat("nope", heartbeat("Sneaky"))
    assert health_rows(postgres_database) == []


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM station_health",
        "SELECT count(*) FROM station_health",
        "UPDATE station_health SET state = 'closed'",
        "DELETE FROM station_health",
    ],
)
def test_a_station_role_cannot_read_or_touch_the_table(
    station_role: StationRole, statement: str
) -> None:
    HealthService(make_session_factory(station_role.station)).beat("pycon-test", heartbeat())
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        station_role.station.begin() as conn,
    ):
        conn.execute(text(statement))


def test_the_heartbeat_function_is_not_granted_to_everyone(station_role: StationRole) -> None:
    with station_role.admin.connect() as conn:
        public = conn.execute(
            text(
                "SELECT p.proname FROM pg_proc p, aclexplode(coalesce(p.proacl, "
                "acldefault('f', p.proowner))) a "
                "WHERE p.pronamespace = current_schema()::regnamespace AND a.grantee = 0 "
                "AND p.proname = 'station_heartbeat'"
            )
        ).scalars()
        assert list(public) == []


# --- LISTEN station_health ---------------------------------------------------------------


def test_a_listener_is_woken_by_a_beat_from_another_connection(
    postgres_database: TestDatabase,
) -> None:
    conf = ConferenceBuilder(postgres_database.sessions)
    listener = BeatListener(postgres_database.engine)
    assert listener.usable
    other = postgres_database.new_engine()
    try:
        listener.wait(0.01)  # connects and LISTENs
        health = HealthService(make_session_factory(other))
        woke: list[tuple[bool, float]] = []

        def listen() -> None:
            started = time.monotonic()
            woke.append((listener.wait(5.0), time.monotonic() - started))

        waiting = threading.Thread(target=listen)
        waiting.start()
        time.sleep(0.2)
        sent = time.monotonic()
        health.beat(conf.slug, heartbeat())
        waiting.join(timeout=10)
        notified, waited = woke[0]
        print(f"woken {time.monotonic() - sent:.3f}s after the beat was sent")
        assert notified is True
        assert waited < 0.2 + 1.0
    finally:
        listener.close()
        other.dispose()


def test_a_listener_says_false_after_its_timeout_without_a_beat(
    postgres_database: TestDatabase,
) -> None:
    """Other test runs beating on the same server (another schema, in parallel) notify the
    same channel; a quiet half second comes within a few tries."""
    listener = BeatListener(postgres_database.engine)
    try:
        listener.wait(0.01)
        tries = []
        for _ in range(10):
            started = time.monotonic()
            notified = listener.wait(0.5)
            tries.append((notified, time.monotonic() - started))
            if not notified:
                break
        notified, waited = tries[-1]
        assert notified is False, tries
        assert 0.45 <= waited < 2.0, tries
    finally:
        listener.close()


def test_a_listener_without_a_server_sleeps_and_says_false(
    postgres_database: TestDatabase,
) -> None:
    closed = postgres_database.new_engine(url="postgresql://postgres@127.0.0.1:1/test")
    listener = BeatListener(closed)
    try:
        started = time.monotonic()
        assert listener.wait(0.3) is False
        assert time.monotonic() - started >= 0.29
    finally:
        listener.close()
        closed.dispose()


def test_a_sqlite_listener_only_sleeps(sqlite_database: TestDatabase) -> None:
    listener = BeatListener(sqlite_database.engine)
    assert not listener.usable
    started = time.monotonic()
    assert listener.wait(0.2) is False
    assert time.monotonic() - started >= 0.19
