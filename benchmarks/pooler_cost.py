"""What ``[database] pooler = "pgbouncer"`` costs one station: no prepared statements.

Not a test: it prints figures. Behind PgBouncer in transaction pooling mode psycopg
must not prepare statements (``prepare_threshold=None``), so the server plans every
scan's statement again. This seeds a conference, then times the one-connection hot
path (check-in, meal redeem) on a direct connection with the station's prepared
statements (``prepare_threshold=2``) and without them, in alternating runs so a
shared machine's drift falls on both, each with the facts read as the plain
statement and through its PL/pgSQL function (migration 0018, whose plan the server
keeps). All variants connect directly, so the figures are the planning cost alone,
not PgBouncer's extra hop.

    python benchmarks/pooler_cost.py [--url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import statistics
import uuid
from dataclasses import replace
from functools import partial

from station import heap
from station.bench.pg_bench import DEFAULT_URL, Attendees, Flows, codes, cpu_probe, machine, timed
from station.bench.pg_seed import drop_schema, fresh_attendees, fresh_schema, seed
from station.db import make_engine
from station.services.store_pg import PgStore

FLOWS = ("check-in", "meal redeem")
# name -> (prepare_threshold, facts read through its function)
VARIANTS = {
    "prepared, plain facts": (2, False),
    "prepared, facts function": (2, True),
    "unprepared, plain facts": (None, False),
    "unprepared, facts function": (None, True),
}
RATIOS = (
    ("unprepared / prepared, plain", "unprepared, plain facts", "prepared, plain facts"),
    ("function / plain, unprepared", "unprepared, facts function", "unprepared, plain facts"),
    ("function / plain, prepared", "prepared, facts function", "prepared, plain facts"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--attendees", type=int, default=40_000)
    parser.add_argument("--scans", type=int, default=400, help="scans per flow per run")
    parser.add_argument("--runs", type=int, default=6, help="alternating runs per variant")
    args = parser.parse_args(argv)
    schema = f"station_bench_{uuid.uuid4().hex[:6]}"
    try:
        settings = fresh_schema(args.url, schema)
        engines = {
            name: make_engine(replace(settings, prepare_threshold=threshold))
            for name, (threshold, _function) in VARIANTS.items()
        }
        first = next(iter(engines.values()))
        print(f"machine: {machine(first)}; load: {os.getloadavg()[0]:.2f}")
        seed(first, args.attendees)
        attendees = Attendees(fresh_attendees(args.attendees))
        flows = {name: Flows(engine) for name, engine in engines.items()}
        for name, station in flows.items():
            for service in (station.checkin, station.redemption):
                store = service._store
                assert isinstance(store, PgStore)
                store.facts_in_functions = VARIANTS[name][1]
        for station in flows.values():  # warm-up: connect, and prepare where it does
            for flow in FLOWS:
                for i in attendees.take(20):
                    station.scan(flow, codes(flow, [i])[0])
        heap.settle()
        per_scan: dict[tuple[str, str], list[float]] = {}
        probe = cpu_probe()
        for run in range(args.runs):
            order = list(flows.items())
            if run % 2:
                order.reverse()
            for name, station in order:
                for flow in FLOWS:
                    t = timed(
                        flow, partial(station.scan, flow), codes(flow, attendees.take(args.scans))
                    )
                    per_scan.setdefault((name, flow), []).append(t.wall / len(t.latencies))
        print(
            f"{args.runs} alternating runs x {args.scans} scans per flow, one connection, "
            f"hot path; CPU probe {probe:.0f} / {cpu_probe():.0f} ms"
        )
        print(f"{'flow':<14}{'variant':<34}{'median ms/scan':>16}   runs (ms)")
        for flow in FLOWS:
            for name in VARIANTS:
                runs = per_scan[(name, flow)]
                shown = " ".join(f"{r * 1000:.2f}" for r in runs)
                print(f"{flow:<14}{name:<34}{statistics.median(runs) * 1000:>16.3f}   {shown}")
            for label, a, b in RATIOS:
                pairs = [
                    x / y for x, y in zip(per_scan[(a, flow)], per_scan[(b, flow)], strict=True)
                ]
                shown = " ".join(f"{r:.2f}" for r in pairs)
                print(f"{flow:<14}{label:<34}{statistics.median(pairs):>16.2f}   {shown}")
        for engine in engines.values():
            engine.dispose()
    finally:
        drop_schema(args.url, schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
