"""Real databases for every test: a fresh SQLite file, and PostgreSQL when configured.

PostgreSQL comes from STATION_TEST_DATABASE_URL. Each test run gets its own
schema (so parallel runs on one server do not meet), migrated once through
Alembic; each test starts from empty tables. Without the URL the PostgreSQL
cases are skipped with a reason, and with STATION_REQUIRE_POSTGRES=1 that
skip becomes a failure, which is how CI proves they ran.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from station.db import DatabaseSettings, make_engine, make_session_factory, upgrade
from station.models import Base

PG_URL = os.environ.get("STATION_TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("STATION_REQUIRE_POSTGRES") == "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run every selected test N times, as N test ids ending in -runK "
        "(CI runs the race, retry and fault tests this way)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    times: int = metafunc.config.getoption("repeat")
    if times > 1:
        metafunc.fixturenames.append("_repeat")
        metafunc.parametrize("_repeat", range(1, times + 1), ids=lambda n: f"run{n}")


@dataclass(frozen=True)
class TestDatabase:
    """What a test needs to talk to one real database."""

    __test__ = False  # a helper, not a test class, wherever it is imported by name

    kind: str
    settings: DatabaseSettings
    engine: Engine
    sessions: sessionmaker[Session]

    def new_engine(self, **changes: Any) -> Engine:
        """A second, independent engine (another 'station') on the same data; ``changes``
        replace settings (``clock_offset_s``: a PostgreSQL recording clock moved)."""
        return make_engine(replace(self.settings, **changes))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(DatabaseSettings(url=f"sqlite:///{path}"))
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[DatabaseSettings]:
    if not PG_URL:
        message = "PostgreSQL tests need STATION_TEST_DATABASE_URL"
        if REQUIRE_PG:
            pytest.fail(message + " (STATION_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    schema = f"station_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(DatabaseSettings(url=PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    settings = DatabaseSettings(url=PG_URL, schema=schema)
    engine = make_engine(settings)
    upgrade(engine)
    engine.dispose()
    try:
        yield settings
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def _sqlite_database(template: Path, tmp_path: Path) -> TestDatabase:
    path = tmp_path / "station.sqlite3"
    shutil.copyfile(template, path)
    settings = DatabaseSettings(url=f"sqlite:///{path}")
    engine = make_engine(settings)
    return TestDatabase("sqlite", settings, engine, make_session_factory(engine))


def _deletion_order() -> list[str]:
    """Tables in an order DELETE can empty them: the scan records first (no foreign keys
    either way; the delete guards of migration 0005 refuse to delete what they refer to
    while they exist), then children before their parents."""
    tables = Base.metadata.sorted_tables
    referred = {fk.column.table.name for t in tables for fk in t.foreign_keys}
    records = [t.name for t in tables if not t.foreign_keys and t.name not in referred]
    return records + [t.name for t in reversed(tables) if t.name not in records]


_RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
    "FROM pg_sequences WHERE schemaname = current_schema()"
)


def empty_postgres_tables(engine: Engine) -> None:
    """Every station table empty and every id sequence back at its start, as
    ``TRUNCATE ... RESTART IDENTITY`` leaves them. DELETE does it about ten times faster on
    tables this small (TRUNCATE makes and syncs new files for every table and index, about
    0.1 s here), and this runs before every PostgreSQL test and hypothesis example."""
    with engine.begin() as conn:
        for table in _deletion_order():
            conn.execute(text(f'DELETE FROM "{table}"'))
        conn.execute(_RESTART_SEQUENCES)


def _postgres_database(settings: DatabaseSettings) -> TestDatabase:
    engine = make_engine(settings)
    empty_postgres_tables(engine)
    return TestDatabase("postgres", settings, engine, make_session_factory(engine))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDatabase]:
    """Every test that takes this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        db = _sqlite_database(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        db = _postgres_database(request.getfixturevalue("postgres_schema"))
    yield db
    db.engine.dispose()


@pytest.fixture
def sqlite_database(sqlite_template: Path, tmp_path: Path) -> Iterator[TestDatabase]:
    db = _sqlite_database(sqlite_template, tmp_path)
    yield db
    db.engine.dispose()


@pytest.fixture
def postgres_database(postgres_schema: DatabaseSettings) -> Iterator[TestDatabase]:
    db = _postgres_database(postgres_schema)
    yield db
    db.engine.dispose()
