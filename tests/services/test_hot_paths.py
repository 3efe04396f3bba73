"""The one-statement PostgreSQL paths answer every scan exactly as the general path does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine

from station.services.errors import Reason
from station.services.results import CheckInResult, RedemptionResult
from tests.conftest import empty_postgres_tables
from tests.services.scenario import Refused, build_conference, rows_written, run_day

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


def truncate(engine: Engine) -> None:
    """Empty tables, ids from the start again (as TRUNCATE ... RESTART IDENTITY)."""
    empty_postgres_tables(engine)


@pytest.mark.postgres
def test_hot_paths_match_the_general_path_on_both_databases(
    postgres_database: TestDatabase, sqlite_database: TestDatabase
) -> None:
    pg = postgres_database
    ids = build_conference(pg.sessions)
    hot = run_day(pg.sessions, hot_paths=None, ids=ids)
    hot_rows = rows_written(pg.sessions)

    truncate(pg.engine)
    assert build_conference(pg.sessions) == ids
    general = run_day(pg.sessions, hot_paths=False, ids=ids)
    general_rows = rows_written(pg.sessions)

    assert build_conference(sqlite_database.sessions) == ids
    lite = run_day(sqlite_database.sessions, hot_paths=None, ids=ids)
    lite_rows = rows_written(sqlite_database.sessions)

    assert len(hot) == len(general) == len(lite)
    for step, (fast, slow, embedded) in enumerate(zip(hot, general, lite, strict=True)):
        assert fast == slow, f"step {step}: hot path differs from the general path"
        assert slow == embedded, f"step {step}: PostgreSQL differs from SQLite"
    for table in hot_rows:
        assert hot_rows[table] == general_rows[table], table
        assert general_rows[table] == lite_rows[table], table

    # The day really did check people in, redeem and refuse (the comparison is not vacuous).
    check_ins = [r for r in hot if isinstance(r, CheckInResult)]
    assert {r.reason for r in check_ins} == {Reason.OK, Reason.REENTRY}
    assert any(r.replayed for r in check_ins)
    assert sum(isinstance(r, RedemptionResult) for r in hot) >= 6
    refusals = {r.kind for r in hot if isinstance(r, Refused)}
    assert refusals >= {"AttendeeNotFound", "NotEligible", "NotPurchased", "FullyRedeemed",
                        "InvalidInput", "ConfigurationError"}  # fmt: skip
    assert len(hot_rows["scan_log"]) > 30
