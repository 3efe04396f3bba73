"""A station connected as the least-privilege role scans normally and can rewrite nothing."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError

from station.cli import cli
from station.db import DatabaseSettings, make_engine, make_session_factory, record_maintenance
from station.db_roles import grant_station_role, station_role_sql
from station.domain import OrderStatus
from station.services import CheckInService, RedemptionService, StaffService
from station.services.errors import ConfigurationError, DatabaseUnavailable, InvalidInput
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


@pytest.mark.parametrize("hot_paths", [None, False], ids=["hot", "general"])
def test_a_station_role_runs_every_scan(
    station_role: tuple[Engine, Engine], hot_paths: bool | None
) -> None:
    admin, station = station_role
    ids = build_conference(make_session_factory(admin))
    outcomes = run_day(make_session_factory(station), hot_paths=hot_paths, ids=ids)
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
    assert 'GRANT SELECT (id, name, active) ON "public".staff TO "door_a";' in ran.output
    assert "GRANT UPDATE" not in ran.output and "DELETE" not in ran.output
    assert 'ALTER ROLE "door_a" SET idle_in_transaction_session_timeout = 10000;' in ran.output
    assert "order_line_item" in ran.output and "INSERT" in ran.output


# --- Guards in the database (migration 0007): forged writes as the station role -----------


def _refused_by_guard(station: Engine, statement: str, **params: object) -> str:
    """The database's refusal of a statement run as the station role (SQLSTATE 23xxx)."""
    with pytest.raises(IntegrityError) as refused, station.begin() as conn:
        conn.execute(text(statement), params)
    return str(refused.value.orig)


_REDEEM = (
    "INSERT INTO product_redemption (client_id, attendee_id, order_line_item_id, conference_id, "
    "redeemed_at, staff_id, station, note) VALUES "
    "(gen_random_uuid(), :attendee, :line, :conference, :at, :staff, 'Forged', '')"
)
_CHECK_IN = (
    "INSERT INTO check_in (client_id, attendee_id, conference_id, checked_in_at, staff_id, "
    "station, note) VALUES (gen_random_uuid(), :attendee, :conference, :at, :staff, 'F', '')"
)
_NOW = datetime.now(UTC)


def test_a_quantity_one_line_is_redeemed_once_however_often_inserted(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    built = conf.attendee(addons={"lunch": 1})
    params = {"attendee": built.attendee_id, "line": built.line_items["lunch"],
              "conference": conf.conference_id, "at": _NOW, "staff": None}  # fmt: skip
    with station.begin() as conn:
        conn.execute(text(_REDEEM), params)
    for _ in range(2):
        assert "used up (1 of 1)" in _refused_by_guard(station, _REDEEM, **params)
    assert _count(admin, "product_redemption") == 1


def test_one_statement_cannot_redeem_every_add_on_line(station_role: tuple[Engine, Engine]) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    for _ in range(3):
        conf.attendee(addons={"lunch": 1, "voucher": 2})
    message = _refused_by_guard(
        station,
        "INSERT INTO product_redemption (client_id, attendee_id, order_line_item_id, "
        "conference_id, redeemed_at, station, note) "
        "SELECT gen_random_uuid(), a.id, li.id, a.conference_id, now(), 'Bulk', '' "
        "FROM attendee a JOIN order_line_item li ON li.order_id = a.order_id "
        "WHERE li.addon_id IS NOT NULL",
    )
    assert "one record per statement" in message
    assert _count(admin, "product_redemption") == 0


def test_no_redemption_for_an_attendee_or_line_that_does_not_exist(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    built = conf.attendee(addons={"lunch": 1})
    ghost = {"attendee": 999_999, "line": built.line_items["lunch"],
             "conference": conf.conference_id, "at": _NOW, "staff": None}  # fmt: skip
    assert "not in conference" in _refused_by_guard(station, _REDEEM, **ghost)
    no_line = {**ghost, "attendee": built.attendee_id, "line": 999_999}
    assert "not an add-on of attendee" in _refused_by_guard(station, _REDEEM, **no_line)


def test_no_redemption_of_a_line_of_someone_elses_order(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    mine, theirs = conf.attendee(), conf.attendee(addons={"lunch": 1})
    params = {"attendee": mine.attendee_id, "line": theirs.line_items["lunch"],
              "conference": conf.conference_id, "at": _NOW, "staff": None}  # fmt: skip
    assert "not an add-on of attendee" in _refused_by_guard(station, _REDEEM, **params)


def test_no_check_in_for_another_conferences_attendee(station_role: tuple[Engine, Engine]) -> None:
    admin, station = station_role
    here = ConferenceBuilder(make_session_factory(admin))
    there = ConferenceBuilder(make_session_factory(admin), slug="elsewhere")
    theirs = there.attendee()
    staff = here.staff("Forger")
    params = {"attendee": theirs.attendee_id, "conference": here.conference_id,
              "at": datetime(1999, 1, 1, tzinfo=UTC), "staff": staff}  # fmt: skip
    assert "not in conference" in _refused_by_guard(station, _CHECK_IN, **params)
    assert _count(admin, "check_in") == 0


def test_a_forged_time_and_staff_are_not_recorded(station_role: tuple[Engine, Engine]) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    built = conf.attendee()
    params = {"attendee": built.attendee_id, "conference": conf.conference_id,
              "at": datetime(1999, 1, 1, tzinfo=UTC), "staff": -1}  # fmt: skip
    assert "no staff member -1" in _refused_by_guard(station, _CHECK_IN, **params)
    with station.begin() as conn:
        row = conn.execute(
            text(_CHECK_IN + " RETURNING checked_in_at, client_at, now() AS server"),
            {**params, "staff": None},
        ).one()
    assert row.checked_in_at == row.server  # the server's time is the record's
    assert row.client_at == datetime(1999, 1, 1, tzinfo=UTC)  # the client's is kept beside it


def _call_redeem(station: Engine, code: str, *, at: datetime, staff: int | None) -> None:
    with station.begin() as conn:
        conn.execute(
            text(
                "SELECT * FROM station_redeem('pycon-test', :code, :code, 'lunch', NULL, "
                "gen_random_uuid(), :at, 'Anywhere', :staff, '', '{}'::jsonb, 'not found')"
            ),
            {"code": code, "at": at, "staff": staff},
        )


def test_station_redeem_without_refusals_still_refuses_a_refunded_order(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    built = conf.attendee(status=OrderStatus.REFUNDED, addons={"lunch": 1})
    with pytest.raises(IntegrityError, match="has no active order"):
        _call_redeem(station, built.access_code, at=_NOW, staff=None)
    assert _count(admin, "product_redemption") == 0


def test_station_redeem_records_the_servers_time_and_a_real_staff_member(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    built = conf.attendee(addons={"lunch": 2})
    with pytest.raises(IntegrityError, match="no staff member -1"):
        _call_redeem(station, built.access_code, at=_NOW, staff=-1)
    long_ago = datetime(1999, 1, 1, tzinfo=UTC)
    _call_redeem(station, built.access_code, at=long_ago, staff=None)
    with admin.connect() as conn:
        row = conn.execute(text("SELECT redeemed_at, client_at FROM product_redemption")).one()
    assert row.client_at == long_ago
    assert abs((row.redeemed_at - datetime.now(UTC)).total_seconds()) < 60


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE attendee SET checked_in_at = NULL",
        "SELECT pin_hash FROM staff",
        "SELECT * FROM staff",
        "SELECT id FROM attendee FOR UPDATE",
        "SELECT id FROM attendee FOR KEY SHARE",
    ],
)
def test_a_station_role_cannot_touch_attendees_pins_or_row_locks(
    station_role: tuple[Engine, Engine], statement: str
) -> None:
    admin, station = station_role
    ConferenceBuilder(make_session_factory(admin)).attendee()
    with pytest.raises(ProgrammingError, match="permission denied"), station.begin() as conn:
        conn.execute(text(statement))


def test_the_lock_function_takes_one_attendee_per_transaction(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    a, b = conf.attendee(), conf.attendee()
    with pytest.raises(IntegrityError, match="first write"), station.begin() as conn:
        assert conn.scalar(text("SELECT station_lock_attendee(:a)"), {"a": a.attendee_id})
        conn.scalar(text("SELECT station_lock_attendee(:b)"), {"b": b.attendee_id})


def test_a_concurrent_flood_of_direct_inserts_never_oversells(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    built = conf.attendee(addons={"voucher": 3})
    params = {"attendee": built.attendee_id, "line": built.line_items["voucher"],
              "conference": conf.conference_id, "at": _NOW, "staff": None}  # fmt: skip
    engines = [make_engine_like(station) for _ in range(8)]
    barrier = threading.Barrier(len(engines))

    def insert(engine: Engine) -> str:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # connected before the start
            conn.commit()
            barrier.wait()
            try:
                with conn.begin():
                    conn.execute(text(_REDEEM), params)
                    time.sleep(0.05)  # hold the lock a little: the others queue behind it
                return "ok"
            except IntegrityError:
                return "refused"

    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            outcomes = list(pool.map(insert, engines))
    finally:
        for engine in engines:
            engine.dispose()
    assert Counter(outcomes) == {"ok": 3, "refused": 5}
    assert _count(admin, "product_redemption") == 3


def make_engine_like(engine: Engine) -> Engine:
    """Another 'station' on the same database as the same role."""
    return create_engine(engine.url, connect_args={"options": _options(engine)})


def _options(engine: Engine) -> str:
    with engine.connect() as conn:
        return f"-c search_path={conn.scalar(text('SELECT current_schema()'))}"


def test_a_day_of_scans_runs_past_two_to_the_31_record_ids(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    ids = build_conference(make_session_factory(admin))
    with admin.begin() as conn:
        for table in ("check_in", "door_check", "product_redemption", "scan_log"):
            conn.execute(text(f"SELECT setval('{table}_id_seq', 2147483652::bigint)"))
    for hot_paths in (None, False):
        outcomes = run_day(make_session_factory(station), hot_paths=hot_paths, ids=ids)
        assert not [
            o for o in outcomes if isinstance(o, Refused) and o.kind == "DatabaseUnavailable"
        ]
    with admin.connect() as conn:
        for table in ("check_in", "door_check", "product_redemption", "scan_log"):
            assert conn.scalar(text(f"SELECT min(id) FROM {table}")) > 2**31


def test_a_transaction_left_idle_is_cut_off(postgres_schema: DatabaseSettings) -> None:
    role = f"station_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres_schema)
    grant_station_role(admin, role, postgres_schema.schema, idle_in_transaction_timeout_ms=500)
    conf = ConferenceBuilder(make_session_factory(admin))
    built = conf.attendee()
    url = make_url(PG_URL).set(username=role, password=None, drivername="postgresql")
    try:
        # A client of its own (psql with a stolen password): the role's defaults apply.
        holder = psycopg.connect(
            url.render_as_string(hide_password=False),
            options=f"-c search_path={postgres_schema.schema}",
        )
        try:
            holder.execute("SELECT station_lock_attendee(%s)", (built.attendee_id,))
            time.sleep(1.5)
            with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
                holder.execute("SELECT 1")
        finally:
            holder.close()
        with admin.begin() as conn:  # the row is free again
            conn.execute(text("SET LOCAL lock_timeout = 1000"))
            conn.execute(text("SELECT station_lock_attendee(:a)"), {"a": built.attendee_id})
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


def test_a_station_role_gets_statement_and_idle_timeouts(
    station_role: tuple[Engine, Engine],
) -> None:
    _admin, station = station_role
    with psycopg.connect(_plain_url(station), options="") as conn:
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("10s",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("15s",)


def _plain_url(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_sign_in_checks_the_pin_in_the_database_and_a_miss_costs_a_second(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    conf.staff("Sam", pin="2468")
    staff = StaffService(make_session_factory(station))
    assert [(m.name, m.has_pin) for m in staff.list_staff()] == [("Sam", True)]
    assert staff.sign_in("Sam", "2468").name == "Sam"
    started = time.monotonic()
    with pytest.raises(InvalidInput, match="Wrong PIN"):
        staff.sign_in("Sam", "1357")
    assert time.monotonic() - started >= 1.0
    with station.connect() as conn:
        parameters = conn.scalar(text("SELECT parameters FROM station_pin_parameters('Sam')"))
    assert parameters is not None and parameters.count("$") == 1  # scheme and salt only


def test_records_are_append_only_even_for_the_owner_outside_maintenance(
    station_role: tuple[Engine, Engine],
) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    built = conf.attendee()
    CheckInService(make_session_factory(station)).check_in(
        StationContext(conf.slug, "D"), built.access_code
    )
    for statement in ("UPDATE check_in SET station = 'x'", "DELETE FROM scan_log"):
        with pytest.raises(IntegrityError, match="append-only"), admin.begin() as conn:
            conn.execute(text(statement))
    with admin.begin() as conn, record_maintenance(conn):
        conn.execute(text("DELETE FROM scan_log"))
    assert _count(admin, "scan_log") == 0


def test_the_station_role_cannot_switch_maintenance_on(station_role: tuple[Engine, Engine]) -> None:
    admin, station = station_role
    conf = ConferenceBuilder(make_session_factory(admin))
    built = conf.attendee(status=OrderStatus.REFUNDED, addons={"lunch": 1})
    params = {"attendee": built.attendee_id, "line": built.line_items["lunch"],
              "conference": conf.conference_id, "at": _NOW, "staff": None}  # fmt: skip
    with pytest.raises(IntegrityError, match="no active order"), station.begin() as conn:
        conn.execute(text("SET LOCAL station.maintenance = 'on'"))
        conn.execute(text(_REDEEM), params)


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
