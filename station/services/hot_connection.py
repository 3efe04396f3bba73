"""The connection the one-statement scan paths keep between scans.

Borrowing a pooled connection for every scan costs client time on each one:
the pool's check-out and check-in, its reset on return, and switching
autocommit on and off again. A station scans one badge at a time, so the scan
paths keep one connection checked out, in autocommit, and
make the same checks the pool makes at check-out: a connection the server
closed is noticed without a round trip and replaced, and one idle for a long
spell is pinged first. A scan that finds it in use by another thread (a
lookup while a scan is in flight) borrows from the pool as before. Disposing
of the engine closes it.

Each statement runs below psycopg's cursor, on the same connection: its
parameters dumped by a ``Transformer`` kept for it, sent with libpq's extended
protocol (prepared after the connection's ``prepare_threshold`` runs, never
behind PgBouncer), the result checked and its one row loaded as a cursor does,
errors raised as the same psycopg classes. What it leaves out is the cursor's
own bookkeeping for results a scan never asks for (description, row count,
result sets, prepared-statement accounting): measured with
``benchmarks/scan_cpu.py``, that was 0.02 ms of the station's 0.15 ms of CPU
per meal on loopback. The server sees the same statements either way.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import weakref
from collections import namedtuple
from functools import cache
from typing import Any

import psycopg
from psycopg import generators, pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import PoolProxiedConnection

from station.db import check_idle_connection, ping_after_idle_s

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%|%")
_NAMES = itertools.count(1)
_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_FATAL_ERROR = pq.ExecStatus.FATAL_ERROR

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
        # Per statement on this connection: its dumper and whether it is prepared.
        self._statements: dict[str, _Statement] = {}
        self._last_used = 0.0
        event.listen(engine, "engine_disposed", self._on_engine_disposed)

    def fetch_one(self, sql: str, params: dict[str, Any]) -> Any:
        """Run ``sql`` (``%(name)s`` placeholders) in autocommit, one round trip, and
        return its first row as a named tuple (None without rows)."""
        if not self._lock.acquire(blocking=False):
            return self._borrowed(sql, params)
        try:
            driver = self._ready_connection()
            statement = self._statements.get(sql)
            if statement is None:
                statement = self._statements[sql] = _Statement(driver, sql)
            try:
                return statement.run(driver, params)
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
        self._statements.clear()
        if pooled is not None:
            pooled.invalidate(exc)

    def _borrowed(self, sql: str, params: dict[str, Any]) -> Any:
        engine = self._engine()
        if engine is None:  # pragma: no cover
            raise psycopg.OperationalError("the database engine is gone")
        pooled = engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert isinstance(driver, psycopg.Connection)
            driver.autocommit = True
            try:
                return _Statement(driver, sql, prepare=False).run(driver, params)
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
            self._statements = {}
            if pooled is not None and owned:
                pooled.detach()
                pooled.close()
        finally:
            if owned:
                self._lock.release()


class _Statement:
    """One statement on one connection: what a cursor would do for it, and no more."""

    __slots__ = ("_formats", "_names", "_prepared", "_query", "_row", "_tx", "_unprepared")

    def __init__(self, driver: psycopg.Connection[Any], sql: str, *, prepare: bool = True) -> None:
        query, self._names = _numbered(sql)
        self._query = query.encode(driver.info.encoding)
        self._formats = [PyFormat.AUTO] * len(self._names)
        self._tx = Transformer(driver)
        # Prepared as psycopg would: after the connection's prepare_threshold runs, never
        # where it prepares nothing (PgBouncer) or on a borrowed connection (the pool's, whose
        # prepared statements psycopg keeps track of); once for each set of parameter types
        # (an int is sent as int2, int4 or int8 by its size, a None as unknown, and a
        # prepared statement takes only the types it was made for).
        threshold = driver.prepare_threshold if prepare else None
        self._unprepared: float = float("inf") if threshold is None else threshold
        self._prepared: dict[tuple[int, ...], bytes] = {}
        self._row: Any = None  # the named-tuple type of its rows, from the first result

    def run(self, driver: psycopg.Connection[Any], params: dict[str, Any]) -> Any:
        tx = self._tx
        values = tx.dump_sequence([params[name] for name in self._names], self._formats)
        pgconn = driver.pgconn
        types = tx.types or ()
        if self._unprepared > 0:
            self._unprepared -= 1
            pgconn.send_query_params(self._query, values, types, tx.formats)
        else:
            name = self._prepared.get(types)
            if name is None:
                name = b"station_hot_%d" % next(_NAMES)
                pgconn.send_prepare(name, self._query, types)
                _check(driver, driver.wait(generators.execute(pgconn)))
                self._prepared[types] = name
            pgconn.send_query_prepared(name, values, tx.formats)
        result = _check(driver, driver.wait(generators.execute(pgconn)))
        if result.status != _TUPLES_OK or result.ntuples == 0:
            return None
        row = self._row
        if row is None:
            encoding = driver.info.encoding
            fields = [result.fname(i) or b"?column?" for i in range(result.nfields)]
            row = self._row = _row_type(tuple(_field(f.decode(encoding)) for f in fields))
        tx.set_pgresult(result)
        return tx.load_row(0, row._make)


def _check(driver: psycopg.Connection[Any], results: list[pq.abc.PGresult]) -> pq.abc.PGresult:
    """The last result, or the error the server answered with (as a cursor raises it)."""
    if not results:
        raise psycopg.InternalError("got no result from the query")
    for result in results:
        if result.status == _FATAL_ERROR:
            raise psycopg.errors.error_from_result(result, encoding=driver.info.encoding)
    return results[-1]


@cache
def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """``%(name)s`` placeholders as ``$1``..., each name numbered once; ``%%`` is ``%``
    (kept per statement text: a borrowed connection makes its statement on every call)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            if match.group(0) == "%%":
                return "%"
            raise ValueError(f"only %(name)s placeholders in a held-connection statement: {sql}")
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(number, sql), tuple(names)


_NOT_WORD = re.compile(r"\W")


def _field(column: str) -> str:
    """A column's name as a field, as psycopg's named-tuple rows name it ("?column?" is
    f_column_, "1st" f1st)."""
    if not column.isidentifier():
        if column[0].isdigit():
            column = "f" + column
        column = _NOT_WORD.sub("_", column)
    return "f" + column if column[0] == "_" else column


_ROW_TYPES: dict[tuple[str, ...], Any] = {}


def _row_type(columns: tuple[str, ...]) -> Any:
    """A named-tuple type for these columns, made once for the process."""
    made = _ROW_TYPES.get(columns)
    if made is None:
        made = _ROW_TYPES[columns] = namedtuple("Row", columns)
    return made
