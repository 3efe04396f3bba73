"""Scan-to-verdict latency of the real station app, and its start-up time.

Not a test: it prints figures. Drives the app headless (``run_test``) on a
10,000-attendee demo conference, on SQLite and on PostgreSQL (its own schema
on STATION_BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/test,
dropped afterwards). Scans arrive as a scanner's do: a burst of key events from
Textual's terminal parser. Latency runs from the Enter key event's timestamp to
the first screen refresh after the verdict banner changed.

    python benchmarks/tui_latency.py [--scans 500] [--attendees 10000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, exists, select, text
from textual._xterm_parser import XTermParser
from textual.events import Key

from station.bootstrap import build_services
from station.config import Settings
from station.db import DatabaseSettings, make_engine, upgrade
from station.demo import DEMO_SLUG, seed_demo
from station.domain import ACTIVE_ORDER_STATUSES, Mode
from station.models import AddOn, Attendee, Order, OrderLineItem, ProductRedemption
from station.tui.app import StationApp, make_app

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
MEAL = "lunch-day-1"
GAP_S = 0.05  # between scans: a fast queue, but never two scans in one burst
TARGETS = {"sqlite": 0.050, "postgresql": 0.060}


@dataclass
class Run:
    label: str
    latencies: list[float]
    verdicts: Counter[str]


def active_codes(engine: Engine, limit: int) -> list[str]:
    query = (
        select(Attendee.access_code)
        .join(Order, Order.id == Attendee.order_id)
        .where(Order.status.in_(list(ACTIVE_ORDER_STATUSES)))
        .order_by(Attendee.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.scalars(query))


def meal_codes(engine: Engine, limit: int) -> list[str]:
    """Attendees with an unused Lunch Day 1, so every scan takes the redeem path."""
    used = exists().where(
        ProductRedemption.order_line_item_id == OrderLineItem.id,
        ProductRedemption.attendee_id == Attendee.id,
    )
    query = (
        select(Attendee.access_code)
        .join(Order, Order.id == Attendee.order_id)
        .join(OrderLineItem, OrderLineItem.order_id == Order.id)
        .join(AddOn, AddOn.id == OrderLineItem.addon_id)
        .where(Order.status.in_(list(ACTIVE_ORDER_STATUSES)), AddOn.slug == MEAL, ~used)
        .order_by(Attendee.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.scalars(query))


async def drive(app: StationApp, codes: list[str]) -> tuple[list[float], Counter[str]]:
    latencies: list[float] = []
    verdicts: Counter[str] = Counter()
    async with app.run_test(size=(80, 24)) as pilot:
        while not (app.ready and app.info is not None):
            await asyncio.sleep(0.005)
        driver = app._driver
        assert driver is not None
        for code in codes:
            seq = app.flow.last_seq + 1
            events = list(XTermParser().feed(code + "\r"))
            enter = events[-1]
            assert isinstance(enter, Key) and enter.key == "enter"
            for event in events:
                driver.send_message(event)
            deadline = time.monotonic() + 10
            while seq not in app.verdict_times:
                if time.monotonic() > deadline:
                    raise SystemExit(f"no verdict for {code} within 10 s")
                await asyncio.sleep(0.0005)
            latencies.append(app.verdict_times[seq] - enter.time)
            verdicts[app.scan_screen.banner.verdict.word] += 1
            await pilot.pause(GAP_S)
    return latencies, verdicts


def run_mode(label: str, database: DatabaseSettings, mode: Mode, codes: list[str]) -> Run:
    settings = Settings(
        database=database,
        conference=DEMO_SLUG,
        station="Bench",
        mode=mode,
        product=MEAL if mode is Mode.MEAL else None,
        operator="Ana",
    )
    services = build_services(settings)
    try:
        app = make_app(services, settings=settings)
        latencies, verdicts = asyncio.run(drive(app, codes))
    finally:
        services.dispose()
    return Run(f"{label} {mode.value}", latencies, verdicts)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(run: Run, target: float) -> None:
    ms = [v * 1000 for v in run.latencies]
    p95 = percentile(ms, 95)
    mark = "ok" if p95 <= target * 1000 else "OVER TARGET"
    mix = ", ".join(f"{word} {n}" for word, n in run.verdicts.most_common())
    print(
        f"  {run.label:<20} n={len(ms):<4} p50 {percentile(ms, 50):6.1f} ms  "
        f"p95 {p95:6.1f} ms  p99 {percentile(ms, 99):6.1f} ms  max {max(ms):6.1f} ms  "
        f"[target p95 <= {target * 1000:.0f} ms: {mark}]  ({mix})"
    )


STARTUP_CHILD = """
import asyncio, sys, time
start = float(sys.argv[1])
from station.bootstrap import build_services
from station.config import Settings
from station.db import DatabaseSettings
from station.tui.app import make_app
settings = Settings(database=DatabaseSettings(url=sys.argv[2]), conference=sys.argv[3],
                    station="Bench", operator="Ana")
services = build_services(settings)
app = make_app(services, settings=settings)
async def main():
    async with app.run_test(size=(80, 24)) as pilot:
        while not (app.ready and app.info is not None):
            await asyncio.sleep(0.002)
        print(time.time() - start)
asyncio.run(main())
services.dispose()
"""


def startup(url: str, repeats: int = 5) -> list[float]:
    """Process start (python launched) to signed-in scan screen with station info shown."""
    times = []
    root = Path(__file__).resolve().parents[1]
    for _ in range(repeats):
        start = time.time()
        out = subprocess.run(
            [sys.executable, "-c", STARTUP_CHILD, str(start), url, DEMO_SLUG],
            check=False,
            capture_output=True,
            text=True,
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        if out.returncode != 0:
            raise SystemExit(f"start-up probe failed:\n{out.stderr}")
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def seed(database: DatabaseSettings, attendees: int) -> Engine:
    engine = make_engine(database)
    upgrade(engine)
    began = time.perf_counter()
    seed_demo(engine, attendees=attendees, reset=True)
    print(f"  seeded {attendees} attendees in {time.perf_counter() - began:.1f} s")
    return engine


def bench(label: str, database: DatabaseSettings, args: argparse.Namespace) -> None:
    print(f"{label}:")
    engine = seed(database, args.attendees)
    try:
        checkin = active_codes(engine, args.scans)
        meal = meal_codes(engine, args.scans)
    finally:
        engine.dispose()
    target = TARGETS[label]
    report(run_mode(label, database, Mode.CHECKIN, checkin), target)
    report(run_mode(label, database, Mode.MEAL, meal), target)
    print(f"  (load average now {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=500)
    parser.add_argument("--attendees", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(
        f"station TUI latency — {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = DatabaseSettings(url=f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        bench("sqlite", sqlite, args)
        times = startup(sqlite.url)
        print(
            f"  start to ready (new process, headless, SQLite): median "
            f"{statistics.median(times):.2f} s, max {max(times):.2f} s [target <= 1.5 s]"
        )
    if args.no_postgres:
        return
    url = os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_PG)
    schema = f"station_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(DatabaseSettings(url=url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        bench("postgresql", DatabaseSettings(url=url, schema=schema), args)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
