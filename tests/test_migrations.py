"""Alembic builds exactly the schema the models describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, insert, inspect, select

from station.db import DatabaseSettings, current_revision, head_revision, make_engine, upgrade
from station.models import Base, Staff
from tests.fresh_schema import empty_postgres_schema  # noqa: F401 - a fixture


def schema_differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "render_as_batch": conn.dialect.name == "sqlite",
            },
        )
        return list(compare_metadata(context, Base.metadata))


def assert_migrates_to_the_models(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    assert schema_differences(engine) == []


def assert_second_upgrade_changes_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Staff), [{"name": "Ana", "pin_hash": None, "active": True}])
    tables_before = sorted(inspect(engine).get_table_names())
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert sorted(inspect(engine).get_table_names()) == tables_before
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Staff)) == 1
    assert schema_differences(engine) == []


def test_brand_new_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "fresh.sqlite3"
    engine = make_engine(DatabaseSettings(url=f"sqlite:///{path}"))
    try:
        assert_migrates_to_the_models(engine)
        assert path.exists()
        assert_second_upgrade_changes_nothing(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_brand_new_postgres_schema(empty_postgres_schema: DatabaseSettings) -> None:  # noqa: F811
    engine = make_engine(empty_postgres_schema)
    try:
        assert_migrates_to_the_models(engine)
        tables = inspect(engine).get_table_names(schema=empty_postgres_schema.schema)
        assert "attendee" in tables  # landed in the schema asked for, not in public
        assert_second_upgrade_changes_nothing(engine)
    finally:
        engine.dispose()


def test_there_is_exactly_one_head() -> None:
    assert head_revision() is not None
