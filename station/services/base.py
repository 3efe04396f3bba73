"""What every service shares: transactions, error translation, the scan log.

Each public operation runs in one transaction. Database failures of any kind
(server down, timeouts, lock waits) become ``DatabaseUnavailable`` so the UI
can say "not recorded" in plain words (lock waits and timeouts as its subclass
``DatabaseBusy``: the server is there, just not now). A refusal's scan-log row is
written in the transaction that decided it, and committed with it: a refusal the
volunteer sees is a refusal logged (a scan refused before any query says if it was not).

On PostgreSQL the scan hot paths skip the ORM session: each is one statement
in autocommit (``station.services.hot_sql``), one network round trip, with
the same results as the general path, which SQLite keeps.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

import psycopg
from psycopg.rows import BaseRowFactory, RowMaker, namedtuple_row
from sqlalchemy import Engine, TextClause, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from station.codes import normalise_access_code
from station.models import Conference, ScanLog, utcnow
from station.services.errors import (
    ConfigurationError,
    DatabaseBusy,
    DatabaseUnavailable,
    Refusal,
    StationError,
)
from station.services.results import StationContext
from station.text import display_safe

log = logging.getLogger("station.services")

Clock = Callable[[], datetime]
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class ConferenceRef:
    id: int
    slug: str
    name: str
    timezone: str


class DuplicateClientId(Exception):
    """A write with this client id already exists (a retry raced its original)."""


# SQLSTATEs of a server that is up but could not finish in time: lock and statement
# timeouts, a deadlock victim, a serialisation failure.
_BUSY_STATES = frozenset({"55P03", "57014", "40P01", "40001"})
# SQLite's primary result codes for a lock another connection holds past busy_timeout.
_SQLITE_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _is_busy(exc: BaseException) -> bool:
    """Whether the server answered "not now" (a lock or timeout), not "not there"."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) in _BUSY_STATES:
        return True
    # Extended SQLite codes (SQLITE_BUSY_SNAPSHOT...) keep the primary code in the low byte.
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(code, int) and (code & 0xFF) in _SQLITE_BUSY_CODES


@contextmanager
def database_errors() -> Iterator[None]:
    """Turn every database failure into DatabaseUnavailable, worded for a volunteer.

    A lock or statement timeout becomes its subclass DatabaseBusy, so the UI can
    say "busy" rather than "offline" without matching the message.
    """
    try:
        yield
    except StationError:
        raise
    except IntegrityError as exc:
        if "client_id" in str(exc.orig):
            raise DuplicateClientId from exc
        log.exception("integrity error")
        raise DatabaseUnavailable(
            "The database refused the write — scan NOT recorded, tell a supervisor."
        ) from exc
    except (DBAPIError, PoolTimeout, SQLAlchemyError, psycopg.Error) as exc:
        state = getattr(getattr(exc, "orig", exc), "sqlstate", None)
        busy = _is_busy(exc)
        log.warning(
            "database %s: %s %s", "busy" if busy else "unavailable", type(exc).__name__, state or ""
        )
        if busy:
            raise DatabaseBusy() from exc
        raise DatabaseUnavailable() from exc


@cache
def _named_rows(sql: str) -> BaseRowFactory[Any]:
    """Named-tuple rows for one fixed statement, the row type made once, not per scan.

    psycopg's ``namedtuple_row`` looks its row type up again for every result
    (every column name hashed); a hot-path statement's columns never change.
    """
    made: list[RowMaker[Any]] = []

    def rows(cursor: Any) -> RowMaker[Any]:
        if made:
            return made[0]
        maker: RowMaker[Any] = namedtuple_row(cursor)
        if cursor.description is not None:
            made.append(maker)
        return maker

    return rows


class ServiceBase:
    """``hot_paths``: None (the default) uses the one-statement paths on PostgreSQL."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Clock = utcnow,
        hot_paths: bool | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._conferences: dict[str, ConferenceRef] = {}
        bind = sessions.kw.get("bind")
        on_postgres = isinstance(bind, Engine) and bind.dialect.name == "postgresql"
        # The engine whose pooled connections the one-statement paths borrow.
        self._hot: Engine | None = None
        if on_postgres and hot_paths is not False:
            assert isinstance(bind, Engine)
            self._hot = bind

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One transaction; database trouble surfaces as DatabaseUnavailable."""
        with database_errors(), self._sessions.begin() as session:
            yield session

    def _hot_conference(self, slug: str) -> ConferenceRef:
        """The station's conference, read once per service (one round trip the first time)."""
        ref = self._conferences.get(slug)
        if ref is None:
            from station.services import hot_sql

            row = self._hot_row(hot_sql.CONFERENCE, conference=slug)
            if row is None:
                raise ConfigurationError(f"Conference {slug!r} does not exist in this database.")
            ref = ConferenceRef(row.id, row.slug, display_safe(row.name), row.timezone)
            self._conferences[slug] = ref
        return ref

    def _hot_row(self, statement: TextClause, **params: object) -> Any:
        """Run one statement in autocommit (one round trip); its first row as a named tuple.

        Straight through psycopg on the connection the scan paths keep
        (``hot_connection``): SQLAlchemy's connection, statement and result
        machinery would cost more client time per scan than the server takes.
        Failures still become DatabaseUnavailable, and a broken connection is
        replaced.
        """
        from station.services import hot_sql
        from station.services.hot_connection import hot_connection

        assert self._hot is not None
        sql = hot_sql.for_psycopg(statement)
        with database_errors():
            return hot_connection(self._hot).fetch_one(sql, params, _named_rows(sql))

    def _conference(self, session: Session, slug: str) -> ConferenceRef:
        ref = self._conferences.get(slug)
        if ref is None:
            row = session.execute(
                select(Conference.id, Conference.slug, Conference.name, Conference.timezone).where(
                    Conference.slug == slug
                )
            ).one_or_none()
            if row is None:
                raise ConfigurationError(f"Conference {slug!r} does not exist in this database.")
            ref = ConferenceRef(row.id, row.slug, display_safe(row.name), row.timezone)
            self._conferences[slug] = ref
        return ref

    def _log_scan(
        self,
        session: Session,
        ctx: StationContext,
        *,
        action: str,
        code: str,
        reason: str,
        accepted: bool,
        message: str = "",
        conference_id: int | None = None,
        attendee_id: int | None = None,
    ) -> None:
        session.execute(
            insert(ScanLog).values(
                conference_id=conference_id,
                attendee_id=attendee_id,
                scanned_at=self._clock(),
                station=ctx.station[:100],
                staff_id=ctx.staff_id,
                action=action,
                code=display_safe(code, limit=256),
                outcome="accepted" if accepted else "refused",
                reason=str(reason),
                message=message[:300],
            )
        )

    def log_refusal(
        self, ctx: StationContext, *, action: str, code: str, error: StationError
    ) -> None:
        """Record a scan refused outside any service transaction, in one write.

        Best effort, since the refusal is shown anyway; a refusal that could not be
        logged says so (``Refusal.logged``).
        """
        try:
            if self._hot is not None:
                self._log_refusal_in_one_statement(ctx, action=action, code=code, error=error)
                return
            with self._transaction() as session:
                self._log_refused(session, ctx, action, code, error)
        except StationError:
            log.warning("could not log refused scan at %s", ctx.station)
            if isinstance(error, Refusal):
                error.logged = False

    def _log_refused(
        self, session: Session, ctx: StationContext, action: str, code: str, error: StationError
    ) -> None:
        """The scan-log row of a refusal, in the session's transaction."""
        conference_id: int | None
        try:
            conference_id = self._conference(session, ctx.conference).id
        except ConfigurationError:
            conference_id = None
        self._log_scan(
            session,
            ctx,
            action=action,
            code=code,
            reason=error.reason,
            accepted=False,
            message=error.message,
            conference_id=conference_id,
            attendee_id=error.attendee_id,
        )

    def _log_refusal_in_one_statement(
        self, ctx: StationContext, *, action: str, code: str, error: StationError
    ) -> None:
        from station.services import hot_sql

        self._hot_row(
            hot_sql.LOG_REFUSAL,
            conference=ctx.conference,
            attendee_id=error.attendee_id,
            now=self._clock(),
            station=ctx.station[:100],
            staff_id=ctx.staff_id,
            action=action,
            code=display_safe(code, limit=256),
            reason=str(error.reason),
            message=error.message[:300],
        )

    def _refused(self, ctx: StationContext, action: str, code: str, error: Refusal) -> Refusal:
        self.log_refusal(ctx, action=action, code=code, error=error)
        return error

    def _normalise(self, ctx: StationContext, action: str, access_code: str) -> str:
        """The stored form of a scanned code; bad input is logged and refused before any query."""
        try:
            return normalise_access_code(access_code)
        except Refusal as invalid:
            raise self._refused(ctx, action, access_code, invalid) from None

    def _exactly_once(
        self,
        ctx: StationContext,
        action: str,
        access_code: str,
        *,
        replayed: Callable[[Session], _R | None],
        attempt: Callable[[Session, str], _R],
    ) -> _R:
        """Run a write at most once per client id (the general, ORM path).

        A retry finds its original and returns it; a retry racing its original loses
        on the unique client id and then returns what the original wrote. A refusal
        writes its scan-log row in the transaction that decided it and commits: a
        refusal raised was logged (and a failed commit raises DatabaseUnavailable).
        """
        code = self._normalise(ctx, action, access_code)
        try:
            with self._transaction() as session:
                replay = replayed(session)
                if replay is not None:
                    return replay
                try:
                    return attempt(session, code)
                except Refusal as refusal:  # decided before anything was written
                    self._log_refused(session, ctx, action, access_code, refusal)
                    refused = refusal
        except DuplicateClientId:
            with self._transaction() as session:
                replay = replayed(session)
                assert replay is not None
                return replay
        raise refused
