"""Every database call is bounded: connect, statement and lock timeouts, on both databases.

A station whose SSH link dropped exits only when its worker's database call
returns, so a call that could wait forever would keep a dead session alive.
These tests hang the database on purpose (a server that never answers, a lock
that is never released, a statement that never ends) and check that the call
comes back with an error, and that the service layer turns it into the
"Database not reachable" refusal that records nothing.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from station.db import DatabaseSettings, make_engine, make_session_factory
from station.services import CheckInService
from station.services.errors import DatabaseBusy, DatabaseUnavailable
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase as Database

# A hung call must come back well within this; the timeouts under test are 0.3–2 s.
RETURNS_WITHIN_S = 15.0


def returns(call: Callable[[], Any]) -> tuple[BaseException | None, float]:
    """Run ``call`` in a thread; fail if it does not come back; (its exception, seconds)."""
    outcome: list[BaseException | None] = []
    started = time.monotonic()

    def target() -> None:
        try:
            call()
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(RETURNS_WITHIN_S)
    assert not worker.is_alive(), f"the call did not return within {RETURNS_WITHIN_S}s"
    return outcome[0], time.monotonic() - started


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.postgres
def test_postgres_sessions_carry_the_timeouts(postgres_database: Database) -> None:
    settings = replace(postgres_database.settings, statement_timeout_ms=4321, lock_timeout_ms=1234)
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "4321ms"
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "1234ms"
            idle = conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar()
            assert idle not in (None, "0")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_statement_timeout_ends_a_statement_that_never_ends(
    postgres_database: Database,
) -> None:
    engine = make_engine(replace(postgres_database.settings, statement_timeout_ms=300))
    try:

        def sleep_forever() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_sleep(600)"))

        error, seconds = returns(sleep_forever)
        print(f"statement cancelled after {seconds:.2f}s")
        assert isinstance(error, OperationalError)
        assert "statement timeout" in str(error)
    finally:
        engine.dispose()


def test_connect_timeout_when_the_server_never_answers(silent_server: int) -> None:
    settings = DatabaseSettings(
        url=f"postgresql://station@127.0.0.1:{silent_server}/station", connect_timeout_s=2
    )
    engine = make_engine(settings)
    try:
        error, seconds = returns(lambda: engine.connect().close())
        print(f"connect gave up after {seconds:.2f}s")
        assert isinstance(error, OperationalError)
        # ...and the service layer says so in the volunteer's words.
        service = CheckInService(make_session_factory(engine))
        ctx = StationContext(conference="pycon-test", station="Desk 1")
        error, _seconds = returns(lambda: service.check_in(ctx, "ADA00001"))
        assert isinstance(error, DatabaseUnavailable)
        assert not isinstance(error, DatabaseBusy)
    finally:
        engine.dispose()


class _TableLock:
    """Another station holding the lock a check-in needs, until released."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    def __enter__(self) -> _TableLock:
        if self.db.kind == "sqlite":
            self._sqlite = sqlite3.connect(
                self.db.settings.url.removeprefix("sqlite:///"), isolation_level=None
            )
            self._sqlite.execute("BEGIN IMMEDIATE")
        else:
            self._pg = self.db.engine.connect()
            self._pg.execute(text("LOCK TABLE check_in IN ACCESS EXCLUSIVE MODE"))
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._sqlite is not None:
            self._sqlite.rollback()
            self._sqlite.close()
        if self._pg is not None:
            self._pg.rollback()
            self._pg.close()


def test_lock_timeout_ends_a_wait_for_a_lock_that_never_comes(database: Database) -> None:
    conf = ConferenceBuilder(database.sessions)
    ada = conf.attendee("ADA00001")
    # SQLite's busy timeout is at least a second; PostgreSQL takes the setting as is.
    engine = make_engine(replace(database.settings, lock_timeout_ms=300))
    try:
        service = CheckInService(make_session_factory(engine))
        ctx = StationContext(conference=conf.slug, station="Desk 1")
        with _TableLock(database):
            error, seconds = returns(lambda: service.check_in(ctx, ada.access_code))
        print(f"{database.kind}: lock wait ended after {seconds:.2f}s")
        # "Busy", not "offline", on both databases: the UI shows them differently.
        assert isinstance(error, DatabaseBusy), error
        assert error.message == "Database busy — scan NOT recorded, try again."
        # Once the lock is free the same scan goes through: nothing was half-written.
        result = service.check_in(ctx, ada.access_code)
        assert not result.replayed
    finally:
        engine.dispose()


def test_sqlite_connections_wait_for_locks_only_as_long_as_configured(
    sqlite_database: Database,
) -> None:
    engine = make_engine(replace(sqlite_database.settings, lock_timeout_ms=2500))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
    finally:
        engine.dispose()
