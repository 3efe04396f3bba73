"""Alembic builds exactly the schema the models describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, insert, inspect, select

from station.db import DatabaseSettings, current_revision, head_revision, make_engine, upgrade
from station.models import Base, Staff, include_in_autogenerate
from tests.fresh_schema import empty_postgres_schema  # noqa: F401 - a fixture


def schema_differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "render_as_batch": conn.dialect.name == "sqlite",
                "include_name": include_in_autogenerate,
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


def assert_upgrades_a_database_in_use(engine: Engine) -> None:
    """A venue that ran yesterday on 0002 upgrades in the morning: its records stay."""
    from alembic import command

    from station.db import _alembic_config

    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO conference (id, slug, name, timezone) VALUES (1, 'c', 'C', 'UTC')"
        )
        conn.exec_driver_sql("INSERT INTO staff (id, name, active) VALUES (1, 'Ana', true)")
        conn.exec_driver_sql(
            "INSERT INTO scan_log (conference_id, attendee_id, scanned_at, station, staff_id, "
            "action, code, outcome, reason, message) VALUES "
            "(1, NULL, CURRENT_TIMESTAMP, 'Desk', 1, 'checkin', 'X', 'refused', 'not_found', '')"
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert schema_differences(engine) == []
    shared = {"conference", "staff"}
    for table in ("check_in", "door_check", "product_redemption", "scan_log"):
        # No keys on scan records at all (0003: conference and staff; 0005: the rest).
        assert inspect(engine).get_foreign_keys(table) == [], table
    assert "ix_scan_log_attendee_id" not in {
        i["name"] for i in inspect(engine).get_indexes("scan_log")
    }
    for table in ("check_in", "door_check", "product_redemption"):  # 0004
        assert f"ix_{table}_conference_id" not in {
            i["name"] for i in inspect(engine).get_indexes(table)
        }
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            options = conn.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE oid = 'attendee'::regclass"
            ).scalar()
        assert options == ["fillfactor=85"]
    if engine.dialect.name == "postgresql":
        # 0008: the rules left SQL; only guarded writers remain.
        assert redeem_function(engine) == "None"
    assert "source_line_id" in line_item_columns(engine)  # 0009
    # And back, for a venue that has to return to yesterday's version.
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0006")
    redeem_then = redeem_function(engine)
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0005")
    assert "source_line_id" not in line_item_columns(engine)
    if engine.dialect.name == "postgresql":
        # 0004's function is back: the station logs the refusals that name a product.
        assert "#fully_redeemed" in redeem_then
        assert "#fully_redeemed" not in redeem_function(engine)
        assert "v_message := translate(r_product_name" in redeem_function(engine)
        with engine.connect() as conn:
            assert (
                conn.exec_driver_sql(
                    "SELECT to_regprocedure('station_display_safe(text, integer)')"
                ).scalar()
                is None
            )
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0002")
    if engine.dialect.name == "postgresql":
        # 0002's nine statements are back (their separate read of the product's name).
        assert redeem_function(engine) != redeem_then
        assert "SELECT ad.name INTO r_product_name" in redeem_function(engine)
        assert "SELECT ad.name INTO r_product_name" not in redeem_then
    assert {fk["referred_table"] for fk in inspect(engine).get_foreign_keys("scan_log")} == {
        *shared,
        "attendee",
    }
    redemption_keys = inspect(engine).get_foreign_keys("product_redemption")
    assert {fk["referred_table"] for fk in redemption_keys} >= {"attendee", "order_line_item"}
    check_in_indexes = {i["name"] for i in inspect(engine).get_indexes("check_in")}
    assert "ix_check_in_conference_id" in check_in_indexes
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM scan_log").scalar() == 1


def line_item_columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("order_line_item")}


def redeem_function(engine: Engine) -> str:
    """The body of station_redeem() (PostgreSQL), or "" where there is none."""
    if engine.dialect.name != "postgresql":
        return ""
    with engine.connect() as conn:
        body = conn.exec_driver_sql(
            "SELECT prosrc FROM pg_proc WHERE proname = 'station_redeem' "
            "AND pronamespace = current_schema()::regnamespace"
        ).scalar()
    return str(body)


def test_an_sqlite_file_in_use_upgrades_and_downgrades(tmp_path: Path) -> None:
    engine = make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'in-use.sqlite3'}"))
    try:
        assert_upgrades_a_database_in_use(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_postgres_schema_in_use_upgrades_and_downgrades(
    empty_postgres_schema: DatabaseSettings,  # noqa: F811
) -> None:
    engine = make_engine(empty_postgres_schema)
    try:
        assert_upgrades_a_database_in_use(engine)
    finally:
        engine.dispose()


TRACKED = ("person", "order", "order_line_item", "attendee", "ticket_type", "addon")


def assert_change_tracking_round_trip(engine: Engine) -> None:
    """0013 numbers the rows already there, and goes back to 0012 without a trace."""
    from alembic import command

    from station.db import _alembic_config

    upgrade(engine, "0012")
    with engine.begin() as conn:
        for statement in (
            "INSERT INTO conference (id, slug, name, timezone) VALUES (1, 'c', 'C', 'UTC')",
            "INSERT INTO person (id, username, first_name, last_name, email) "
            "VALUES (1, 'ada', 'Ada', 'L', ''), (2, 'bob', 'Bob', 'M', '')",
            "INSERT INTO ticket_type (id, conference_id, name, slug) VALUES (1, 1, 'G', 'g')",
            "INSERT INTO addon (id, conference_id, name, slug) VALUES (1, 1, 'L', 'l')",
            'INSERT INTO "order" (id, conference_id, person_id, reference, status) '
            "VALUES (1, 1, 1, 'R1', 'paid')",
            "INSERT INTO order_line_item (id, order_id, description, quantity, addon_id) "
            "VALUES (1, 1, 'Lunch', 1, 1)",
            "INSERT INTO attendee (id, person_id, conference_id, order_id, access_code, "
            "created_at, updated_at) VALUES (1, 1, 1, 1, 'A1', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)",
        ):
            conn.exec_driver_sql(statement)
    upgrade(engine)
    assert schema_differences(engine) == []
    with engine.connect() as conn:
        numbers = [
            int(n)
            for table in TRACKED
            for (n,) in conn.exec_driver_sql(f'SELECT change_seq FROM "{table}"')
        ]
    assert len(numbers) == 7 and min(numbers) > 0 and len(set(numbers)) == 7
    with engine.begin() as conn:  # a write after the upgrade comes after all of them
        conn.exec_driver_sql("UPDATE person SET first_name = 'Grace' WHERE id = 2")
        [(after,)] = conn.exec_driver_sql("SELECT change_seq FROM person WHERE id = 2")
    assert after > max(numbers)
    with engine.begin() as conn:  # a check-in's update leaves the attendee's number alone
        conn.exec_driver_sql(
            "UPDATE attendee SET checked_in_at = CURRENT_TIMESTAMP, "
            "updated_at = CURRENT_TIMESTAMP WHERE id = 1"
        )
        [(checked_in,)] = conn.exec_driver_sql("SELECT change_seq FROM attendee WHERE id = 1")
        conn.exec_driver_sql("UPDATE attendee SET access_code = 'A2' WHERE id = 1")
        [(recoded,)] = conn.exec_driver_sql("SELECT change_seq FROM attendee WHERE id = 1")
    assert checked_in in numbers and recoded > after
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "0012")
    tables = set(inspect(engine).get_table_names())
    assert "offline_conflict" not in tables and "station_change_counter" not in tables
    for table in TRACKED:
        assert "change_seq" not in {c["name"] for c in inspect(engine).get_columns(table)}
    with engine.begin() as conn:  # the triggers went with the column: writes still work
        conn.exec_driver_sql("UPDATE person SET first_name = 'Ada' WHERE id = 2")
        conn.exec_driver_sql("UPDATE attendee SET access_code = 'A1' WHERE id = 1")
        if engine.dialect.name == "postgresql":
            assert conn.exec_driver_sql("SELECT to_regclass('station_change_seq')").scalar() is None
            functions = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace "
                "AND proname IN ('station_stamp_change', 'station_stamp_shared_change', "
                "'station_notify_change', 'station_offline_conflict')"
            ).scalar()
            assert functions == 0
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert schema_differences(engine) == []


def test_change_tracking_round_trip_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'tracked.sqlite3'}"))
    try:
        assert_change_tracking_round_trip(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_change_tracking_round_trip_on_postgres(
    empty_postgres_schema: DatabaseSettings,  # noqa: F811
) -> None:
    engine = make_engine(empty_postgres_schema)
    try:
        assert_change_tracking_round_trip(engine)
    finally:
        engine.dispose()


def _clock_shape(engine: Engine) -> tuple[Any, str]:
    """station_now()'s SET clauses, and how the planner sees a call of it."""
    with engine.connect() as conn:
        config = conn.exec_driver_sql(
            "SELECT proconfig FROM pg_proc WHERE proname = 'station_now' "
            "AND pronamespace = current_schema()::regnamespace"
        ).scalar()
        plan = "\n".join(
            str(row[0])
            for row in conn.exec_driver_sql("EXPLAIN (VERBOSE, COSTS OFF) SELECT station_now()")
        )
    return config, plan


@pytest.mark.postgres
def test_the_recording_clock_is_inlined_into_its_callers(
    empty_postgres_schema: DatabaseSettings,  # noqa: F811
) -> None:
    """0019: no SET clause, so a guarded write no longer switches search_path per call."""
    from alembic import command

    from station.db import _alembic_config

    engine = make_engine(empty_postgres_schema)
    try:
        upgrade(engine)
        config, plan = _clock_shape(engine)
        assert config is None
        assert "station_now" not in plan and "CASE" in plan  # the body, not a call
        with engine.begin() as conn:  # the demo clock still moves it, for the owner
            conn.exec_driver_sql("SET LOCAL station.clock_offset = '2 days'")
            ahead = conn.exec_driver_sql(
                "SELECT extract(epoch FROM station_now() - now())"
            ).scalar()
        assert ahead == 2 * 86400
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0018")
        config, plan = _clock_shape(engine)
        assert config is not None and any(c.startswith("search_path=") for c in config)
        assert "station_now()" in plan
        upgrade(engine)
        assert _clock_shape(engine)[0] is None
    finally:
        engine.dispose()
