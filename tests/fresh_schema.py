"""A brand-new, empty PostgreSQL schema for tests that must start from nothing.

The shared ``database`` fixture hands out an already migrated schema; tests
of migrations and of ``station db upgrade`` need one that has never been
touched. Skips (or fails under STATION_REQUIRE_POSTGRES=1) like conftest.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from station.db import DatabaseSettings, make_engine

PG_URL = os.environ.get("STATION_TEST_DATABASE_URL", "")
REQUIRE_PG = os.environ.get("STATION_REQUIRE_POSTGRES") == "1"


def require_postgres_url() -> str:
    if not PG_URL:
        message = "PostgreSQL tests need STATION_TEST_DATABASE_URL"
        if REQUIRE_PG:
            pytest.fail(message + " (STATION_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    return PG_URL


@pytest.fixture
def empty_postgres_schema() -> Iterator[DatabaseSettings]:
    """Settings for a schema name nobody has used; created empty, dropped afterwards."""
    url = require_postgres_url()
    schema = f"station_fresh_{uuid.uuid4().hex[:12]}"
    admin = make_engine(DatabaseSettings(url=url))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield DatabaseSettings(url=url, schema=schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def unused_postgres_schema() -> Iterator[DatabaseSettings]:
    """Like ``empty_postgres_schema`` but not even created: `station db upgrade` must make it."""
    url = require_postgres_url()
    schema = f"station_fresh_{uuid.uuid4().hex[:12]}"
    try:
        yield DatabaseSettings(url=url, schema=schema)
    finally:
        admin = make_engine(DatabaseSettings(url=url))
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
