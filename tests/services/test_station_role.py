"""A station connected as the least-privilege role scans normally and can rewrite nothing."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError

from station.cli import cli
from station.db import DatabaseSettings, make_engine, make_session_factory
from station.db_roles import grant_station_role, station_role_sql
from station.dbadmin import check_conference
from station.pins import hash_pin_with
from station.services import CheckInService, RedemptionService, StaffService
from station.services.errors import ConfigurationError, DatabaseUnavailable, InvalidInput
from station.services.results import CheckInResult, RedemptionResult, StationContext
from tests.builders import ConferenceBuilder
from tests.conftest import PG_URL
from tests.services.scenario import Refused, build_conference, run_day

pytestmark = pytest.mark.postgres


@dataclass
class StationRole:
    """A fresh station role on this run's schema, and an administrator beside it."""

    name: str
    settings: DatabaseSettings
    admin: Engine
    station: Engine

    @property
    def station_settings(self) -> DatabaseSettings:
        """The database settings of a station that connects as this role."""
        return replace(self.settings, url=str(self.station.url.render_as_string(False)))

    def grant(self, conference: str, *options: str) -> None:
        """Grant (again) through the command a DBA would run, bound to ``conference``."""
        env = {
            "STATION_DATABASE_URL": PG_URL,
            "STATION_DATABASE_SCHEMA": self.settings.schema or "",
        }
        ran = CliRunner().invoke(
            cli,
            ["db", "grant-station-role", self.name, "--conference", conference, *options],
            env=env,
        )
        assert ran.exit_code == 0, ran.output
        assert f"Role {self.name} can now run stations of {conference}" in ran.output

    def plain_url(self) -> str:
        """The role's URL for a client of its own (psql with a stolen password)."""
        return (
            make_url(PG_URL)
            .set(username=self.name, password=None, drivername="postgresql")
            .render_as_string(hide_password=False)
        )

    def plain_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        """A connection that sets nothing itself but the schema: the role's defaults apply."""
        return psycopg.connect(self.plain_url(), options=f"-c search_path={self.settings.schema}")


@pytest.fixture
def station_role(
    postgres_schema: DatabaseSettings, postgres_database: object
) -> Iterator[StationRole]:
    """A station role bound to the builders' default conference, "pycon-test"."""
    name = f"station_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres_schema)
    ConferenceBuilder(make_session_factory(admin))
    url = make_url(PG_URL).set(username=name, password=None)
    station = make_engine(replace(postgres_schema, url=url.render_as_string(hide_password=False)))
    role = StationRole(name, postgres_schema, admin, station)
    try:
        role.grant("pycon-test")
        yield role
    finally:
        station.dispose()
        with admin.begin() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}):
                conn.exec_driver_sql(f'DROP OWNED BY "{name}"')
                conn.exec_driver_sql(f'DROP ROLE "{name}"')
        admin.dispose()


def test_a_station_role_runs_every_scan(station_role: StationRole) -> None:
    admin, station = station_role.admin, station_role.station
    ids = build_conference(make_session_factory(admin))
    station_role.grant("equal-con")
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
    station_role: StationRole, statement: str
) -> None:
    admin, station = station_role.admin, station_role.station
    ConferenceBuilder(make_session_factory(admin)).attendee(addons={"lunch": 2})
    with pytest.raises(ProgrammingError, match="permission denied"), station.begin() as conn:
        conn.execute(text(statement))


def test_a_station_role_sees_refusals_not_database_errors(
    station_role: StationRole,
) -> None:
    admin, station = station_role.admin, station_role.station
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
    assert station_role_sql("door_a", "pycon-2026")[0].startswith("DO $$")
    for bad in ('x"; DROP TABLE "order', "Upper", "with space", ""):
        with pytest.raises(ConfigurationError):
            station_role_sql(bad, "pycon-2026")
    # Not slugs by Django's rule ("-leading" is one).
    for bad_slug in ("x'; DROP TABLE staff; --", "", "with space", "dot.ted"):
        with pytest.raises(ConfigurationError, match="Conference slug"):
            station_role_sql("door_a", bad_slug)


def test_granting_twice_is_harmless_and_takes_back_extra_rights(
    station_role: StationRole,
) -> None:
    admin, station = station_role.admin, station_role.station
    with admin.begin() as conn:
        conn.exec_driver_sql(f'GRANT DELETE ON scan_log TO "{station_role.name}"')
        conn.exec_driver_sql(f'GRANT SELECT ON staff TO "{station_role.name}"')
    grant_station_role(admin, station_role.name, "pycon-test", station_role.settings.schema)
    ConferenceBuilder(make_session_factory(admin)).attendee()
    with pytest.raises(ProgrammingError, match="permission denied"), station.begin() as conn:
        conn.execute(text("DELETE FROM scan_log"))
    with pytest.raises(ProgrammingError, match="permission denied"), station.begin() as conn:
        conn.execute(text("SELECT pin_hash FROM staff"))


def test_print_sql_shows_the_grants_without_running_them() -> None:
    ran = CliRunner().invoke(
        cli,
        ["db", "grant-station-role", "door_a", "--conference", "pycon-2026", "--print-sql"],
        env={"STATION_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    assert ran.exit_code == 0, ran.output
    assert 'GRANT SELECT ON "public".attendee TO "door_a";' in ran.output
    assert 'FUNCTION "public".station_redeem_line(' in ran.output
    granted = [line for line in ran.output.splitlines() if line.startswith("GRANT")]
    for power in ("INSERT", "UPDATE", "DELETE", "SEQUENCE"):
        assert not any(power in line for line in granted), power
    assert (
        'GRANT SELECT (id, name, active, supervisor) ON "public".staff TO "door_a";' in ran.output
    )
    assert "WHERE c.slug = 'pycon-2026'" in ran.output
    assert 'ALTER ROLE "door_a" SET idle_in_transaction_session_timeout = 5000;' in ran.output
    assert "DELETE ON" not in ran.output and "pin_hash" not in ran.output
    assert "order_line_item" in ran.output


# --- PIN hashes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT pin_hash FROM staff",
        "SELECT * FROM staff",
        "SELECT count(*) FROM staff WHERE pin_hash IS NOT NULL",
        "SELECT s.name FROM staff s ORDER BY s.pin_hash",
    ],
)
def test_a_station_role_cannot_read_pin_hashes(station_role: StationRole, statement: str) -> None:
    admin, station = station_role.admin, station_role.station
    ConferenceBuilder(make_session_factory(admin)).staff("Sam", pin="2468")
    with pytest.raises(ProgrammingError, match="permission denied"), station.begin() as conn:
        conn.execute(text(statement))


def test_a_station_role_reads_the_other_staff_columns(station_role: StationRole) -> None:
    admin, station = station_role.admin, station_role.station
    ConferenceBuilder(make_session_factory(admin)).staff("Sam", pin="2468")
    with station.connect() as conn:
        assert conn.execute(text("SELECT name, active FROM staff")).all() == [("Sam", True)]


def test_sign_in_checks_the_pin_in_the_database_and_a_miss_costs_a_second(
    station_role: StationRole,
) -> None:
    admin, station = station_role.admin, station_role.station
    conf = ConferenceBuilder(make_session_factory(admin))
    conf.staff("Sam", pin="2468")  # hashed as `station staff add` always has: still valid
    conf.staff("Ana")
    staff = StaffService(make_session_factory(station))
    assert [(m.name, m.has_pin) for m in staff.list_staff()] == [("Ana", False), ("Sam", True)]
    assert staff.sign_in("Sam", "2468").name == "Sam"
    assert staff.sign_in("Ana", None).name == "Ana"
    started = time.monotonic()
    with pytest.raises(InvalidInput, match="Wrong PIN"):
        staff.sign_in("Sam", "1357")
    assert time.monotonic() - started >= 1.0
    with pytest.raises(InvalidInput, match="No operator"):
        staff.sign_in("Nobody", "1357")
    with station.connect() as conn:
        parameters = conn.scalar(text("SELECT parameters FROM station_pin_parameters('Sam')"))
    assert parameters is not None and parameters.count("$") == 1  # scheme and salt only
    with admin.connect() as conn:
        stored = conn.scalar(text("SELECT pin_hash FROM staff WHERE name = 'Sam'"))
    assert stored is not None and stored.startswith(parameters + "$")


def test_pin_guesses_at_one_operator_take_turns(station_role: StationRole) -> None:
    """Three connections guessing at once still guess about once a second.

    (A fourth would wait three seconds, and the station's lock timeout ends that wait.)
    """
    admin, station = station_role.admin, station_role.station
    sam = ConferenceBuilder(make_session_factory(admin)).staff("Sam", pin="2468")
    barrier = threading.Barrier(3)

    def guess(pin: str) -> bool:
        with station.connect() as conn:
            parameters = conn.scalar(text("SELECT parameters FROM station_pin_parameters('Sam')"))
            hashed = hash_pin_with(pin, parameters) or ""
            conn.commit()
            barrier.wait()
            matched = conn.scalar(
                text("SELECT station_check_pin(:id, :h)"), {"id": sam, "h": hashed}
            )
            conn.commit()
            return bool(matched)

    started = time.monotonic()
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(guess, ["0000", "1111", "2222"]))
    assert results == [False] * 3
    assert time.monotonic() - started >= 2.9


def test_the_station_functions_are_not_granted_to_everyone(station_role: StationRole) -> None:
    with station_role.admin.connect() as conn:
        public = conn.execute(
            text(
                "SELECT p.proname FROM pg_proc p, aclexplode(coalesce(p.proacl, "
                "acldefault('f', p.proowner))) a "
                "WHERE p.pronamespace = current_schema()::regnamespace AND a.grantee = 0 "
                "AND p.proname IN ('station_staff', 'station_pin_parameters', "
                "'station_check_pin', 'station_caller_conference')"
            )
        ).scalars()
        assert list(public) == []


# --- one conference's people --------------------------------------------------------------

_PEOPLE_TABLES = ("attendee", "person", '"order"', "order_line_item")
_RECORD_TABLES = ("check_in", "door_check", "product_redemption", "scan_log")


def _two_conferences(role: StationRole) -> tuple[ConferenceBuilder, ConferenceBuilder]:
    """pycon-test (the role's) and other-con, each with attendees, check-ins and scans."""
    sessions = make_session_factory(role.admin)
    ours = ConferenceBuilder(sessions)
    theirs = ConferenceBuilder(sessions, slug="other-con", name="Other Con")
    for conf, codes in ((ours, ("OURS1", "OURS2")), (theirs, ("THEIRS1", "THEIRS2", "THEIRS3"))):
        for code in codes:
            conf.attendee(code, addons={"lunch": 1})
    admin = CheckInService(sessions, hot_paths=False)
    admin.check_in(StationContext("pycon-test", "Desk"), "OURS1")
    admin.check_in(StationContext("other-con", "Desk"), "THEIRS1")
    RedemptionService(sessions, hot_paths=False).redeem_product(
        StationContext("other-con", "Meal"), "THEIRS2", product="lunch"
    )
    return ours, theirs


def _visible(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in _PEOPLE_TABLES + _RECORD_TABLES
        }


def test_a_station_role_sees_only_its_conferences_people(station_role: StationRole) -> None:
    _two_conferences(station_role)
    assert _visible(station_role.admin) == {
        "attendee": 5, "person": 5, '"order"': 5, "order_line_item": 10,
        "check_in": 2, "door_check": 0, "product_redemption": 1, "scan_log": 3,
    }  # fmt: skip
    assert _visible(station_role.station) == {
        "attendee": 2, "person": 2, '"order"': 2, "order_line_item": 4,
        "check_in": 1, "door_check": 0, "product_redemption": 0, "scan_log": 1,
    }  # fmt: skip
    with station_role.station.connect() as conn:
        codes = conn.execute(text("SELECT access_code FROM attendee ORDER BY 1")).scalars()
        assert list(codes) == ["OURS1", "OURS2"]
        # A setting of its own changes nothing: the conference is in policies it cannot alter.
        conn.exec_driver_sql("SET station.conference = 'other-con'")
        conn.exec_driver_sql("SET station.conference_id = '2'")
        assert conn.scalar(text("SELECT count(*) FROM attendee")) == 2


def test_a_station_role_cannot_look_up_or_scan_another_conferences_badge(
    station_role: StationRole,
) -> None:
    _two_conferences(station_role)
    sessions = make_session_factory(station_role.station)
    for hot_paths in (None, False):
        checkin = CheckInService(sessions, hot_paths=hot_paths)
        with pytest.raises(Exception) as refused:
            checkin.check_in(StationContext("other-con", "Desk"), "THEIRS3")
        assert refused.value.__class__.__name__ in {"AttendeeNotFound", "DatabaseUnavailable"}
        assert not checkin.search_attendees(StationContext("other-con", "Desk"), "lovelace")
        assert checkin.search_attendees(StationContext("pycon-test", "Desk"), "lovelace")
    with station_role.admin.connect() as conn:
        theirs = conn.scalar(text("SELECT id FROM attendee WHERE access_code = 'THEIRS3'"))
        other = conn.scalar(text("SELECT id FROM conference WHERE slug = 'other-con'"))
        assert (
            conn.scalar(text("SELECT checked_in_at FROM attendee WHERE id = :a"), {"a": theirs})
            is None
        )
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        station_role.station.begin() as conn,
    ):
        conn.execute(
            text(
                "INSERT INTO check_in (client_id, attendee_id, conference_id, checked_in_at, "
                "station, note) VALUES (gen_random_uuid(), :a, :c, now(), 'x', '')"
            ),
            {"a": theirs, "c": other},
        )
    # Nor through the guarded function, which runs as the owner and so sees every row.
    with (
        pytest.raises(IntegrityError, match="only for its own conference"),
        station_role.station.begin() as conn,
    ):
        conn.execute(
            text(
                "SELECT * FROM station_check_in(:a, :c, true, 'ok', gen_random_uuid(), NULL, "
                "'x', NULL, '', 'THEIRS3')"
            ),
            {"a": theirs, "c": other},
        )


def test_a_station_role_without_its_policies_sees_nobody(station_role: StationRole) -> None:
    _two_conferences(station_role)
    with station_role.admin.begin() as conn:
        for table in _PEOPLE_TABLES + _RECORD_TABLES:
            conn.execute(text(f'DROP POLICY "{station_role.name}" ON {table}'))
    assert set(_visible(station_role.station).values()) == {0}


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER POLICY {role} ON attendee USING (true)",
        "DROP POLICY {role} ON attendee",
        "CREATE POLICY everything ON attendee USING (true)",
        "ALTER TABLE attendee DISABLE ROW LEVEL SECURITY",
        "ALTER ROLE {role} BYPASSRLS",
    ],
)
def test_a_station_role_cannot_change_its_policies(
    station_role: StationRole, statement: str
) -> None:
    with (
        pytest.raises(ProgrammingError, match=r"must be owner|permission denied|must be superuser"),
        station_role.station.begin() as conn,
    ):
        conn.exec_driver_sql(statement.format(role=f'"{station_role.name}"'))


def test_a_station_of_another_conference_is_refused_at_start(station_role: StationRole) -> None:
    _two_conferences(station_role)
    check_conference(station_role.station_settings, "pycon-test")  # its own: fine
    with pytest.raises(ConfigurationError) as refused:
        check_conference(station_role.station_settings, "other-con")
    assert refused.value.message == (
        f"The database role {station_role.name} is for pycon-test, not 'other-con': run "
        f"`station db grant-station-role {station_role.name} --conference other-con`, "
        "or use that role's own conference."
    )
    with station_role.admin.begin() as conn:
        conn.execute(text(f'DROP POLICY "{station_role.name}" ON attendee'))
    with pytest.raises(ConfigurationError, match="may see no conference's attendees"):
        check_conference(station_role.station_settings, "pycon-test")
    check_conference(station_role.settings, "other-con")  # the owner sees every conference


def test_granting_again_moves_the_role_to_another_conference(station_role: StationRole) -> None:
    _two_conferences(station_role)
    assert _caller_conference(station_role) == "pycon-test"
    station_role.grant("other-con")
    assert _caller_conference(station_role) == "other-con"
    with station_role.station.connect() as conn:
        codes = conn.execute(text("SELECT access_code FROM attendee ORDER BY 1")).scalars()
        assert list(codes) == ["THEIRS1", "THEIRS2", "THEIRS3"]


def _caller_conference(role: StationRole) -> str | None:
    """What station_caller_conference() says in an owner's function called by the role."""
    with role.admin.begin() as conn:
        conn.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION caller_conference_probe() RETURNS text "
            "LANGUAGE sql SECURITY DEFINER AS "
            "'SELECT slug FROM conference WHERE id = station_caller_conference()'"
        )
        conn.exec_driver_sql(
            f'GRANT EXECUTE ON FUNCTION caller_conference_probe() TO "{role.name}"'
        )
    with role.station.connect() as conn:
        found = conn.scalar(text("SELECT caller_conference_probe()"))
    with role.admin.connect() as conn:  # the owner itself is no station
        assert conn.scalar(text("SELECT caller_conference_probe()")) is None
    return None if found is None else str(found)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM station_role_conference",
        "UPDATE station_role_conference SET conference_id = conference_id",
        "INSERT INTO station_role_conference VALUES ('x', 1)",
        "SELECT station_caller_conference()",
    ],
)
def test_a_station_role_cannot_read_or_change_the_bindings(
    station_role: StationRole, statement: str
) -> None:
    with (
        pytest.raises(ProgrammingError, match="permission denied"),
        station_role.station.begin() as conn,
    ):
        conn.execute(text(statement))


def test_the_owner_is_not_held_to_the_policies(station_role: StationRole) -> None:
    with station_role.admin.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
                "AND c.relname = ANY(:names) ORDER BY 1"
            ),
            {"names": [t.strip('"') for t in _PEOPLE_TABLES + _RECORD_TABLES]},
        ).all()
    assert len(rows) == 8
    assert all(r.relrowsecurity and not r.relforcerowsecurity for r in rows)


def test_grant_refuses_an_unknown_conference_in_one_line(station_role: StationRole) -> None:
    env = {
        "STATION_DATABASE_URL": PG_URL,
        "STATION_DATABASE_SCHEMA": station_role.settings.schema or "",
    }
    ran = CliRunner().invoke(
        cli, ["db", "grant-station-role", station_role.name, "--conference", "nope"], env=env
    )
    assert ran.exit_code == 2
    assert ran.output.strip() == (
        "station: No conference 'nope' in this database (known: pycon-test)."
    )
    missing = CliRunner().invoke(cli, ["db", "grant-station-role", station_role.name], env=env)
    assert missing.exit_code == 2 and "--conference" in missing.output


# --- timeouts -----------------------------------------------------------------------------


def test_a_station_role_gets_idle_statement_and_lock_timeouts(station_role: StationRole) -> None:
    with station_role.plain_connection() as conn:
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("5s",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("5s",)
        assert conn.execute("SHOW lock_timeout").fetchone() == ("3s",)
    station_role.grant(
        "pycon-test",
        "--idle-in-transaction-timeout-ms", "2500",
        "--statement-timeout-ms", "7000",
        "--lock-timeout-ms", "1500",
    )  # fmt: skip
    with station_role.plain_connection() as conn:
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("2500ms",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("7s",)
        assert conn.execute("SHOW lock_timeout").fetchone() == ("1500ms",)


def test_a_transaction_left_idle_is_cut_off(station_role: StationRole) -> None:
    station_role.grant("pycon-test", "--idle-in-transaction-timeout-ms", "500")
    ConferenceBuilder(make_session_factory(station_role.admin)).attendee()
    holder = station_role.plain_connection()
    try:
        holder.execute("SELECT count(*) FROM attendee")  # a transaction, and its locks, open
        pid = holder.info.backend_pid
        time.sleep(1.5)
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
            holder.execute("SELECT 1")
    finally:
        holder.close()
    with station_role.admin.connect() as conn:  # the server ended the session
        gone = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid})
    assert gone == 0


def test_a_long_statement_is_cancelled(station_role: StationRole) -> None:
    station_role.grant("pycon-test", "--statement-timeout-ms", "300")
    with station_role.plain_connection() as conn:
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(3)")
        assert time.monotonic() - started < 2


def test_timeouts_out_of_range_are_refused_in_one_line(station_role: StationRole) -> None:
    env = {
        "STATION_DATABASE_URL": PG_URL,
        "STATION_DATABASE_SCHEMA": station_role.settings.schema or "",
    }
    ran = CliRunner().invoke(
        cli,
        ["db", "grant-station-role", station_role.name, "--conference", "pycon-test",
         "--idle-in-transaction-timeout-ms", "0"],
        env=env,
    )  # fmt: skip
    assert ran.exit_code == 2 and "--idle-in-transaction-timeout-ms" in ran.output
