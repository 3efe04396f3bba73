"""PostgreSQL only: a station role beats for its own conference and reads nothing; a
dashboard listening on ``station_health`` is woken by a beat at once."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from station.db import DatabaseSettings, make_engine, make_session_factory
from station.services.dashboard import BeatListener
from station.services.errors import ConfigurationError
from station.services.health import HealthService
from tests.builders import ConferenceBuilder
from tests.conftest import PG_URL, TestDatabase
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
    # A second listener of our own, to tell our beat's notification from another test
    # run's (NOTIFY is per database; parallel runs share it).
    witness = psycopg.connect(
        make_url(PG_URL).set(drivername="postgresql").render_as_string(False), autocommit=True
    )
    try:
        witness.execute("LISTEN station_health")
        listener.wait(0.01)  # connects and LISTENs
        health = HealthService(make_session_factory(other))
        with other.connect() as conn:
            beating_pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
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
        ours = None
        for notice in witness.notifies(timeout=2.0):
            if notice.pid == beating_pid:
                ours = notice
                break
        assert ours is not None, "the beat notified nothing"
        assert (ours.channel, ours.payload) == ("station_health", str(conf.conference_id))
    finally:
        witness.close()
        listener.close()
        other.dispose()


@pytest.fixture
def quiet_database() -> Iterator[Engine]:
    """A database of its own: nobody else notifies there (channels are per database)."""
    name = f"station_quiet_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(
        DatabaseSettings(url=make_url(PG_URL).set(database=name).render_as_string(False))
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_listener_says_false_after_its_timeout_without_a_beat(quiet_database: Engine) -> None:
    listener = BeatListener(quiet_database)
    assert listener.usable
    try:
        assert listener.wait(0.01) is False  # connects and LISTENs
        assert listener._connection is not None
        started = time.monotonic()
        assert listener.wait(0.5) is False
        assert 0.45 <= time.monotonic() - started < 2.0
        # And a notification there does wake it: it was listening all along.
        with psycopg.connect(
            quiet_database.url.set(drivername="postgresql").render_as_string(False),
            autocommit=True,
        ) as other:
            other.execute("NOTIFY station_health, '1'")
        assert listener.wait(2.0) is True
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
