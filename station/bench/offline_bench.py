"""``station bench offline``: what an outage costs, measured on a real PostgreSQL.

Seeds a conference (COPY, as ``station bench`` does), then measures: the
snapshot's first fill and an incremental sync (nothing changed; 100 check-ins
elsewhere; 100 refunds); an offline verdict (snapshot read, rule book, journal
write with ``synchronous=FULL``), p50/p95/p99; the time from a blackholed or
cut link to an OFFLINE verdict; and replay throughput of a 10,000-scan outage
into PostgreSQL on loopback.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from station.bench.faulty_link import faulty_link
from station.bench.pg_bench import DEFAULT_URL, Timing, header, machine, table
from station.bench.pg_seed import (
    CONFERENCE,
    access_code,
    done_with_schemas,
    fresh_attendees,
    fresh_schema,
    seed,
)
from station.bootstrap import build_services
from station.config import Settings
from station.db import make_engine, make_session_factory
from station.domain import Mode
from station.models import utcnow
from station.offline.journal import Journal
from station.offline.replay import Replayer
from station.offline.settings import OfflineRules, OfflineSettings
from station.offline.snapshot import Snapshot
from station.offline.store import OfflineStore
from station.offline.sync import SnapshotSync, SyncStats
from station.services import CheckInService, RedemptionService
from station.services.results import StationContext
from station.services.scan import ScanService


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="station bench offline", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--url", default=os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--attendees", type=int, default=100_000, help="conference size (100,000)")
    parser.add_argument(
        "--outage", type=int, default=10_000, help="offline scans to replay (10,000)"
    )
    parser.add_argument("--threshold", type=float, default=2.0, help="offline threshold_s (2)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark schema")
    args = parser.parse_args(argv)
    schema = f"station_bench_offline_{uuid.uuid4().hex[:6]}"
    work = Path(tempfile.mkdtemp(prefix="station-offline-bench-"))
    try:
        settings = fresh_schema(args.url, schema)
        engine = make_engine(settings)
        print(f"machine: {machine(engine)}")
        seconds = seed(engine, args.attendees)
        fresh = fresh_attendees(args.attendees)
        print(f"seeded {args.attendees:,} attendees in {seconds:.1f} s (schema {schema})")
        sessions = make_session_factory(engine)
        online_checkin = CheckInService(sessions)
        ctx = StationContext(CONFERENCE, "Bench offline")

        header("Snapshot")
        snapshot = Snapshot(work / "snapshot.sqlite3")
        sync = SnapshotSync(engine, snapshot, CONFERENCE)
        stats = sync.fill()
        print(f"first fill: {stats.attendees:,} attendees in {stats.seconds:.2f} s")
        sync.sync()  # the first sync after a fill reads its overlap window once
        stats = sync.sync()
        print(f"sync, nothing changed: {_sync_words(stats)}")
        for i in range(1, 101):
            online_checkin.check_in(ctx, access_code(fresh - i))
        stats = sync.sync()
        print(f"sync after 100 check-ins elsewhere: {stats.seconds * 1000:.1f} ms "
              f"({stats.attendees} attendees read)")  # fmt: skip
        with engine.begin() as conn:
            conn.execute(text(
                "UPDATE \"order\" SET status = 'refunded' WHERE id IN "
                "(SELECT order_id FROM attendee ORDER BY id DESC LIMIT 100)"
            ))  # fmt: skip
        stats = sync.sync()
        print(f"sync after 100 refunds: {_sync_words(stats)}")
        size = (work / "snapshot.sqlite3").stat().st_size / 1e6
        print(f"snapshot file: {size:.0f} MB")

        header(f"Offline verdicts ({args.outage:,} scans: journal in WAL, synchronous=FULL)")
        journal = Journal(work / "journal.sqlite3")
        store = OfflineStore(snapshot, journal, utcnow, OfflineRules(cap=None, max_seconds=None))
        offline_checkin = CheckInService(sessions, store=store)
        offline_redeem = RedemptionService(sessions, store=store)
        desk = ScanService(offline_checkin, offline_redeem, mode=Mode.CHECKIN, product=None)
        lunch = ScanService(offline_checkin, offline_redeem, mode=Mode.MEAL, product="lunch")
        rows: list[Timing] = []
        half = args.outage // 2
        for label, service, start in (
            ("check-in, offline", desk, 1),
            ("meal, offline", lunch, half + 1),
        ):
            latencies: list[float] = []
            began = time.perf_counter()
            for i in range(start, start + half):
                t = time.perf_counter()
                service.scan(ctx, access_code(i), client_id=uuid.uuid4())
                latencies.append(time.perf_counter() - t)
            rows.append(Timing(label, latencies, time.perf_counter() - began))
        table(rows)

        header(f"Replay of the {journal.waiting_count():,}-scan outage into PostgreSQL (loopback)")
        replayer = Replayer(journal, online_checkin, utcnow)
        began = time.perf_counter()
        outcome = replayer.replay()
        wall = time.perf_counter() - began
        rate = outcome.replayed / wall
        print(
            f"replayed {outcome.replayed:,} in {wall:.1f} s: {rate:,.0f} scans/s "
            f"(recorded {outcome.recorded:,}, overspends {outcome.overspends}, "
            f"conflicts {outcome.conflicts}, logged refusals {outcome.logged})"
        )

        header(f"From a failed link to an OFFLINE verdict (threshold {args.threshold:g} s)")
        url = make_url(settings.url)
        with faulty_link(url.host or "127.0.0.1", url.port or 5432) as link:
            station = Settings(
                database=replace(
                    settings,
                    url=url.set(host="127.0.0.1", port=link.port).render_as_string(
                        hide_password=False
                    ),
                    connect_timeout_s=2,
                ),
                conference=CONFERENCE,
                station="Bench failover",
                mode=Mode.CHECKIN,
                offline=OfflineSettings(
                    enabled=True,
                    threshold_s=args.threshold,
                    probe_s=0.2,
                    directory=work / "failover",
                ),
            )
            services = build_services(station)
            parts = services.offline
            assert parts is not None
            parts.start()
            parts.keeper.synced.wait(120)
            for fault in ("blackhole", "cut", "blackhole", "cut"):
                code = access_code(fresh - 500 - len(fault))
                services.scans.scan(ctx, code, client_id=uuid.uuid4())  # warm, online
                getattr(link, fault)()
                t = time.perf_counter()
                services.scans.scan(ctx, code, client_id=uuid.uuid4())
                first = time.perf_counter() - t
                t = time.perf_counter()
                services.scans.scan(ctx, code, client_id=uuid.uuid4())
                second = time.perf_counter() - t
                print(f"{fault:>9}: first scan's verdict after {first:.2f} s (OFFLINE), "
                      f"the next after {second * 1000:.1f} ms")  # fmt: skip
                link.restore()
                deadline = time.monotonic() + 30
                while (
                    not parts.link.online or parts.link.state().waiting
                ) and time.monotonic() < deadline:
                    time.sleep(0.05)
            services.dispose()
        engine.dispose()
    finally:
        done_with_schemas(args.url, [schema], keep=args.keep)
    return 0


def _sync_words(stats: SyncStats) -> str:
    return f"{stats.seconds * 1000:.1f} ms ({stats.attendees} attendees read again)"


if __name__ == "__main__":
    raise SystemExit(main())
