"""The connection the one-statement scan paths keep between scans.

Borrowing a pooled connection for every scan costs client time on each one:
the pool's check-out and check-in, its reset on return, and switching
autocommit on and off again. A station scans one badge at a time, so the scan
paths keep one connection checked out, in autocommit, with a cursor for each statement, and
make the same checks the pool makes at check-out: a connection the server
closed is noticed without a round trip and replaced, and one idle for a long
spell is pinged first. A scan that finds it in use by another thread (a
lookup while a scan is in flight) borrows from the pool as before. Disposing
of the engine closes it.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

import psycopg
from psycopg.rows import BaseRowFactory
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import PoolProxiedConnection

from station.db import check_idle_connection, ping_after_idle_s

_REGISTRY_LOCK = threading.Lock()
_BY_ENGINE: weakref.WeakKeyDictionary[Engine, HotConnection] = weakref.WeakKeyDictionary()


def hot_connection(engine: Engine) -> HotConnection:
    """The engine's one held connection (made on first use, shared by its services)."""
    with _REGISTRY_LOCK:
        held = _BY_ENGINE.get(engine)
        if held is None:
            held = _BY_ENGINE[engine] = HotConnection(engine)
        return held


class HotConnection:
    def __init__(self, engine: Engine) -> None:
        # Weak, so the registry entry goes with the engine.
        self._engine = weakref.ref(engine)
        self._ping_after_idle_s = ping_after_idle_s(engine)
        self._lock = threading.Lock()
        self._pooled: PoolProxiedConnection | None = None
        self._driver: psycopg.Connection[Any] | None = None
        # A cursor per statement: a cursor's row type is made from the result it last held.
        self._cursors: dict[str, psycopg.Cursor[Any]] = {}
        self._last_used = 0.0
        event.listen(engine, "engine_disposed", self._on_engine_disposed)

    def fetch_one(self, sql: str, params: dict[str, Any], rows: BaseRowFactory[Any]) -> Any:
        """Run ``sql`` in autocommit (one round trip) and return its first row."""
        if not self._lock.acquire(blocking=False):
            return self._borrowed(sql, params, rows)
        try:
            driver = self._ready_connection()
            cursor = self._cursors.get(sql)
            if cursor is None:
                cursor = self._cursors[sql] = driver.cursor(row_factory=rows)
            try:
                cursor.execute(sql, params)
                return cursor.fetchone()
            except psycopg.Error as exc:
                if driver.closed or driver.broken:
                    self._drop(exc)
                raise
            finally:
                self._last_used = time.monotonic()
        finally:
            self._lock.release()

    @property
    def held(self) -> bool:
        """Whether a connection is held now (for tests and diagnostics)."""
        return self._pooled is not None

    def _ready_connection(self) -> psycopg.Connection[Any]:
        driver = self._driver
        if self._pooled is not None and driver is not None:
            idle_for_s = time.monotonic() - self._last_used
            try:
                check_idle_connection(driver, idle_for_s, self._ping_after_idle_s)
            except DisconnectionError as exc:
                self._drop(exc)
        if self._pooled is None or self._driver is None:
            engine = self._engine()
            if engine is None:  # pragma: no cover - a service outliving its engine
                raise psycopg.OperationalError("the database engine is gone")
            pooled = engine.raw_connection()
            fresh = pooled.driver_connection
            assert isinstance(fresh, psycopg.Connection)
            fresh.autocommit = True  # client-side flag: no BEGIN, no COMMIT
            self._pooled, self._driver = pooled, fresh
            return fresh
        assert driver is not None
        return driver

    def _drop(self, exc: BaseException | None) -> None:
        """Forget a connection that is no longer usable; the pool replaces it."""
        pooled, self._pooled, self._driver = self._pooled, None, None
        self._cursors.clear()
        if pooled is not None:
            pooled.invalidate(exc)

    def _borrowed(self, sql: str, params: dict[str, Any], rows: BaseRowFactory[Any]) -> Any:
        engine = self._engine()
        if engine is None:  # pragma: no cover
            raise psycopg.OperationalError("the database engine is gone")
        pooled = engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert isinstance(driver, psycopg.Connection)
            driver.autocommit = True
            try:
                with driver.cursor(row_factory=rows) as cursor:
                    cursor.execute(sql, params)
                    return cursor.fetchone()
            except psycopg.Error as exc:
                if driver.closed or driver.broken:
                    pooled.invalidate(exc)
                raise
            finally:
                if not driver.closed:
                    driver.autocommit = False
        finally:
            pooled.close()

    def _on_engine_disposed(self, _engine: Engine) -> None:
        # A scan stuck on a dead link (offline mode left it behind) holds the lock until
        # its socket gives up: do not wait for it, leave its connection to it.
        owned = self._lock.acquire(timeout=1.0)
        try:
            pooled, self._pooled, self._driver = self._pooled, None, None
            self._cursors = {}
            if pooled is not None and owned:
                pooled.detach()
                pooled.close()
        finally:
            if owned:
                self._lock.release()
