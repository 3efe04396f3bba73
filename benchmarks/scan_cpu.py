"""What one scan costs the station itself: wall time and CPU time per scan, one connection.

Not a test: it prints figures. On loopback a scan decided on the snapshot waits about as
long for PostgreSQL as the code before the rule book did; what differs is the station's
own work (reading its copy, the rule book's facts, decision and answer), which CPU time
shows apart from the wait. For a count that does not move with the machine's load, run
it twice under callgrind with different ``--scans`` and divide the difference in
instructions by the difference in scans (the set-up is the same in both runs):

    python benchmarks/scan_cpu.py [--flow check-in|meal] [--path first|read] [--scans 2000]
    python benchmarks/scan_cpu.py --delay-ms 1   # through a proxy adding 1 ms each way
    valgrind --tool=callgrind python benchmarks/scan_cpu.py --attendees 2000 --scans 200
    valgrind --tool=callgrind python benchmarks/scan_cpu.py --attendees 2000 --scans 700
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from station import heap
from station.bench.pg_bench import CTX, DEFAULT_URL, Attendees, codes, proxied
from station.bench.pg_seed import CONFERENCE, drop_schema, fresh_attendees, fresh_schema, seed
from station.bench.tcp_proxy import running_proxy
from station.db import DatabaseSettings, make_engine, make_session_factory
from station.models import utcnow
from station.offline.first import SnapshotFirstStore
from station.offline.snapshot import Snapshot
from station.offline.sync import SnapshotSync
from station.services.checkin import CheckInService
from station.services.redemption import RedemptionService
from station.services.store_pg import PgStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--attendees", type=int, default=12_000)
    parser.add_argument("--scans", type=int, default=2_000)
    parser.add_argument("--flow", choices=("check-in", "meal"), default="check-in")
    parser.add_argument("--path", choices=("first", "read"), default="first")
    parser.add_argument(
        "--delay-ms", type=float, default=0.0, help="scan through a proxy adding this each way"
    )
    parser.add_argument(
        "--no-hold", action="store_true", help="read each holder from the SQLite copy"
    )
    args = parser.parse_args(argv)
    schema = f"station_bench_{uuid.uuid4().hex[:6]}"
    settings = fresh_schema(args.url, schema)
    try:
        seeding = make_engine(settings)
        seed(seeding, args.attendees)
        seeding.dispose()
        with contextlib.ExitStack() as stack:
            if args.delay_ms:
                real = make_url(settings.url)
                host, port = real.host or "127.0.0.1", real.port or 5432
                proxy = stack.enter_context(running_proxy(host, port, delay_ms=args.delay_ms))
                settings = proxied(settings, proxy.port)
            _run(args, settings)
    finally:
        drop_schema(args.url, schema)
    return 0


def _run(args: argparse.Namespace, settings: DatabaseSettings) -> None:
    engine = make_engine(settings)
    attendees = Attendees(fresh_attendees(args.attendees))
    work = Path(tempfile.mkdtemp(prefix="station-scan-cpu-"))
    try:
        snapshot = Snapshot(work / "s.sqlite3")
        SnapshotSync(engine, snapshot, CONFERENCE).fill()
        if not args.no_hold:
            snapshot.hold()  # as a station's sync does once the copy is filled
        sessions = make_session_factory(engine)
        store = None
        if args.path == "first":
            store = SnapshotFirstStore(
                PgStore(engine, utcnow), snapshot, utcnow, max_age=timedelta(hours=1)
            )
        checkin = CheckInService(sessions, store=store)
        redemption = RedemptionService(sessions, store=store)

        def scan(code: str) -> None:
            if args.flow == "check-in":
                checkin.check_in(CTX, code)
            else:
                redemption.redeem_product(CTX, code, product="lunch")

        flow = "check-in" if args.flow == "check-in" else "meal redeem"
        for code in codes(flow, attendees.take(50)):  # connect, prepare, read the clock
            scan(code)
        heap.settle()
        scanned = codes(flow, attendees.take(args.scans))
        wall, cpu = time.perf_counter(), time.process_time()
        for code in scanned:
            scan(code)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        recorded = (
            f", {store.first_tries_recorded} of {store.first_tries} first tries" if store else ""
        )
        delay = f", RTT +{2 * args.delay_ms:g} ms" if args.delay_ms else ""
        print(
            f"{args.flow}, {args.path}{delay}: {wall / args.scans * 1000:.3f} ms per scan, "
            f"CPU {cpu / args.scans * 1000:.3f} ms per scan ({args.scans} scans{recorded})"
        )
        snapshot.close()
    finally:
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
