"""``station bench rules``: what an event rule costs the scan path, on a real PostgreSQL.

Seeds a conference (COPY, as ``station bench`` does), then on one connection (the hot
path) measures redeem throughput with a per-day cap (``daily_limit``) against the same
redeem without one, for a meal (one unit) and a voucher (three units), and a door whose
room has a capacity against a plain door. The two variants alternate round by round on
fresh attendees, so a shared machine's drift falls on both; the ratio is with/without.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable

from sqlalchemy import Engine, text

from station import heap
from station.bench.pg_bench import (
    CTX,
    DEFAULT_URL,
    Attendees,
    Flows,
    codes,
    cpu_probe,
    header,
    machine,
    timed,
)
from station.bench.pg_seed import done_with_schemas, fresh_attendees, fresh_schema, seed
from station.db import make_engine

# (label, flow scanned, table and id of the product, column, value "with")
PAIRS = (
    ("meal redeem", "meal", "addon", 1, "daily_limit", 1),
    ("voucher redeem", "voucher", "addon", 2, "daily_limit", 1),
    ("door", "door", "ticket_type", 1, "capacity", 1_000_000),
)


def set_rule(engine: Engine, table: str, product: int, column: str, value: int | None) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                     {"v": value, "id": product})  # fmt: skip


def door_history(engine: Engine, attendees: int) -> int:
    """The hall's door already saw the attendees who came: each went in, half went out again.

    A room's count then has a history to walk (or not), and the statistics know it.
    """
    first = fresh_attendees(attendees) + 1
    with engine.begin() as conn:
        for direction, offset, every in (("in", "2 hours", 1), ("out", "1 hour", 2)):
            conn.execute(
                text(
                    "INSERT INTO door_check (client_id, attendee_id, conference_id,"
                    " ticket_type_id, checked_at, station, direction)"
                    " SELECT gen_random_uuid(), a.id, a.conference_id, 1,"
                    f" now() - interval '{offset}' + a.id * interval '1 millisecond',"
                    " 'Hall door', :direction"
                    " FROM attendee a WHERE a.id >= :first AND a.id % :every = 0"
                ),
                {"direction": direction, "first": first, "every": every},
            )
        rows = conn.scalar(text("SELECT count(*) FROM door_check")) or 0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE door_check"))
    return int(rows)


def scanner(flows: Flows, flow: str) -> Callable[[str], None]:
    if flow == "meal":
        return lambda code: flows.scan("meal redeem", code)
    if flow == "voucher":
        return lambda code: flows.scan("voucher (contended)", code)
    return lambda code: flows.scan("door check", code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="station bench rules", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_URL),
        help=f"PostgreSQL server to use (default $STATION_BENCH_DATABASE_URL or {DEFAULT_URL})",
    )
    parser.add_argument("--attendees", type=int, default=40_000, help="conference size (40,000)")
    parser.add_argument("--scans", type=int, default=400, help="scans per variant per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternated rounds per pair")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark schema")
    args = parser.parse_args(argv)

    schema = f"station_bench_rules_{uuid.uuid4().hex[:6]}"
    try:
        settings = fresh_schema(args.url, schema)
        engine = make_engine(settings)
        print(f"machine: {machine(engine)}")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        took = seed(engine, args.attendees)
        attendees = Attendees(fresh_attendees(args.attendees))
        print(f"seeded {args.attendees:,} attendees in {took:.1f} s into schema {schema}")
        print(f"the hall's door has {door_history(engine, args.attendees):,} scans of history")
        flows = Flows(engine)
        for flow in ("meal redeem", "voucher (contended)", "door check"):  # warm-up
            for code in codes(flow, attendees.take(30)):
                flows.scan(flow, code)
        heap.settle()
        probe = cpu_probe()

        header(f"One connection, hot path: {args.rounds} alternated rounds of {args.scans} scans")
        print(f"{'flow':<18}{'without/s':>10}{'with/s':>9}{'p50 ms':>14}{'ratio':>8}")
        for label, flow, table, product, column, value in PAIRS:
            scan = scanner(flows, flow)
            rates: dict[bool, list[float]] = {False: [], True: []}
            p50s: dict[bool, list[float]] = {False: [], True: []}
            ratios = []
            for number in range(args.rounds):
                order = (False, True) if number % 2 == 0 else (True, False)
                got: dict[bool, float] = {}
                for with_rule in order:
                    set_rule(engine, table, product, column, value if with_rule else None)
                    t = timed(label, scan, codes(flow, attendees.take(args.scans)))
                    if t.errors:
                        raise SystemExit(f"{label}: {t.errors} scans refused")
                    got[with_rule] = t.ops
                    rates[with_rule].append(t.ops)
                    p50s[with_rule].append(t.pct(50))
                ratios.append(got[True] / got[False])
            set_rule(engine, table, product, column, None)
            p50 = f"{statistics.median(p50s[False]):.2f}/{statistics.median(p50s[True]):.2f}"
            print(
                f"{label:<18}{statistics.median(rates[False]):>10.0f}"
                f"{statistics.median(rates[True]):>9.0f}{p50:>14}"
                f"{statistics.median(ratios):>8.2f}"
            )
        print("ratio: median over rounds of (with rule)/(without), scans/s; p50 ms without/with")
        print(f"CPU probe before and after: {probe:.0f} / {cpu_probe():.0f} ms; "
              f"load average now {os.getloadavg()[0]:.2f}")  # fmt: skip
        print(f"(station {CTX.station!r}; {time.strftime('%Y-%m-%d %H:%M')})")
        engine.dispose()
    finally:
        done_with_schemas(args.url, [schema], keep=args.keep)
    return 0
