"""Getting the configured database ready from the command line.

Every failure leaves here as one StationError line a sysadmin can act on
(which database, what went wrong), never as a driver traceback: a station is
often set up by someone who did not write it, at a venue, in a hurry.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from station.db import DatabaseSettings, current_revision, head_revision, make_engine, parse_url
from station.services.errors import ConfigurationError, DatabaseUnavailable, StationError
from station.tls_errors import tls_failure


@dataclass(frozen=True, slots=True)
class Revisions:
    current: str | None  # None: empty or missing database
    head: str | None
    exists: bool

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def shown_url(settings: DatabaseSettings) -> str:
    """The URL for messages, password hidden, schema appended when there is one."""
    try:
        shown = make_url(settings.url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "(invalid URL)"
    return f"{shown} (schema {settings.schema})" if settings.schema else shown


def is_sqlite(settings: DatabaseSettings) -> bool:
    return parse_url(settings.url).get_backend_name() == "sqlite"


def sqlite_path(settings: DatabaseSettings) -> Path | None:
    """The file behind a SQLite URL (None for in-memory or other databases)."""
    url = parse_url(settings.url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database)).expanduser()


@contextmanager
def reporting_failures(settings: DatabaseSettings) -> Iterator[None]:
    """Turn driver, migration and file-system errors into one-line StationErrors."""
    from alembic.util.exc import CommandError

    where = shown_url(settings)
    try:
        yield
    except StationError:
        raise
    except DBAPIError as exc:
        detail = first_line(str(exc.orig) if exc.orig is not None else str(exc))
        tls = tls_failure(detail, parse_url(settings.url), settings.sslmode, settings.sslrootcert)
        if tls is not None:
            raise DatabaseUnavailable(f"Cannot use the database {where}: {tls}") from None
        if exc.connection_invalidated or type(exc).__name__ in (
            "OperationalError",
            "InterfaceError",
        ):
            raise DatabaseUnavailable(f"Cannot use the database {where}: {detail}") from None
        raise StationError(f"Database error on {where}: {detail}") from None
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(
            f"Cannot use the database {where}: {first_line(str(exc))}"
        ) from None
    except CommandError as exc:
        raise StationError(f"Migrating {where} failed: {first_line(str(exc))}") from None
    except OSError as exc:
        raise StationError(f"Cannot open the database {where}: {exc.strerror or exc}") from None


def first_line(message: str, limit: int = 300) -> str:
    """The part of a driver message that says what happened, on one line."""
    for line in message.strip().splitlines():
        if line.strip():
            return " ".join(line.split())[:limit]
    return "unknown error"


def open_engine(settings: DatabaseSettings) -> Engine:
    with reporting_failures(settings):
        return make_engine(settings)


def revisions(settings: DatabaseSettings) -> Revisions:
    """Where the database stands, without creating a missing SQLite file."""
    path = sqlite_path(settings)
    if path is not None and not path.exists():
        return Revisions(current=None, head=head_revision(), exists=False)
    engine = open_engine(settings)
    try:
        with reporting_failures(settings):
            return Revisions(current=current_revision(engine), head=head_revision(), exists=True)
    finally:
        engine.dispose()


def upgrade_database(
    settings: DatabaseSettings, *, own_dir: Path | None = None
) -> tuple[str | None, str | None]:
    """Create or upgrade to head (the PostgreSQL schema too); return (before, after).

    ``own_dir`` is the station's data directory (see ``check_sqlite_file``).
    """
    from station.db import upgrade

    check_sqlite_file(settings, read_only=False, own_dir=own_dir)
    engine = open_engine(settings)
    try:
        with reporting_failures(settings):
            if settings.schema and engine.dialect.name == "postgresql":
                with engine.begin() as conn:
                    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.schema}"'))
            before = current_revision(engine)
            upgrade(engine)
            return before, current_revision(engine)
    finally:
        engine.dispose()


def check_sqlite_file(
    settings: DatabaseSettings, *, read_only: bool, own_dir: Path | None = None
) -> None:
    """Refuse, before anything is created, a SQLite file that is not where it should be.

    A command that only reads needs the file to be there: it never creates one.
    One that writes creates the file, but not a missing folder (a typo in the URL
    must not leave a new folder and an empty database behind), except the
    station's own data directory ``own_dir``, which is made on first use.
    """
    path = sqlite_path(settings)
    if path is None or str(path).startswith("file:"):
        return
    where = shown_url(settings)
    if read_only:
        if not path.is_file():
            raise ConfigurationError(
                f"There is no database at {path} ({where}); check the URL, "
                "or create it with `station db upgrade`."
            )
        return
    folder = path.parent
    if folder.is_dir():
        return
    if own_dir is not None and os.path.abspath(folder) == os.path.abspath(own_dir):
        folder.mkdir(parents=True, exist_ok=True)
        return
    raise ConfigurationError(
        f"The folder {folder} of the database {where} does not exist; "
        "check the URL, or create the folder first."
    )


def prepare_for_station(
    settings: DatabaseSettings, *, own_dir: Path | None = None, read_only: bool = False
) -> None:
    """SQLite is created and migrated on the spot; PostgreSQL must already be at head.

    A shared PostgreSQL is upgraded deliberately, once, by whoever runs the
    event; a station quietly migrating it at the venue could break the others.
    With ``read_only`` (reports, exports) a missing SQLite file is refused, not made.
    """
    if is_sqlite(settings):
        check_sqlite_file(settings, read_only=read_only, own_dir=own_dir)
        upgrade_database(settings, own_dir=own_dir)
        return
    state = revisions(settings)
    if not state.at_head:
        found = f"at revision {state.current}" if state.current else "empty"
        raise ConfigurationError(
            f"The database {shown_url(settings)} is {found}, this station needs revision "
            f"{state.head}: run `station db upgrade`."
        )


def check_conference(settings: DatabaseSettings, slug: str) -> None:
    """Refuse early, with the known slugs, when the conference is not in the database.

    On PostgreSQL, also when the connecting role is a station role of another
    conference, or of none (`station db grant-station-role`): such a role would
    find no badge at all, and say NOT FOUND to every one.
    """
    from station.models import Conference

    engine = open_engine(settings)
    try:
        with reporting_failures(settings), engine.connect() as conn:
            known = {
                row.slug: row.id
                for row in conn.execute(
                    select(Conference.slug, Conference.id).order_by(Conference.slug)
                )
            }
            policies: list[str] | None = None
            if engine.dialect.name == "postgresql":
                policies = _station_policies(conn)
            role = str(engine.url.username or "")
    finally:
        engine.dispose()
    if slug not in known:
        slugs = list(known)
        hint = f"known: {', '.join(slugs[:10])}" if slugs else "no conferences yet"
        raise ConfigurationError(
            f"Conference {slug!r} is not in the database {shown_url(settings)} ({hint}); "
            "import attendees first, or try `station demo`."
        )
    if policies is None:
        return
    grant = f"`station db grant-station-role {role} --conference {slug}`"
    bound = {int(m[1]) for p in policies for m in [_BOUND.search(p)] if m}
    if not bound:
        raise ConfigurationError(
            f"The database role {role} may see no conference's attendees: run {grant}."
        )
    if known[slug] not in bound:
        others = ", ".join(s for s, i in known.items() if i in bound) or "another conference"
        raise ConfigurationError(
            f"The database role {role} is for {others}, not {slug!r}: run {grant}, "
            "or use that role's own conference."
        )


_BOUND = re.compile(r"conference_id = (\d+)")


def _station_policies(conn: Connection) -> list[str] | None:
    """The attendee policies that apply to this role; None when row-level security does not."""
    active = conn.scalar(text("SELECT row_security_active('attendee')"))
    if not active:
        return None
    rows = conn.scalars(
        text(
            "SELECT pg_get_expr(p.polqual, p.polrelid) FROM pg_policy p "
            "WHERE p.polrelid = 'attendee'::regclass AND (p.polroles @> ARRAY[0::oid] "
            "OR p.polroles @> ARRAY[(SELECT oid FROM pg_roles WHERE rolname = current_user)])"
        )
    )
    return [str(r) for r in rows]
