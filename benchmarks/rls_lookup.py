"""What row-level security costs a station's lookup: the same reads as a station role, with
and without the policies of migration 0010, and with other forms of the policy.

    python benchmarks/rls_lookup.py --url postgresql://postgres@127.0.0.1:5432/test

Seeds a throw-away schema with two conferences of ``--attendees`` each (the
bench seed, copied as a second conference), grants a station role bound to the
first, and times lookups by access code as that role, on one connection in
autocommit with prepared statements, as the station does:

- ``join``: attendee + person + order + line items by code (one statement);
- ``station``: the station's own lookup statement (``hot_sql.LOOKUP``: the badge
  with ticket, add-ons and their redemptions, check-ins, first check-in).

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
from sqlalchemy import text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from station.bench.pg_seed import access_code, drop_schema, fresh_schema, seed  # noqa: E402
from station.db import make_engine  # noqa: E402
from station.db_roles import grant_station_role  # noqa: E402
from station.services import hot_sql  # noqa: E402

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


def _forms() -> dict[str, dict[str, str] | None]:
    """Policy form -> table -> expression (None: row-level security off)."""

    def with_bound(bound: str) -> dict[str, str]:
        same = f"conference_id = {bound}"
        return {
            "attendee": same,
            '"order"': same,
            "order_line_item": f'EXISTS (SELECT 1 FROM "order" o WHERE o.id = order_id '
            f"AND o.conference_id = {bound})",
            "person": f"EXISTS (SELECT 1 FROM attendee a WHERE a.person_id = person.id "
            f'AND a.conference_id = {bound}) OR EXISTS (SELECT 1 FROM "order" o '
            f"WHERE o.person_id = person.id AND o.conference_id = {bound})",
            "check_in": same,
            "door_check": same,
            "product_redemption": same,
            "scan_log": same,
        }

    return {
        "off": None,
        # Migration 0010: the function once per statement and table (an InitPlan).
        "initplan": with_bound("(SELECT station_role_conference_id(current_user))"),
        # The same function in the expression itself: called per row it filters.
        "function": with_bound("station_role_conference_id(current_user)"),
        # For comparison only, NOT safe: a session can SET its own station.conference_id.
        "setting": with_bound("current_setting('station.conference_id')::integer"),
    }


def _apply(admin: psycopg.Connection[tuple[object, ...]], form: dict[str, str] | None) -> None:
    for table in TABLES:
        admin.execute(f"DROP POLICY IF EXISTS station_conference ON {table}")
        if form is None:
            admin.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        else:
            admin.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            admin.execute(f"CREATE POLICY station_conference ON {table} USING ({form[table]})")


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
    admin.execute("ANALYZE")


_JOIN = """
SELECT a.id, a.access_code, a.checked_in_at, p.first_name, p.last_name, p.email,
       o.status, o.reference, li.id AS line_id, li.quantity, li.addon_id, li.ticket_type_id
  FROM attendee a
  JOIN person p ON p.id = a.person_id
  LEFT JOIN "order" o ON o.id = a.order_id
  LEFT JOIN order_line_item li ON li.order_id = o.id
 WHERE a.conference_id = %(conference_id)s AND a.access_code = %(code)s
"""


def _time_block(
    conn: psycopg.Connection[tuple[object, ...]],
    sql: str,
    params: list[dict[str, object]],
    expect_rows: bool,
) -> list[float]:
    times = []
    for p in params:
        started = time.perf_counter()
        rows = conn.execute(sql, p, prepare=True).fetchall()
        times.append(time.perf_counter() - started)
        if expect_rows and not rows:
            raise SystemExit(f"no row for {p}: the policy hides the station's own conference")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--attendees", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--blocks", type=int, default=5)
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
        station = psycopg.connect(
            plain.set(username=role, password=None).render_as_string(hide_password=False),
            options=f"-c search_path={schema} -c station.conference_id=1",
            autocommit=True,
        )
        station_sql = hot_sql.for_psycopg(hot_sql.LOOKUP)
        rng = random.Random(7)
        forms = _forms()
        results: dict[tuple[str, str], list[float]] = {}
        for block in range(args.blocks):
            order = list(forms)
            rng.shuffle(order)
            for name in order:
                _apply(admin, forms[name])
                codes = [access_code(rng.randint(1, args.attendees)) for _ in range(args.lookups)]
                joined = [{"conference_id": 1, "code": c} for c in codes]
                looked = [{"conference": "bench-con", "code": c, "refusals": "{}"} for c in codes]
                # Warm-up: plans made again after the policy change, caches filled.
                _time_block(station, _JOIN, joined[:50], True)
                _time_block(station, station_sql, looked[:50], False)
                results.setdefault((name, "join"), []).extend(
                    _time_block(station, _JOIN, joined, True)
                )
                results.setdefault((name, "station"), []).extend(
                    _time_block(station, station_sql, looked, False)
                )
            print(f"block {block + 1}/{args.blocks} done", file=sys.stderr)
        # Another conference's badge is not found as the role (the policy holds).
        _apply(admin, forms["initplan"])
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
        for statement in ("join", "station"):
            base = statistics.median(results[("off", statement)])
            for name in forms:
                times = results[(name, statement)]
                median = statistics.median(times)
                mean = statistics.fmean(times)
                print(
                    f"{statement:8} {name:9} median {median * 1e6:7.1f} us  "
                    f"mean {mean * 1e6:7.1f} us  vs off {100 * (median / base - 1):+5.1f} %"
                )
    finally:
        engine.dispose()
        with make_engine(settings.__class__(url=args.url)).begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        drop_schema(args.url, schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
