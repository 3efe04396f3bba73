"""The guarded writes run on plans PostgreSQL keeps, not on a plan made again per call.

PL/pgSQL plans a statement with the call's arguments for its first five runs and then
keeps a generic plan, unless the generic plan looks costlier than those custom ones;
then it plans again on every call. A statement in which an argument can fold a branch
away (``p_versions IS NOT NULL AND ...``) stays on custom plans forever: 0020's premise
did, and cost more than the write itself (migration 0021), and so did the room-count
trigger's room lookup a door scan fires (``... = NEW.ticket_type_id OR ... = NEW.addon_id``,
migration 0022). auto_explain shows which: a kept plan names the arguments ($1, $2, ...),
a plan made for the call shows their values.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection

from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase

pytestmark = pytest.mark.parametrize(
    "database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

CHECK_IN = (
    "SELECT outcome FROM station_check_in(%(attendee)s, %(conference)s, %(first)s, 'ok', "
    "%(client_id)s, now(), 'Desk', %(staff)s, NULL, 'CODE', "
    "%(versions)s::bigint[], %(records)s::bigint[])"
)
REDEEM = (
    "SELECT outcome FROM station_redeem_line(%(attendee)s, %(conference)s, %(line)s, %(used)s, "
    "'ok', '', %(client_id)s, now(), 'Lunch', %(staff)s, NULL, 'CODE', "
    "%(versions)s::bigint[], %(records)s::bigint[])"
)
ADMIT = (
    "SELECT outcome FROM station_admit(%(attendee)s, %(conference)s, 'ticket', %(ticket)s, 'in', "
    "NULL, 'ok', %(client_id)s, now(), 'Door', %(staff)s, 'CODE', "
    "%(versions)s::bigint[], %(records)s::bigint[])"
)
# A premise no row has: the statement that reads what it is compared with still runs.
STALE_VERSIONS = {"versions": "{0}", "records": None}
STALE_RECORDS = {"versions": None, "records": "{-1,-1,-1,-1}"}
NO_PREMISE = {"versions": None, "records": None}
CALLS_BEFORE_KEPT = 6  # five custom plans, then the cache decides


@contextmanager
def explained(conn: Connection) -> Iterator[list[str]]:
    """The plan of every statement run inside a function, as auto_explain logs it."""
    plans: list[str] = []
    driver: Any = conn.connection.driver_connection
    driver.add_notice_handler(lambda notice: plans.append(str(notice.message_primary)))
    conn.exec_driver_sql("LOAD 'auto_explain'")
    for setting in ("log_min_duration = 0", "log_nested_statements = on", "log_level = notice"):
        conn.exec_driver_sql(f"SET auto_explain.{setting}")
    yield plans


def made_for_the_call(plans: list[str], values: set[int]) -> list[str]:
    """The nested plans that compare a column with one of the call's values."""
    made = []
    for plan in plans:
        conditions = [line for line in plan.splitlines() if "Cond:" in line or "Filter:" in line]
        for line in conditions:
            if any(re.search(rf"[=<>] {value}\b", line) for value in values):
                made.append(plan)
                break
    return made


def call(conn: Connection, sql: str, **params: Any) -> str:
    return str(conn.exec_driver_sql(sql, {"client_id": uuid.uuid4(), **params}).scalar())


def test_every_statement_of_a_guarded_write_keeps_its_plan(database: TestDatabase) -> None:
    conf = ConferenceBuilder(database.sessions)
    staff = conf.staff("Ana")
    for name in ("one", "two"):  # ids unlike the conference's and the staff member's
        conf.ticket_type(name)
        conf.attendee(ticket=name)
    ticket = conf.ticket_type("general")
    person = conf.attendee(addons={"lunch": 20})
    with database.engine.begin() as conn:  # a daily limit: the write counts today's units
        conn.exec_driver_sql("UPDATE addon SET daily_limit = 50 WHERE slug = 'lunch'")
    ids = {"attendee": person.attendee_id, "conference": conf.conference_id, "staff": staff}
    line = person.line_items["lunch"]
    values = {person.attendee_id, line, ticket}
    assert not values & {conf.conference_id, staff}
    with database.engine.connect() as conn, explained(conn) as plans:
        for round_ in range(CALLS_BEFORE_KEPT + 1):
            plans.clear()
            for premise in (STALE_VERSIONS, STALE_RECORDS):
                assert call(conn, CHECK_IN, first=round_ == 0, **premise, **ids) == "stale"
                assert call(conn, REDEEM, line=line, used=round_, **premise, **ids) == "stale"
                assert call(conn, ADMIT, ticket=ticket, **premise, **ids) == "stale"
            assert call(conn, CHECK_IN, first=round_ == 0, **NO_PREMISE, **ids) == "ok"
            assert call(conn, REDEEM, line=line, used=round_, **NO_PREMISE, **ids) == "ok"
            assert call(conn, ADMIT, ticket=ticket, **NO_PREMISE, **ids) == "ok"
        conn.rollback()
    premises = [plan for plan in plans if "array_agg(v.seq" in plan or "FROM scan_void s" in plan]
    assert len(premises) == 6, plans  # each function's two premise reads were explained
    assert made_for_the_call(plans, values) == []


# A morning of other people's records, in each table the records premise reads.
OTHERS = {
    "product_redemption": "INSERT INTO product_redemption (client_id, attendee_id,"
    " order_line_item_id, conference_id, redeemed_at, station, note)"
    " SELECT gen_random_uuid(), 100000 + n, 100000 + n, %(conference)s, now(), 'x', ''"
    " FROM generate_series(1, 1000) AS n",
    "door_check": "INSERT INTO door_check (client_id, attendee_id, conference_id,"
    " ticket_type_id, checked_at, station, direction)"
    " SELECT gen_random_uuid(), 100000 + n, %(conference)s, 100000 + n, now(), 'x', 'in'"
    " FROM generate_series(1, 1000) AS n",
    "scan_void": "INSERT INTO scan_void (client_id, conference_id, attendee_id,"
    " record_kind, record_id, station, reason, voided_at)"
    " SELECT gen_random_uuid(), %(conference)s, 100000 + n, 'checkin', 100000 + n, 'x',"
    " '', now() FROM generate_series(1, 1000) AS n",
}


@pytest.mark.parametrize("table", sorted(OTHERS))
def test_the_records_premise_finds_an_attendees_records_by_index(
    database: TestDatabase, table: str
) -> None:
    """A plan is kept from a station's sixth scan on and made again only when an ANALYZE
    (autovacuum's, as a table grows) changes the table's statistics, so it must not read a
    whole record table: at a thousand redemptions the premise once scanned them all
    (migration 0023). The premise also asks for the newest door scan and void."""
    conf = ConferenceBuilder(database.sessions)
    staff = conf.staff("Ana")
    for _ in range(30):  # orders of a ticket and two add-ons, as the benchmark's
        conf.attendee(addons={"lunch": 1, "voucher": 3})
    person = conf.attendee(addons={"lunch": 20, "voucher": 3})
    line = person.line_items["lunch"]
    with database.engine.begin() as conn:
        conn.exec_driver_sql(OTHERS[table], {"conference": conf.conference_id})
        conn.exec_driver_sql(f"ANALYZE {table}")
        conn.exec_driver_sql("ANALYZE order_line_item")
    ids = {"attendee": person.attendee_id, "conference": conf.conference_id, "staff": staff}
    with database.engine.connect() as conn, explained(conn) as plans:
        for round_ in range(CALLS_BEFORE_KEPT + 1):
            plans.clear()
            assert call(conn, CHECK_IN, first=round_ == 0, **STALE_RECORDS, **ids) == "stale"
            assert call(conn, REDEEM, line=line, used=0, **STALE_RECORDS, **ids) == "stale"
        conn.rollback()
    premises = [plan for plan in plans if "FROM scan_void s" in plan]
    assert len(premises) == 2, plans
    assert all(table in plan for plan in premises), premises
    assert not [plan for plan in premises if f"Seq Scan on {table}" in plan], premises


def test_a_meal_write_runs_one_statement_per_step(database: TestDatabase) -> None:
    """Every statement PL/pgSQL runs costs a snapshot and an executor start beside its work;
    0024 reads the checks with the lock, both premises together and the daily limit with the
    line, and writes the redemption and its log row in one statement."""
    conf = ConferenceBuilder(database.sessions)
    staff = conf.staff("Ana")
    person = conf.attendee(addons={"lunch": 5})
    with database.engine.begin() as conn:  # a daily limit: the write counts today's units
        conn.exec_driver_sql("UPDATE addon SET daily_limit = 50 WHERE slug = 'lunch'")
    ids = {"attendee": person.attendee_id, "conference": conf.conference_id, "staff": staff}
    line = person.line_items["lunch"]
    with database.engine.connect() as conn, explained(conn) as plans:
        plans.clear()
        assert call(conn, REDEEM, line=line, used=0, **NO_PREMISE, **ids) == "ok"
        written = [plan for plan in plans if "station_redeem_line(" not in plan]
        plans.clear()
        assert call(conn, REDEEM, line=line, used=1, **STALE_RECORDS, **ids) == "stale"
        stale = [plan for plan in plans if "station_redeem_line(" not in plan]
        conn.rollback()
    # the lock with the checks; the line, its units and its limit; today's units; the write
    assert len(written) == 4, written
    assert "INSERT INTO scan_log" in written[-1] and "INSERT INTO product_redemption" in written[-1]
    assert len(stale) == 3, stale  # the lock with the checks; both premises; the answer
