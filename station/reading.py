"""Long reads (exports, reports) that never hold up the stations' writes.

The station's engines begin every SQLite transaction with BEGIN IMMEDIATE,
which takes the write lock: right for scans, wrong for a million-row export
that would lock every meal line out until it finished. Reads here go through
a separate SQLite connection that only reads (``query_only``) and begins a
deferred transaction, which in WAL mode sees one snapshot without blocking
anybody. On PostgreSQL the read is one REPEATABLE READ, READ ONLY
transaction, so the numbers of a report agree with each other, with
timeouts long enough for a big export.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import NullPool


@contextmanager
def read_connection(engine: Engine, *, minutes: int = 30) -> Iterator[Connection]:
    """A connection in one read-only transaction; rolled back (nothing to keep) at the end."""
    if engine.dialect.name == "sqlite":
        reader = _sqlite_reader(engine)
        try:
            with reader.connect() as conn:
                yield conn
        finally:
            reader.dispose()
        return
    with engine.connect() as conn:
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        conn.execute(text(f"SET LOCAL statement_timeout = '{minutes}min'"))
        conn.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = '{minutes}min'"))
        yield conn


def _sqlite_reader(engine: Engine) -> Engine:
    reader = create_engine(engine.url, poolclass=NullPool)

    @event.listens_for(reader, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves, deferred
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA query_only = ON")
            cursor.execute("PRAGMA busy_timeout = 5000")
        finally:
            cursor.close()

    @event.listens_for(reader, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN DEFERRED")

    return reader
