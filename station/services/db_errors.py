"""Database failures in a volunteer's words, shared by the services and the stores.

Failures of any kind (server down, timeouts, lock waits) become
``DatabaseUnavailable``; a lock or statement timeout its subclass
``DatabaseBusy`` (the server is there, just not now).
"""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from station.services.errors import DatabaseBusy, DatabaseUnavailable, StationError

log = logging.getLogger("station.services")


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


class database_errors:
    """Turn every database failure into DatabaseUnavailable, worded for a volunteer.

    A lock or statement timeout becomes its subclass DatabaseBusy, so the UI can
    say "busy" rather than "offline" without matching the message. A class, not a
    generator: every scan enters it, and a generator's context manager costs more.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None or isinstance(exc, StationError):
            return
        if isinstance(exc, IntegrityError):
            if "client_id" in str(exc.orig):
                raise DuplicateClientId from exc
            log.error("integrity error", exc_info=exc)
            raise DatabaseUnavailable(
                "The database refused the write — scan NOT recorded, tell a supervisor."
            ) from exc
        if isinstance(exc, (DBAPIError, PoolTimeout, SQLAlchemyError, psycopg.Error)):
            state = getattr(getattr(exc, "orig", exc), "sqlstate", None)
            busy = _is_busy(exc)
            log.warning(
                "database %s: %s %s",
                "busy" if busy else "unavailable",
                type(exc).__name__,
                state or "",
            )
            if busy:
                raise DatabaseBusy() from exc
            raise DatabaseUnavailable() from exc
