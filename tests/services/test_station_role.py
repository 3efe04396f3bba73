"""A station connected as the least-privilege role scans normally and can rewrite nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from station.cli import cli
from station.db import DatabaseSettings, make_engine, make_session_factory
from station.db_roles import grant_station_role, station_role_sql
from station.services import CheckInService, RedemptionService, StaffService
from station.services.errors import ConfigurationError, DatabaseUnavailable
from station.services.results import CheckInResult, RedemptionResult, StationContext
from tests.builders import ConferenceBuilder
from tests.conftest import PG_URL
from tests.services.scenario import Refused, build_conference, run_day

pytestmark = pytest.mark.postgres


@pytest.fixture
def station_role(
    postgres_schema: DatabaseSettings, postgres_database: object
) -> Iterator[tuple[Engine, Engine]]:
    """(admin engine, engine connected as a fresh station role) on this run's schema."""
    role = f"station_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres_schema)
    # Granted through the command a DBA would run.
    env = {"STATION_DATABASE_URL": PG_URL, "STATION_DATABASE_SCHEMA": postgres_schema.schema or ""}
    ran = CliRunner().invoke(cli, ["db", "grant-station-role", role], env=env)
    assert ran.exit_code == 0, ran.output
    assert f"Role {role} can now run stations" in ran.output
    url = make_url(PG_URL).set(username=role, password=None)
    station = make_engine(replace(postgres_schema, url=url.render_as_string(hide_password=False)))
    try:
        yield admin, station
    finally:
        station.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


def test_a_station_role_runs_every_scan(station_role: tuple[Engine, Engine]) -> None:
    admin, station = station_role
    ids = build_conference(make_session_factory(admin))
    outcomes = run_day(make_session_factory(station), hot_paths=None, ids=ids)
    failures = [o for o in outcomes if isinstance(o, Refused) and o.kind == "DatabaseUnavailable"]
    assert failures == []
    assert sum(isinstance(o, CheckInResult) for o in outcomes) >= 3
    assert sum(isinstance(o, RedemptionResult) for o in outcomes) >= 6

    sessions = make_session_factory(station)
    ctx = StationContext("equal-con", "Desk 1")
    assert [m.name for m in StaffService(sessions).list_staff()] == ["Ana"]
    assert CheckInService(sessions).search_attendees(ctx, "lovelace")
    assert CheckInService(sessions).counts(ctx).conference_attendees == 6


@pytest.mark.parametrize(
    "statement",
    [
        'DELETE FROM "order"',
        "UPDATE order_line_item SET quantity = quantity + 1",
        "UPDATE \"order\" SET status = 'paid'",
        'INSERT INTO "order" (conference_id, person_id, reference, status) '
        "VALUES (1, 1, 'X', 'paid')",
        "DELETE FROM order_line_item",
        "DELETE FROM product_redemption",
        "DELETE FROM check_in",
        "DELETE FROM scan_log",
        "UPDATE product_redemption SET attendee_id = attendee_id",
        "UPDATE scan_log SET outcome = 'accepted'",
        "UPDATE attendee SET order_id = NULL",
        "UPDATE staff SET pin_hash = NULL",
        "TRUNCATE scan_log",
        "CREATE TABLE sneaky (id int)",
    ],
)
def test_a_station_role_cannot_rewrite_orders_or_history(
    station_role: tuple[Engine, Engine], statement: str
) -> None:
    admin, station = station_role
    ConferenceBuilder(make_session_factory(admin)).attendee(addons={"lunch": 2})
    with pytest.raises(ProgrammingError, match="permission denied"), station.begin() as conn:
        conn.execute(text(statement))


def test_a_station_role_sees_refusals_not_database_errors(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    built = conf.attendee(addons={"lunch": 1})
    service = RedemptionService(make_session_factory(station))
    ctx = StationContext(conf.slug, "Meal line")
    service.redeem_product(ctx, built.access_code, product="lunch")
    with pytest.raises(Exception) as refused:
        service.redeem_product(ctx, built.access_code, product="lunch")
    assert not isinstance(refused.value, DatabaseUnavailable)
    assert refused.value.__class__.__name__ == "FullyRedeemed"


def test_role_sql_refuses_names_that_would_need_quoting() -> None:
    assert station_role_sql("door_a")[0].startswith("DO $$")
    for bad in ('x"; DROP TABLE "order', "Upper", "with space", ""):
        with pytest.raises(ConfigurationError):
            station_role_sql(bad)


def test_granting_twice_is_harmless_and_takes_back_extra_rights(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    role = make_url(str(station.url)).username or ""
    with admin.begin() as conn:
        conn.exec_driver_sql(f'GRANT DELETE ON scan_log TO "{role}"')
    schema = _schema_of(station)
    grant_station_role(admin, role, schema)
    ConferenceBuilder(make_session_factory(admin)).attendee()
    with pytest.raises(ProgrammingError, match="permission denied"), station.begin() as conn:
        conn.execute(text("DELETE FROM scan_log"))


def _schema_of(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.scalar(text("SELECT current_schema()")))


def test_print_sql_shows_the_grants_without_running_them() -> None:
    ran = CliRunner().invoke(
        cli,
        ["db", "grant-station-role", "door_a", "--print-sql"],
        env={"STATION_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    assert ran.exit_code == 0, ran.output
    assert 'GRANT SELECT ON "public".attendee TO "door_a";' in ran.output
    assert 'FUNCTION "public".station_redeem_line(' in ran.output
    granted = [line for line in ran.output.splitlines() if line.startswith("GRANT")]
    for power in ("INSERT", "UPDATE", "DELETE", "SEQUENCE"):
        assert not any(power in line for line in granted), power
