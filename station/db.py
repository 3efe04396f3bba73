"""Engines, sessions and migrations, built at start-up (never at import).

Both databases get timeouts on everything: a dead server or a locked row must
cost a volunteer seconds, not minutes, and must never keep a hung-up SSH
session alive.

PostgreSQL connections are checked on checkout without a round trip: an idle
connection has nothing to read, so a readable socket means the server closed
it (restart, ``pg_terminate_backend``) and the pool replaces it before use.
A real ping (one round trip) is only spent on a connection idle for longer
than ``ping_after_idle_s``, so a busy station pays no ping per scan.

SQLite takes its write lock at BEGIN (``BEGIN IMMEDIATE``), so two stations
on one file serialise instead of both reading a count and both writing (the
ORM's default deferred transactions oversell).
"""

from __future__ import annotations

import re
import select
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from station.services.errors import ConfigurationError

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str
    connect_timeout_s: int = 5
    statement_timeout_ms: int = 5000
    lock_timeout_ms: int = 3000
    # PostgreSQL only: keep the station's tables in this schema (tests use one per run).
    schema: str | None = None
    application_name: str = "station"
    # PostgreSQL only: a connection idle longer than this is pinged (one round trip) on checkout.
    ping_after_idle_s: float = 30.0
    # PostgreSQL only: psycopg prepares a statement after this many runs on a connection.
    prepare_threshold: int | None = 2
    # PostgreSQL only: seconds the recording clock (station_now(), migration 0014) runs ahead
    # of the server's, for a demo clock; honoured only for a role that may write the record
    # tables directly (never a station role). None: the server's own clock.
    clock_offset_s: float | None = None
    # PostgreSQL only: TLS, passed to libpq as its own parameters (they win over the URL's
    # ?sslmode=... query). None: libpq's default (or the URL's).
    sslmode: str | None = None
    sslrootcert: str | None = None  # the CA file that signed the server's certificate
    sslcert: str | None = None  # a client certificate, for servers that ask for one
    sslkey: str | None = None
    # PostgreSQL only: "pgbouncer" when the URL points at PgBouncer in transaction pooling
    # mode (no prepared statements, no startup options, no LISTEN). None: a direct connection.
    pooler: str | None = None


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# libpq's TLS parameters, as the settings and the URL query both name them.
TLS_PARAMETERS = ("sslmode", "sslrootcert", "sslcert", "sslkey")


POOLERS = ("pgbouncer",)


def parse_url(raw: str) -> URL:
    """Accept the URLs people paste and pick our drivers for them."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigurationError(f"Database URL is not valid: {raw!r}") from exc
    backend = url.get_backend_name()
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+pysqlite")
    raise ConfigurationError(
        f"Database URL must start with sqlite:// or postgresql:// (got {url.drivername}://)."
    )


def make_engine(settings: DatabaseSettings) -> Engine:
    url = parse_url(settings.url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, settings)
    return _postgres_engine(url, settings)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


def _sqlite_engine(url: URL, settings: DatabaseSettings) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": max(settings.lock_timeout_ms, 1000) / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={max(settings.lock_timeout_ms, 1000)}")
            if database not in ("", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: URL, settings: DatabaseSettings) -> Engine:
    if settings.pooler is not None:
        return _pooled_engine(url, settings)
    options = [
        f"-c statement_timeout={settings.statement_timeout_ms}",
        f"-c lock_timeout={settings.lock_timeout_ms}",
        f"-c idle_in_transaction_session_timeout={max(settings.statement_timeout_ms * 4, 10000)}",
    ]
    if settings.schema:
        if not _SCHEMA_NAME.match(settings.schema):
            raise ConfigurationError(f"Database schema name is not valid: {settings.schema!r}")
        options.append(f"-c search_path={settings.schema}")
    if settings.clock_offset_s is not None:
        options.append(f"-c station.clock_offset={settings.clock_offset_s:.3f}s")
    return _pooled_or_direct(url, settings, " ".join(options), settings.prepare_threshold)


def _pooled_engine(url: URL, settings: DatabaseSettings) -> Engine:
    """An engine that keeps no state on a server connection PgBouncer may hand to another.

    In transaction pooling mode each transaction (each autocommit statement) may run on
    a different server connection: a statement prepared on one is unknown on the next,
    and session settings sent at start-up would stay on whichever connection got them
    (PgBouncer 1.18 refuses the ``options`` start-up parameter outright). So no
    statement is prepared, and the timeouts and search_path come from the server side
    (``ALTER ROLE ... SET``, or ``connect_query`` in pgbouncer.ini), not from us.
    """
    if settings.pooler not in POOLERS:
        raise ConfigurationError(
            f"Database pooler must be {' or '.join(POOLERS)} (got {settings.pooler!r})."
        )
    if settings.schema:
        raise ConfigurationError(
            "Database schema cannot be sent through PgBouncer: set search_path on the role "
            "(ALTER ROLE ... SET search_path) or in pgbouncer.ini's connect_query."
        )
    if settings.clock_offset_s is not None:
        raise ConfigurationError(
            "A demo clock needs a direct database connection, not one through PgBouncer."
        )
    engine = _pooled_or_direct(url, settings, None, None)
    _BEHIND_POOLER.add(engine)
    return engine


_BEHIND_POOLER: weakref.WeakSet[Engine] = weakref.WeakSet()


def behind_pooler(engine: Engine) -> bool:
    """True for an engine built for PgBouncer (``DatabaseSettings.pooler``)."""
    return engine in _BEHIND_POOLER


def _pooled_or_direct(
    url: URL, settings: DatabaseSettings, options: str | None, prepare_threshold: int | None
) -> Engine:
    connect_args: dict[str, Any] = {
        "connect_timeout": settings.connect_timeout_s,
        "application_name": settings.application_name[:63],
        "prepare_threshold": prepare_threshold,
        # A dropped venue link is noticed in about 11 s, not the kernel's two hours,
        # and data the server never acknowledges fails the write after the statement timeout.
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": settings.statement_timeout_ms + 2000,
    }
    if options is not None:
        connect_args["options"] = options
    connect_args.update(
        (name, value) for name in TLS_PARAMETERS if (value := getattr(settings, name)) is not None
    )
    engine = create_engine(
        url,
        # Replaced by the cheaper check below: SQLAlchemy's costs a round trip per checkout.
        pool_pre_ping=False,
        pool_size=2,
        max_overflow=4,
        # The most recently used connection first: it has the prepared statements.
        pool_use_lifo=True,
        pool_timeout=settings.connect_timeout_s,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    _check_connections_on_checkout(engine, settings.ping_after_idle_s)
    return engine


_PING_AFTER_IDLE: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def ping_after_idle_s(engine: Engine) -> float:
    """How long a PostgreSQL engine's connection may sit idle before it is pinged on use."""
    return _PING_AFTER_IDLE.get(engine, DatabaseSettings(url="").ping_after_idle_s)


def _check_connections_on_checkout(engine: Engine, idle_s: float) -> None:
    """Pre-ping without the round trip; a real ping only after a long idle spell."""
    _PING_AFTER_IDLE[engine] = idle_s

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None:  # a fresh connection
            return
        check_idle_connection(dbapi_connection, time.monotonic() - idle_since, idle_s)


def check_idle_connection(dbapi_connection: Any, idle_for_s: float, ping_after_s: float) -> None:
    """Raise DisconnectionError unless an idle psycopg connection is usable.

    A connection the server closed is noticed without a round trip; one idle for
    ``ping_after_s`` or longer is also pinged. The pool runs this on check-out,
    and the scan paths' held connection before each scan.
    """
    try:
        if not server_closed(dbapi_connection):
            if idle_for_s >= ping_after_s:
                _ping(dbapi_connection)
            return
    except Exception as exc:  # any failure means this connection is not usable
        raise DisconnectionError(str(exc)) from exc
    raise DisconnectionError("the server closed this connection")


def _ping(dbapi_connection: Any) -> None:
    """One round trip, in autocommit so that it leaves no transaction open."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        dbapi_connection.execute("SELECT 1", prepare=False)
    finally:
        if not dbapi_connection.closed:
            dbapi_connection.autocommit = autocommit


def server_closed(dbapi_connection: Any) -> bool:
    """True when an idle psycopg connection has been closed by the server.

    An idle connection is sent nothing unprompted except rare notices, so
    anything readable is read at once; a closed socket makes libpq fail.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    if not readable:
        return False
    pgconn = dbapi_connection.pgconn
    try:
        pgconn.consume_input()
        pgconn.consume_input()
    except Exception:
        return True
    return bool(pgconn.status != 0)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema through Alembic (the only way it changes)."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


def listen_connection(engine: Engine, channel: str, *, connect_timeout: int) -> Any:
    """A psycopg connection of its own, in autocommit, that LISTENs on ``channel``; None on
    SQLite, through a pooler (PgBouncer's transaction pooling ends a LISTEN with its
    transaction), or when it cannot connect. Its caller polls instead."""
    if engine.dialect.name != "postgresql" or behind_pooler(engine):
        return None
    try:
        import psycopg

        url = engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=connect_timeout)
    except Exception:
        return None
    try:
        connection.execute(f"LISTEN {channel}")
    except Exception:
        connection.close()
        return None
    return connection
