"""Benchmark the station's scan paths on PostgreSQL; prints figures, asserts nothing.

    station bench            # or: python -m station bench
    station bench --million  # adds the 1,000,000-attendee lookup

Seeds its own schemas (dropped afterwards unless --keep), then measures, per
flow, on one connection: round trips per scan (counted on the wire by a TCP
proxy, see station/bench/tcp_proxy.py), scans per second and latency
percentiles; the same with N concurrent station processes, including a
contended run where all of them redeem the same line items at once (and the
number of units oversold, which must be 0); lookup latency at 1k, 100k (and
1M) attendees; and the check-in flow through a proxy that adds venue-network
delay. The naive ORM path (``hot_paths=False``) is measured alongside.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import platform
import shutil
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from station import heap
from station.bench.pg_seed import (
    CONFERENCE,
    access_code,
    done_with_schemas,
    fresh_attendees,
    fresh_schema,
    line_ids,
    seed,
)
from station.bench.tcp_proxy import running_proxy
from station.db import DatabaseSettings, make_engine, make_session_factory
from station.models import utcnow
from station.offline.first import SnapshotFirstStore
from station.offline.snapshot import Snapshot
from station.offline.sync import SnapshotSync
from station.services import CheckInService, RedemptionService
from station.services.errors import StationError
from station.services.results import StationContext
from station.services.store_pg import PgStore

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
CTX = StationContext(CONFERENCE, "Bench desk", 1)


@dataclass
class Timing:
    label: str
    latencies: list[float]  # seconds
    wall: float
    errors: int = 0
    round_trips: float | None = None

    @property
    def ops(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000


# --- one scan of each flow --------------------------------------------------------------


class Flows:
    """The scans a station makes, on one engine; ``hot_paths=False`` is the ORM path; with
    a ``snapshot``, check-ins and meals decide on it first (a PostgreSQL station's default
    with offline mode on, station.offline.first)."""

    def __init__(
        self, engine: Engine, hot_paths: bool | None = None, snapshot: Snapshot | None = None
    ) -> None:
        sessions = make_session_factory(engine)
        store = None
        if snapshot is not None:
            pg = PgStore(engine, utcnow)
            store = SnapshotFirstStore(pg, snapshot, utcnow, max_age=timedelta(days=1))
        self.checkin = CheckInService(sessions, hot_paths=hot_paths, store=store)
        self.redemption = RedemptionService(sessions, hot_paths=hot_paths, store=store)

    def scan(self, flow: str, code: str) -> None:
        if flow == "check-in":
            self.checkin.check_in(CTX, code)
        elif flow == "meal redeem":
            self.redemption.redeem_product(CTX, code, product="lunch")
        elif flow == "door check":
            self.checkin.record_door_check(CTX, code, product="ticket:general")
        elif flow == "unknown code":
            with contextlib.suppress(StationError):
                self.checkin.check_in(CTX, code)
        elif flow == "lookup":
            self.checkin.lookup_attendee(CTX, code)
        elif flow == "voucher (contended)":
            self.redemption.redeem_product(CTX, code, product="voucher")
        else:
            raise ValueError(flow)


FLOWS = ("check-in", "meal redeem", "door check", "unknown code", "lookup")
# What a PostgreSQL station decides on its snapshot first (doors read: station.offline.first).
FIRST_FLOWS = ("check-in", "meal redeem")


def codes(flow: str, indexes: Sequence[int]) -> list[str]:
    """What the scanner would type for these attendees (made before the clock starts)."""
    if flow == "unknown code":
        return [f"NOSUCH{i}" for i in indexes]
    return [access_code(i) for i in indexes]


def timed(label: str, scan: Callable[[str], None], scanned: Sequence[str]) -> Timing:
    latencies = []
    errors = 0
    started = time.perf_counter()
    for code in scanned:
        t0 = time.perf_counter()
        try:
            scan(code)
        except StationError:
            errors += 1
        latencies.append(time.perf_counter() - t0)
    return Timing(label, latencies, time.perf_counter() - started, errors)


class Attendees:
    """Hands out attendees no flow has used yet, so every scan is a first."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.next = 1

    @property
    def left(self) -> int:
        return self.total - self.next + 1

    def enough(self, n: int, section: str) -> bool:
        """Whether ``n`` more are left for ``section``; if not, the run says it skips it."""
        if self.left >= n:
            return True
        print(
            f"skipped: {section} needs {n:,} attendees no flow has used, {self.left:,} are left "
            "(seed more with --attendees)"
        )
        return False

    def take(self, n: int) -> range:
        if self.next + n - 1 > self.total:
            raise SystemExit(f"not enough attendees seeded for {n} more scans")
        taken = range(self.next, self.next + n)
        self.next += n
        return taken


# --- concurrent stations ----------------------------------------------------------------


def _station_process(
    settings: DatabaseSettings,
    flow: str,
    indexes: list[int],
    barrier: Any,
    results: Any,
) -> None:
    engine = make_engine(settings)
    flows = Flows(engine)
    flows.scan("lookup", access_code(indexes[0]))  # connect before the start line
    heap.settle()
    scanned = codes(flow, indexes)
    barrier.wait()
    timing = timed(flow, lambda code: flows.scan(flow, code), scanned)
    results.put((timing.latencies, timing.errors, time.perf_counter()))
    engine.dispose()


def concurrent(
    settings: DatabaseSettings, flow: str, per_station: list[list[int]], label: str
) -> Timing:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(len(per_station) + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_station_process, args=(settings, flow, idx, barrier, results))
        for idx in per_station
    ]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    latencies: list[float] = []
    errors = 0
    ended = started
    for _ in procs:
        got, errs, end = results.get(timeout=600)
        latencies += got
        errors += errs
        ended = max(ended, end)
    for p in procs:
        p.join()
    return Timing(label, latencies, ended - started, errors)


def oversold(engine: Engine, attendee_ids: Sequence[int]) -> tuple[int, int]:
    """(units redeemed, units oversold) over the vouchers of these attendees."""
    vouchers = [line_ids(i)[2] for i in attendee_ids]
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT li.quantity, count(pr.id) AS used FROM order_line_item li "
                "LEFT JOIN product_redemption pr ON pr.order_line_item_id = li.id "
                "WHERE li.id = ANY(:ids) GROUP BY li.id, li.quantity"
            ),
            {"ids": vouchers},
        ).all()
    return sum(r.used for r in rows), sum(max(0, r.used - r.quantity) for r in rows)


# --- round trips ------------------------------------------------------------------------


def proxied(settings: DatabaseSettings, port: int) -> DatabaseSettings:
    url = make_url(settings.url).set(host="127.0.0.1", port=port)
    return replace(settings, url=url.render_as_string(hide_password=False))


def count_round_trips(
    settings: DatabaseSettings,
    attendees: Attendees,
    hot_paths: bool | None,
    snapshot: Snapshot | None = None,
    flows_counted: Sequence[str] = FLOWS,
) -> dict[str, float]:
    real = make_url(settings.url)
    counted: dict[str, float] = {}
    with running_proxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
        engine = make_engine(proxied(settings, proxy.port))
        flows = Flows(engine, hot_paths, snapshot)
        for flow in flows_counted:
            for code in codes(flow, attendees.take(5)):  # warm-up: connect, prepare
                flows.scan(flow, code)
            sample = codes(flow, attendees.take(50))
            before = proxy.round_trips
            for code in sample:
                flows.scan(flow, code)
            counted[flow] = (proxy.round_trips - before) / len(sample)
        engine.dispose()
    return counted


def concurrent_rows(
    settings: DatabaseSettings, engine: Engine, attendees: Attendees, per: int, n_stations: int
) -> None:
    """Each flow from ``n_stations`` processes at once, then all on the same 100 vouchers."""
    if not attendees.enough(3 * per * n_stations + 100, "this section"):
        return
    rows = []
    for flow in ("check-in", "meal redeem", "door check"):
        slices = [list(attendees.take(per)) for _ in range(n_stations)]
        rows.append(concurrent(settings, flow, slices, f"{flow} x{n_stations}"))
    contended = list(attendees.take(100))
    timing = concurrent(
        settings,
        "voucher (contended)",
        [contended] * n_stations,
        f"voucher, all on 100 attendees x{n_stations}",
    )
    rows.append(timing)
    table(rows)
    redeemed, over = oversold(engine, contended)
    print(
        f"contended: {n_stations} stations x 100 attendees with 3 vouchers each: "
        f"{redeemed} redeemed (max {3 * len(contended)}), {timing.errors} refused, "
        f"OVERSOLD: {over}"
    )


def proxied_rows(
    settings: DatabaseSettings, snapshot: Snapshot, attendees: Attendees, delay_ms: float
) -> None:
    """Check-ins and meals through a proxy that delays every packet, as over a venue's network."""
    if not attendees.enough(2 * 5 * 3 + 4 * 200 + 40, "this section"):  # warm-up, then rows
        return
    rtt = 2 * delay_ms
    real = make_url(settings.url)
    with running_proxy(real.host or "127.0.0.1", real.port or 5432, delay_ms=delay_ms) as proxy:
        slow = make_engine(proxied(settings, proxy.port))
        hot = Flows(slow)
        naive = Flows(slow, hot_paths=False)
        firsts_slow = Flows(slow, snapshot=snapshot)
        for flow in ("check-in", "meal redeem"):
            for i in attendees.take(5):
                hot.scan(flow, access_code(i))
                naive.scan(flow, codes(flow, attendees.take(1))[0])
                firsts_slow.scan(flow, codes(flow, attendees.take(1))[0])
        timings = (
            ("check-in", hot, "check-in", 200),
            ("meal redeem", hot, "meal redeem", 200),
            ("check-in (snapshot first)", firsts_slow, "check-in", 200),
            ("meal redeem (snapshot first)", firsts_slow, "meal redeem", 200),
            ("check-in (ORM path)", naive, "check-in", 40),
        )
        rows = [
            timed(label, partial(flows.scan, flow), codes(flow, attendees.take(n)))
            for label, flows, flow, n in timings
        ]
        slow.dispose()
    table(rows)
    print(
        f"target: check-in p95 <= 2 x RTT + 10 ms = {2 * rtt + 10:g} ms "
        f"(measured {rows[0].pct(95):.1f} ms)"
    )


# --- printing ---------------------------------------------------------------------------


def header(title: str) -> None:
    print(f"\n{title}\n{'-' * len(title)}")


def table(rows: list[Timing], *, trips: bool = False) -> None:
    head = f"{'flow':<34}{'scans':>7}{'scans/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
    if trips:
        head += f"{'trips':>7}"
    print(head)
    for t in rows:
        line = (
            f"{t.label:<34}{len(t.latencies):>7}{t.ops:>9.0f}"
            f"{t.pct(50):>8.2f}{t.pct(95):>8.2f}{t.pct(99):>8.2f}"
        )
        if trips:
            line += f"{t.round_trips:>7.2f}" if t.round_trips is not None else f"{'':>7}"
        if t.errors:
            line += f"   ({t.errors} refused)"
        print(line)


def floor(engine: Engine) -> str:
    """What the machine gives right now: a bare round trip, a bare durable commit, the load."""
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert conn is not None
        conn.autocommit = True
        conn.execute("CREATE TABLE bench_floor (id int)")  # logged: commits flush
        timings = {}
        probes = {"round trip": "SELECT 1", "insert+commit": "INSERT INTO bench_floor VALUES (1)"}
        for label, sql in probes.items():
            for _ in range(200):
                conn.execute(sql)
            started = time.perf_counter()
            for _ in range(2000):
                conn.execute(sql)
            timings[label] = (time.perf_counter() - started) / 2000 * 1000
        conn.execute("DROP TABLE bench_floor")
        conn.autocommit = False
    finally:
        raw.close()
    load = os.getloadavg()[0]
    return (
        f"floor now: SELECT 1 round trip {timings['round trip']:.3f} ms, "
        f"INSERT + COMMIT {timings['insert+commit']:.3f} ms, load average {load:.1f}, "
        f"CPU probe {cpu_probe():.0f} ms"
    )


def cpu_probe() -> float:
    """Milliseconds for a fixed piece of pure Python (best of 5); lower is a faster CPU.

    On a shared virtual machine the same code runs up to 1.6x slower from one
    minute to the next, so figures from two runs compare only at a like probe.
    """
    return min(timeit.repeat("sum(range(10000))", number=200, repeat=5)) * 1000


def machine(engine: Engine) -> str:
    with engine.connect() as conn:
        version = str(conn.scalar(text("SHOW server_version")))
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.machine()}, {os.cpu_count()} cores{mem}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, PostgreSQL {version}"
    )


# --- main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="station bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_URL),
        help=f"PostgreSQL server to use (default $STATION_BENCH_DATABASE_URL or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--attendees", type=int, default=100_000, help="conference the flows run on (100,000)"
    )
    parser.add_argument(
        "--million",
        action="store_true",
        help="also seed a 1,000,000-attendee conference and measure lookups there",
    )
    parser.add_argument("--scans", type=int, default=3000, help="scans per flow, one connection")
    parser.add_argument("--stations", type=int, default=16, help="concurrent station processes")
    parser.add_argument("--delay-ms", type=float, default=10.0, help="proxy delay each way")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark schemas")
    args = parser.parse_args(argv)
    n_scans, n_stations = args.scans, args.stations

    schema = f"station_bench_{uuid.uuid4().hex[:6]}"
    schemas = [schema]
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="station-bench-"))
    try:
        settings = fresh_schema(args.url, schema)
        engine = make_engine(settings)
        print(f"machine: {machine(engine)}")
        print(floor(engine))
        seconds = seed(engine, args.attendees)
        attendees = Attendees(fresh_attendees(args.attendees))
        print(
            f"seeded {args.attendees:,} attendees (COPY) in {seconds:.1f} s into schema {schema}; "
            f"{args.attendees - attendees.total:,} of them already checked in and had lunch"
        )

        snapshot = Snapshot(work / "snapshot.sqlite3")
        filled = SnapshotSync(engine, snapshot, CONFERENCE).fill()
        print(f"station snapshot filled in {filled.seconds:.1f} s (for the snapshot-first rows)")
        began = time.perf_counter()
        snapshot.hold()  # as a station's sync does once the copy is filled
        print(
            f"{snapshot.holding:,} holders built into memory in "
            f"{time.perf_counter() - began:.1f} s (for the snapshot-first rows)"
        )

        header("Round trips per scan (counted through a TCP proxy, warm connection)")
        hot_trips = count_round_trips(settings, attendees, None)
        orm_trips = count_round_trips(settings, attendees, False)
        first_trips = count_round_trips(settings, attendees, None, snapshot, FIRST_FLOWS)
        print(f"{'flow':<16}{'hot path':>10}{'ORM path':>10}{'snapshot first':>16}")
        for flow in FLOWS:
            first = f"{first_trips[flow]:>16.2f}" if flow in first_trips else f"{'-':>16}"
            print(f"{flow:<16}{hot_trips[flow]:>10.2f}{orm_trips[flow]:>10.2f}{first}")

        header("One connection (one station), scans/s and latency")
        flows = Flows(engine)
        orm = Flows(engine, hot_paths=False)
        firsts = Flows(engine, snapshot=snapshot)
        for flow in FLOWS:  # warm-up
            for i in attendees.take(20):
                flows.scan(flow, codes(flow, [i])[0])
                orm.scan(flow, codes(flow, attendees.take(1))[0])
                if flow in FIRST_FLOWS:
                    firsts.scan(flow, codes(flow, attendees.take(1))[0])
        heap.settle()  # as a station does once it is ready
        rows = []
        probe_before = cpu_probe()
        for flow in FLOWS:
            scanned = codes(flow, attendees.take(n_scans))
            t = timed(flow, partial(flows.scan, flow), scanned)
            t.round_trips = hot_trips[flow]
            rows.append(t)
            if flow in FIRST_FLOWS:  # right after its read-first row, on the same tables
                t = timed(
                    f"{flow} (snapshot first)",
                    partial(firsts.scan, flow),
                    codes(flow, attendees.take(n_scans)),
                )
                t.round_trips = first_trips[flow]
                rows.append(t)
        for flow in ("check-in", "meal redeem"):
            t = timed(
                f"{flow} (ORM path)",
                partial(orm.scan, flow),
                codes(flow, attendees.take(max(n_scans // 3, 100))),
            )
            t.round_trips = orm_trips[flow]
            rows.append(t)
        table(rows, trips=True)
        print(f"CPU probe before and after these runs: {probe_before:.0f} / {cpu_probe():.0f} ms")

        header(f"{n_stations} concurrent station processes, one connection each")
        engine.dispose()
        per = max(n_scans // n_stations, 50)
        concurrent_rows(settings, engine, attendees, per, n_stations)

        header("Lookup p50 by conference size (one connection)")
        sizes = [(1_000, None), (args.attendees, settings)]
        if args.million:
            sizes.append((1_000_000, None))
        lookups: list[tuple[int, Timing]] = []
        for size, existing in sizes:
            if existing is None:
                other = f"{schema}_{size}"
                schemas.append(other)
                existing = fresh_schema(args.url, other)
                seeding = make_engine(existing)
                took = seed(seeding, size)
                seeding.dispose()
                print(f"  (seeded {size:,} attendees in {took:.1f} s)")
            look_engine = make_engine(existing)
            look = Flows(look_engine)
            step = max(size // 2000, 1)
            picks = list(range(1, size + 1, step))[:2000]
            for code in codes("lookup", picks[:200]):
                look.scan("lookup", code)
            scanned = codes("lookup", picks)
            lookups.append((size, timed("lookup", partial(look.scan, "lookup"), scanned)))
            look_engine.dispose()
        base = lookups[0][1].pct(50)
        for size, t in lookups:
            print(
                f"{size:>10,} attendees: p50 {t.pct(50):.3f} ms  p95 {t.pct(95):.3f} ms  "
                f"({t.pct(50) / base:.2f}x of 1k)"
            )

        header(
            f"Through a proxy adding {args.delay_ms:g} ms each way (RTT {2 * args.delay_ms:g} ms)"
        )
        proxied_rows(settings, snapshot, attendees, args.delay_ms)
        print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        done_with_schemas(args.url, schemas, keep=args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
