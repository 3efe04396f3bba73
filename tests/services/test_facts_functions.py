"""The facts read's PL/pgSQL functions (migration 0018) follow ``facts_sql``.

They are generated from it when a migration runs; a database migrated earlier keeps
what was generated then. So the newest migration that builds them pins a fingerprint
of what it built, and this fails when ``facts_sql`` changes without a new migration
that builds them again. On PostgreSQL the deployed functions are checked too: their
source is the current ``facts_sql``, they run as the caller (row-level security
applies), and they answer with the plain statement's columns and types.
"""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path

import pytest

from station.services import facts_functions
from station.services.store_pg import facts_call, facts_sql
from tests.conftest import TestDatabase

VERSIONS = Path(facts_functions.__file__).parent.parent / "migrations" / "versions"


def test_the_newest_migration_that_builds_the_functions_built_todays_facts_sql() -> None:
    pinned = {}
    for path in sorted(VERSIONS.glob("[0-9]*.py")):
        module = importlib.import_module(f"station.migrations.versions.{path.stem}")
        if hasattr(module, "FINGERPRINT"):
            pinned[path.stem] = module.FINGERPRINT
    assert pinned, "no migration builds the facts functions"
    newest = max(pinned)
    assert pinned[newest] == facts_functions.fingerprint(), (
        f"facts_sql changed since migration {newest} built the facts functions: add a "
        "migration that runs facts_functions.build() again and pins "
        f"FINGERPRINT = {facts_functions.fingerprint()!r}"
    )


@pytest.mark.postgres
def test_the_deployed_functions_are_todays_facts_sql_run_as_the_caller(
    postgres_database: TestDatabase,
) -> None:
    raw = postgres_database.engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(
                "SELECT p.proname, p.prosrc, p.prosecdef, l.lanname, p.provolatile "
                "FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
                "WHERE p.pronamespace = current_schema()::regnamespace "
                "AND p.proname LIKE 'station\\_facts\\_%'"
            )
            deployed = {name: rest for name, *rest in cur.fetchall()}
    finally:
        raw.close()
    assert set(deployed) == {facts_functions.function_name(*v) for v in facts_functions.VARIANTS}
    for variant in facts_functions.VARIANTS:
        source, definer, language, volatility = deployed[facts_functions.function_name(*variant)]
        assert source == facts_functions.function_body(*variant)
        assert (definer, language, volatility) == (False, "plpgsql", "s")


@pytest.mark.postgres
def test_each_function_answers_with_the_plain_statements_columns(
    postgres_database: TestDatabase,
) -> None:
    params = {
        "conference_id": 1,
        "code": "NOSUCHCODE",
        "attendee_id": None,
        "client_id": uuid.uuid4(),
        "slug": "lunch",
    }
    raw = postgres_database.engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]
            for variant in facts_functions.VARIANTS:
                answers = []
                for sql in (facts_sql(*variant), facts_call(*variant)):
                    cur.execute(sql, params)
                    row = cur.fetchone()
                    assert cur.description is not None and row is not None
                    answers.append(([(c.name, c.type_code) for c in cur.description], row[1:]))
                assert answers[0] == answers[1], variant
    finally:
        raw.close()
