"""What row-level security costs a station's lookup: the same reads as a station role, with
and without the policies of migration 0007, and with other forms of the policy.

    python benchmarks/rls_lookup.py --url postgresql://postgres@127.0.0.1:5432/test

Seeds a throw-away schema with two conferences of ``--attendees`` each (the
bench seed, copied as a second conference), grants a station role bound to the
first, and times lookups by access code as that role, on one connection in
autocommit with prepared statements, as the station does:

- ``join``: attendee + person + order + line items by code (one statement);
- ``station``: the station's own lookup statement (``hot_sql.LOOKUP``: the badge
  with ticket, add-ons and their redemptions, check-ins, first check-in);
- ``search``: the search for a lost badge by part of a name (a fortieth as many).

Each policy form is run in alternated blocks (``--blocks`` rounds of every form,
``--lookups`` each) and the median per lookup over all its lookups is reported,
with the difference to no policy. The role and the schema are dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from station.bench.pg_seed import access_code, drop_schema, fresh_schema, seed
from station.db import make_engine
from station.db_roles import CONFERENCE_POLICIES, grant_station_role
from station.services import hot_sql

TABLES = (
    "attendee",
    '"order"',
    "order_line_item",
    "person",
    "check_in",
    "door_check",
    "product_redemption",
    "scan_log",
)


# Only for the comparison: the look-up forms need the role's conference somewhere.
_LOOKUP_SETUP = """
CREATE TABLE bench_role_conference (role_name name PRIMARY KEY, conference_id integer);
INSERT INTO bench_role_conference VALUES ('0007', 1);
GRANT SELECT ON bench_role_conference TO "0007";
CREATE FUNCTION bench_role_conference_id(p_role name) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
    SELECT b.conference_id FROM bench_role_conference b WHERE b.role_name = p_role
$$;
GRANT EXECUTE ON FUNCTION bench_role_conference_id(name) TO "0007";
"""


def _forms() -> dict[str, dict[str, str] | None]:
    """Policy form -> table -> expression (None: row-level security off; {}: as granted)."""

    def with_bound(bound: str) -> dict[str, str]:
        return {
            table.strip('"'): expression.replace("@S@.", "").replace("%s", bound)
            for table, expression in CONFERENCE_POLICIES.items()
        }

    return {
        "off": None,
        # What station.db_roles grants: the conference's id a constant in the role's policies.
        "granted": {},
        # The granted form with IN (SELECT ...) for person and line items, which the
        # planner may run as a hashed subplan (the whole conference read once per statement).
        "in": {
            **with_bound("1"),
            "order_line_item": 'order_id IN (SELECT o.id FROM "order" o WHERE o.conference_id = 1)',
            "person": "id IN (SELECT a.person_id FROM attendee a WHERE a.conference_id = 1)",
        },
        # What a conference_id column on order_line_item would give (the bench adds one,
        # bench_conference_id, to its own throw-away schema): a flat filter for line items.
        "line_column": {**with_bound("1"), "order_line_item": "bench_conference_id = 1"},
        # A look-up in a table, once per statement and table (an InitPlan).
        "table": with_bound(
            "(SELECT b.conference_id FROM bench_role_conference b WHERE b.role_name = current_user)"
        ),
        # The same through a SECURITY DEFINER function (so the role needs no right to the
        # table), once per statement and table.
        "function": with_bound("(SELECT bench_role_conference_id(current_user))"),
        # For the breakdown only, NOT what is granted: the granted form with person or line
        # items (or both) open to every conference, i.e. without their per-row EXISTS.
        "open_person": {**with_bound("1"), "person": "true"},
        "open_lines": {**with_bound("1"), "order_line_item": "true"},
        "flat": {**with_bound("1"), "person": "true", "order_line_item": "true"},
        # For comparison only, NOT safe: a session can SET its own station.conference_id.
        "setting": with_bound("current_setting('station.conference_id')::integer"),
    }


def _apply(
    admin: psycopg.Connection[tuple[object, ...]],
    engine: Engine,
    role: str,
    schema: str,
    form: dict[str, str] | None,
) -> None:
    policies = admin.execute(
        "SELECT p.polname, c.relname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
        "WHERE c.relnamespace = %s::regnamespace",
        (schema,),
    ).fetchall()
    for policy, table in policies:
        admin.execute(f'DROP POLICY "{policy}" ON "{table}"')
    for table in TABLES:
        if form is None:
            admin.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        else:
            admin.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            if form:
                visible = form[table.strip('"')]
                admin.execute(f'CREATE POLICY bench ON {table} TO "{role}" USING ({visible})')
    if form == {}:
        grant_station_role(engine, role, "bench-con", schema)
        # The grant starts from nothing: give the comparison's table back.
        admin.execute(f'GRANT SELECT ON bench_role_conference TO "{role}"')


def _second_conference(admin: psycopg.Connection[tuple[object, ...]], n: int) -> None:
    """Conference 2: a copy of conference 1's people, orders and badges."""
    admin.execute("SET statement_timeout = 0")
    admin.execute(
        "INSERT INTO conference (id, slug, name, timezone) VALUES (2, 'other-con', 'Other', 'UTC')"
    )
    admin.execute(
        "INSERT INTO person (id, username, first_name, last_name, email) "
        f"SELECT id + {n}, 'o' || username, first_name, last_name, email FROM person"
    )
    admin.execute(
        'INSERT INTO "order" (id, conference_id, person_id, reference, status) '
        f'SELECT id + {n}, 2, person_id + {n}, reference, status FROM "order"'
    )
    admin.execute(
        "INSERT INTO order_line_item (id, order_id, description, quantity, ticket_type_id, "
        f"addon_id) SELECT id + {3 * n}, order_id + {n}, description, quantity, ticket_type_id, "
        "addon_id FROM order_line_item"
    )
    admin.execute(
        "INSERT INTO attendee (id, person_id, conference_id, order_id, access_code, "
        f"checked_in_at, created_at, updated_at) SELECT id + {n}, person_id + {n}, 2, "
        f"order_id + {n}, 'X' || access_code, checked_in_at, created_at, updated_at FROM attendee"
    )
    admin.execute("ALTER TABLE order_line_item ADD COLUMN bench_conference_id integer")
    admin.execute(
        'UPDATE order_line_item li SET bench_conference_id = o.conference_id FROM "order" o '
        "WHERE o.id = li.order_id"
    )
    admin.execute("VACUUM ANALYZE")


_JOIN = """
SELECT a.id, a.access_code, a.checked_in_at, p.first_name, p.last_name, p.email,
       o.status, o.reference, li.id AS line_id, li.quantity, li.addon_id, li.ticket_type_id
  FROM attendee a
  JOIN person p ON p.id = a.person_id
  LEFT JOIN "order" o ON o.id = a.order_id
  LEFT JOIN order_line_item li ON li.order_id = o.id
 WHERE a.conference_id = %(conference_id)s AND a.access_code = %(code)s
"""


# The station's search for a lost badge (CheckInService.search_attendees), as SQL.
_SEARCH = """
SELECT a.id, a.access_code, a.order_id, p.first_name, p.last_name, p.username, p.email
  FROM attendee a JOIN person p ON p.id = a.person_id
 WHERE a.conference_id = %(conference_id)s
   AND ((p.first_name || ' ' || p.last_name) ILIKE %(pattern)s
        OR p.email ILIKE %(pattern)s OR p.username ILIKE %(pattern)s
        OR a.access_code ILIKE %(pattern)s)
 ORDER BY p.last_name, p.first_name, a.id
 LIMIT 20
"""


def _backend_cpu_ns(pid: int) -> int | None:
    """CPU time the server process has run, when the server is on this machine (Linux)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _buffers(
    conn: psycopg.Connection[tuple[object, ...]], sql: str, params: list[dict[str, object]]
) -> float:
    """Shared buffers touched per statement (EXPLAIN ANALYZE): the work, without the noise."""
    touched = []
    for p in params:
        plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, p).fetchone()
        assert plan is not None
        top = plan[0][0]["Plan"]  # type: ignore[index]
        touched.append(top["Shared Hit Blocks"] + top["Shared Read Blocks"])
    return statistics.fmean(touched)


def _time_block(
    conn: psycopg.Connection[tuple[object, ...]],
    sql: str,
    params: list[dict[str, object]],
    expect_rows: bool,
) -> tuple[list[float], float | None]:
    """Each lookup's time at the client, and the server's CPU time per lookup."""
    pid = conn.info.backend_pid
    times = []
    cpu_before = _backend_cpu_ns(pid)
    for p in params:
        started = time.perf_counter()
        rows = conn.execute(sql, p, prepare=True).fetchall()
        times.append(time.perf_counter() - started)
        if expect_rows and not rows:
            raise SystemExit(f"no row for {p}: the policy hides the station's own conference")
    cpu_after = _backend_cpu_ns(pid)
    if cpu_before is None or cpu_after is None:
        return times, None
    return times, (cpu_after - cpu_before) / 1e9 / len(params)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--attendees", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--forms", nargs="*", help="only these forms (off is always run)")
    parser.add_argument(
        "--options", default="", help='more settings for the station, e.g. "-c jit=off"'
    )
    args = parser.parse_args(argv)
    schema = f"rls_bench_{uuid.uuid4().hex[:8]}"
    role = f"station_rls_{uuid.uuid4().hex[:8]}"
    settings = fresh_schema(args.url, schema)
    engine = make_engine(settings)
    plain = make_url(args.url).set(drivername="postgresql")
    try:
        seed(engine, args.attendees, history=0.2)
        admin = psycopg.connect(
            plain.render_as_string(hide_password=False),
            options=f"-c search_path={schema}",
            autocommit=True,
        )
        _second_conference(admin, args.attendees)
        grant_station_role(engine, role, "bench-con", schema)
        admin.execute(_LOOKUP_SETUP.replace("0007", role).replace("@SCHEMA@", f'"{schema}"'))
        station = psycopg.connect(
            plain.set(username=role, password=None).render_as_string(hide_password=False),
            options=f"-c search_path={schema} -c station.conference_id=1 {args.options}",
            autocommit=True,
        )
        station_sql = hot_sql.for_psycopg(hot_sql.LOOKUP)
        rng = random.Random(7)
        forms = {
            name: form
            for name, form in _forms().items()
            if not args.forms or name in args.forms or name in ("off", "granted")
        }
        results: dict[tuple[str, str], list[float]] = {}
        server: dict[tuple[str, str], list[float]] = {}
        buffers: dict[tuple[str, str], float] = {}
        for block in range(args.blocks):
            order = list(forms)
            rng.shuffle(order)
            for name in order:
                _apply(admin, engine, role, schema, forms[name])
                codes = [access_code(rng.randint(1, args.attendees)) for _ in range(args.lookups)]
                joined = [{"conference_id": 1, "code": c} for c in codes]
                looked = [{"conference": "bench-con", "code": c, "refusals": "{}"} for c in codes]
                # Warm-up: plans made again after the policy change, caches filled.
                _time_block(station, _JOIN, joined[:50], True)
                _time_block(station, station_sql, looked[:50], False)
                searched = [
                    {"conference_id": 1, "pattern": f"%lovelace {rng.randint(100, 999)}%"}
                    for _ in range(max(args.lookups // 40, 5))
                ]
                _time_block(station, _SEARCH, searched[:2], True)
                for statement, sql, params, expect in (
                    ("join", _JOIN, joined, True),
                    ("station", station_sql, looked, False),
                    ("search", _SEARCH, searched, True),
                ):
                    if block == 0:
                        buffers[(name, statement)] = _buffers(station, sql, params[:20])
                    times, cpu = _time_block(station, sql, params, expect)
                    results.setdefault((name, statement), []).extend(times)
                    if cpu is not None:
                        server.setdefault((name, statement), []).append(cpu)
            print(f"block {block + 1}/{args.blocks} done", file=sys.stderr)
        # Another conference's badge is not found as the role (the policy holds).
        _apply(admin, engine, role, schema, forms["granted"])
        hidden = station.execute(
            _JOIN, {"conference_id": 2, "code": "X" + access_code(1)}, prepare=True
        ).fetchall()
        assert hidden == [], "another conference's badge was found"
        station.close()
        admin.close()
        print(
            f"{args.attendees} attendees per conference, 2 conferences; "
            f"{args.blocks} alternated blocks x {args.lookups} lookups per form"
        )
        print(
            "per lookup: client median (vs off) | server CPU, median of the blocks (vs off) "
            "| shared buffers touched"
        )
        for statement in ("join", "station", "search"):
            base = statistics.median(results[("off", statement)])
            base_cpu = statistics.median(server.get(("off", statement), [0.0]))
            for name in forms:
                median = statistics.median(results[(name, statement)])
                line = (
                    f"{statement:8} {name:11} {median * 1e6:7.1f} us "
                    f"({100 * (median / base - 1):+6.1f} %)"
                )
                if server.get((name, statement)) and base_cpu:
                    cpu = statistics.median(server[(name, statement)])
                    line += f" | {cpu * 1e6:6.1f} us ({100 * (cpu / base_cpu - 1):+6.1f} %)"
                line += f" | {buffers[(name, statement)]:5.1f}"
                print(line)
    finally:
        engine.dispose()
        with make_engine(settings.__class__(url=args.url)).begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        drop_schema(args.url, schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
