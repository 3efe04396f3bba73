"""Deciding on the snapshot first against reading first: alternated, one connection.

Not a test: it prints figures. The PostgreSQL store reads a scan's facts, lets the
rule book decide and sends the guarded write: two round trips. With the snapshot
first (``station.offline.first``, a PostgreSQL station's default with offline mode
on) the first try's facts come from the station's snapshot and only the write goes
to the server, with its premises (records seen and row versions, migration 0020).
Both run in alternating blocks on one connection, in one process, against one
seeded conference, so the machine's drift falls on both.

    python benchmarks/snapshot_first.py [--url ...] [--attendees 30000] [--scans 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from station import heap
from station.bench.pg_bench import CTX, DEFAULT_URL, Attendees, codes, cpu_probe, machine
from station.bench.pg_seed import CONFERENCE, drop_schema, fresh_attendees, fresh_schema, seed
from station.db import make_engine, make_session_factory
from station.models import utcnow
from station.offline.first import SnapshotFirstStore
from station.offline.snapshot import Snapshot
from station.offline.sync import SnapshotSync
from station.services.checkin import CheckInService
from station.services.redemption import RedemptionService
from station.services.store_pg import PgStore

FLOWS = ("check-in", "meal redeem")


class Station:
    def __init__(self, checkin: CheckInService, redemption: RedemptionService) -> None:
        self.checkin = checkin
        self.redemption = redemption

    def scan(self, flow: str, code: str) -> None:
        if flow == "check-in":
            self.checkin.check_in(CTX, code)
        else:
            self.redemption.redeem_product(CTX, code, product="lunch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--attendees", type=int, default=30_000)
    parser.add_argument("--scans", type=int, default=500, help="scans per flow per block")
    parser.add_argument("--runs", type=int, default=6, help="alternating blocks per variant")
    args = parser.parse_args(argv)
    schema = f"station_bench_{uuid.uuid4().hex[:6]}"
    work = Path(tempfile.mkdtemp(prefix="station-snapshot-first-"))
    try:
        settings = fresh_schema(args.url, schema)
        engine = make_engine(settings)
        print(f"machine: {machine(engine)}; load: {os.getloadavg()[0]:.2f}")
        seed(engine, args.attendees)
        attendees = Attendees(fresh_attendees(args.attendees))
        snapshot = Snapshot(work / "snapshot.sqlite3")
        filled = SnapshotSync(engine, snapshot, CONFERENCE).fill()
        print(f"snapshot: {filled.attendees:,} attendees in {filled.seconds:.1f} s")
        sessions = make_session_factory(engine)
        today = Station(CheckInService(sessions), RedemptionService(sessions))
        first = SnapshotFirstStore(
            PgStore(engine, utcnow), snapshot, utcnow, max_age=timedelta(hours=1)
        )
        prototype = Station(
            CheckInService(sessions, store=first), RedemptionService(sessions, store=first)
        )
        variants = {"today (read, then write)": today, "snapshot first (write)": prototype}
        for station in variants.values():  # warm-up: connect, prepare
            for flow in FLOWS:
                for i in attendees.take(20):
                    station.scan(flow, codes(flow, [i])[0])
        heap.settle()
        per_scan: dict[tuple[str, str], list[float]] = {}
        probe = cpu_probe()
        for run in range(args.runs):
            order = list(variants.items())
            if run % 2:
                order.reverse()
            for name, station in order:
                for flow in FLOWS:
                    scanned = codes(flow, attendees.take(args.scans))
                    started = time.perf_counter()
                    for code in scanned:
                        station.scan(flow, code)
                    per_scan.setdefault((name, flow), []).append(
                        (time.perf_counter() - started) / len(scanned)
                    )
        print(
            f"{args.runs} alternating blocks x {args.scans} scans per flow, one connection; "
            f"CPU probe {probe:.0f} / {cpu_probe():.0f} ms; snapshot first: "
            f"{first.first_tries_recorded} of {first.first_tries} first tries recorded"
        )
        print(f"{'flow':<14}{'variant':<28}{'median ms/scan':>16}   blocks (ms)")
        names = list(variants)
        for flow in FLOWS:
            for name in names:
                runs = per_scan[(name, flow)]
                shown = " ".join(f"{r * 1000:.2f}" for r in runs)
                print(f"{flow:<14}{name:<28}{statistics.median(runs) * 1000:>16.3f}   {shown}")
            pairs = [
                a / b
                for a, b in zip(per_scan[(names[0], flow)], per_scan[(names[1], flow)], strict=True)
            ]
            shown = " ".join(f"{r:.2f}" for r in pairs)
            label = "speed-up (today / first)"
            print(f"{flow:<14}{label:<28}{statistics.median(pairs):>16.2f}   {shown}")
        engine.dispose()
    finally:
        drop_schema(args.url, schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
