"""The connection the scan paths keep between scans: reused, replaced when dead, released."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from station.db import DatabaseSettings, make_engine, make_session_factory
from station.services import CheckInService, RedemptionService
from station.services.hot_connection import hot_connection
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_schema: DatabaseSettings, postgres_database: object) -> Iterator[Engine]:
    engine = make_engine(postgres_schema)
    yield engine
    engine.dispose()


def backend_pid(engine: Engine) -> int:
    row = hot_connection(engine).fetch_one("SELECT pg_backend_pid() AS pid", {})
    return int(row.pid)


def backend_alive(pid: int) -> bool:
    with psycopg.connect(make_url(PG_URL).render_as_string(hide_password=False)) as admin:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
        return bool(row.fetchone()[0])  # type: ignore[index]


def wait_until_gone(pid: int) -> None:
    for _ in range(100):
        if not backend_alive(pid):
            return
        time.sleep(0.05)
    raise AssertionError(f"backend {pid} still there")


def station(engine: Engine) -> tuple[ConferenceBuilder, CheckInService, StationContext]:
    sessions = make_session_factory(engine)
    conf = ConferenceBuilder(sessions)
    conf.addon("lunch")
    return conf, CheckInService(sessions), StationContext(conf.slug, "Desk 1", conf.staff("Ana"))


def test_scans_of_every_service_share_one_held_connection(engine: Engine) -> None:
    conf, checkin, ctx = station(engine)
    redemption = RedemptionService(make_session_factory(engine))
    people = [conf.attendee(addons={"lunch": 1}) for _ in range(3)]
    for person in people:
        checkin.check_in(ctx, person.access_code)
        redemption.redeem_product(ctx, person.access_code, product="lunch")
    assert hot_connection(engine).held
    assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert backend_pid(engine) == backend_pid(engine)


def test_a_held_connection_killed_between_scans_is_replaced(engine: Engine) -> None:
    conf, checkin, ctx = station(engine)
    first, second = conf.attendee(), conf.attendee()
    checkin.check_in(ctx, first.access_code)
    killed = backend_pid(engine)
    with psycopg.connect(make_url(PG_URL).render_as_string(hide_password=False)) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
    wait_until_gone(killed)

    result = checkin.check_in(ctx, second.access_code)  # no "not recorded" first

    assert result.badge.access_code == second.access_code
    assert backend_pid(engine) != killed


def test_a_scan_while_another_is_in_flight_borrows_a_connection(engine: Engine) -> None:
    conf, checkin, ctx = station(engine)
    person = conf.attendee()
    checkin.lookup_attendee(ctx, person.access_code)  # the held connection exists
    slow = threading.Thread(
        target=lambda: hot_connection(engine).fetch_one("SELECT pg_sleep(2)", {})
    )
    slow.start()
    try:
        time.sleep(0.2)
        assert slow.is_alive()
        result = checkin.check_in(ctx, person.access_code)
        assert slow.is_alive()  # answered without waiting for the held connection
        assert result.badge.access_code == person.access_code
    finally:
        slow.join()
    assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]


def test_disposing_of_the_engine_closes_the_held_connection(engine: Engine) -> None:
    station(engine)
    pid = backend_pid(engine)
    engine.dispose()
    wait_until_gone(pid)
    assert not hot_connection(engine).held


def prepared_here(engine: Engine) -> set[str]:
    rows = hot_connection(engine).fetch_one(
        "SELECT coalesce(array_agg(name::text), '{}') AS names FROM pg_prepared_statements", {}
    )
    return set(rows.names)


def test_a_statement_is_prepared_after_the_threshold_and_takes_any_parameter_types(
    postgres_schema: DatabaseSettings, postgres_database: object
) -> None:
    engine = make_engine(replace(postgres_schema, prepare_threshold=2))
    try:
        sql = "SELECT %(x)s::bigint + 1 AS n, %(label)s::text AS label, %(x)s::bigint AS x"
        held = hot_connection(engine)
        # An int goes as int2, int4 or int8 by its size, None as unknown: each set of types
        # needs a statement of its own, or the server reads 8 bytes as 4.
        for x, expected in [(1, 2), (2, 3), (3, 4), (2**40, 2**40 + 1), (None, None), (5, 6)]:
            row = held.fetch_one(sql, {"x": x, "label": "<b>[bold]"})
            assert (row.n, row.label, row.x) == (expected, "<b>[bold]", x)
        assert len({n for n in prepared_here(engine) if n.startswith("station_hot_")}) >= 3
    finally:
        engine.dispose()


def test_a_connection_that_prepares_nothing_runs_every_statement_unprepared(
    postgres_schema: DatabaseSettings, postgres_database: object
) -> None:
    engine = make_engine(replace(postgres_schema, prepare_threshold=None))
    try:
        held = hot_connection(engine)
        for i in range(5):
            assert held.fetch_one("SELECT %(i)s::int * 2 AS twice", {"i": i}).twice == 2 * i
        assert prepared_here(engine) == set()
    finally:
        engine.dispose()


def test_an_error_is_the_servers_own_and_the_connection_goes_on(engine: Engine) -> None:
    held = hot_connection(engine)
    pid = backend_pid(engine)
    for _ in range(4):  # prepared by now
        with pytest.raises(psycopg.errors.DivisionByZero) as raised:
            held.fetch_one("SELECT 1 / %(zero)s::int AS n", {"zero": 0})
        assert raised.value.sqlstate == "22012"
    assert held.fetch_one("SELECT 1 / %(one)s::int AS n", {"one": 1}).n == 1
    assert held.fetch_one("SELECT 1 WHERE false", {}) is None
    assert backend_pid(engine) == pid


def test_rows_are_named_as_psycopgs_named_tuples(engine: Engine) -> None:
    sql = 'SELECT 1, 2 AS "1st", 3 AS "_x", 4 AS "a b", 5 AS plain'
    row = hot_connection(engine).fetch_one(sql, {})
    with psycopg.connect(make_url(PG_URL).render_as_string(hide_password=False)) as plain:
        expected = plain.cursor(row_factory=namedtuple_row).execute(sql).fetchone()
    assert row._fields == expected._fields  # type: ignore[union-attr]
    assert tuple(row) == tuple(expected)  # type: ignore[arg-type]
