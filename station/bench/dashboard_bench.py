"""``station bench dashboard``: what `station dashboard` costs with 200 stations.

Seeds a conference (COPY, as ``station bench`` does) in a throwaway schema, with
200 stations' heartbeat rows and an hour of scan log at a realistic rate (200
stations scanning once every 2-5 s: about 57 scans a second, 5 % refused, under
several reasons). Then it times, on the database:

- the dashboard's first read (the last hour of counts, for sparklines and refusals);
- its regular read (heartbeats and the last minute or two of counts), repeated;
- the totals (check-ins, units served against bought, rooms), repeated;

and, in the real Textual app run headless at 160x48, how long one read takes to
reach the widgets when every one of the 200 rows changed (UI-thread time), and
how long a key press waits for the screen while reads go on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid

from sqlalchemy import Engine, text

from station.bench.pg_bench import DEFAULT_URL, cpu_probe, header, machine
from station.bench.pg_seed import CONFERENCE, drop_schema, fresh_schema, seed
from station.db import make_engine
from station.services.dashboard import BeatListener, DashboardFeed

REASONS = ("not_found", "fully_redeemed", "unpaid", "not_purchased", "daily_limit")
MODES = ("checkin", "meal", "door")


def fill(engine: Engine, stations: int, per_second: float, minutes: int) -> int:
    """Heartbeat rows for ``stations`` and ``minutes`` of scan log at ``per_second``."""
    rows = int(per_second * minutes * 60)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO station_health (conference_id, station, mode, product, operator,"
                " version, state, online, backlog, last_scan_at, scans_1m, refusals_1m, p50_ms,"
                " p95_ms, every_s, started_at, beat_at, beats)"
                " SELECT 1, 'Station ' || lpad(i::text, 3, '0'),"
                " (CAST(:modes AS text[]))[1 + i % 3],"
                " CASE WHEN i % 3 = 1 THEN 'Lunch' END, 'Operator ' || i, '0.1.0', 'running',"
                " true, NULL, now(), 17, 1, 12.5, 25.0, 5, now() - interval '1 hour', now(), 720"
                " FROM generate_series(1, :n) AS i"
            ),
            {"n": stations, "modes": list(MODES)},
        )
        conn.execute(
            text(
                "INSERT INTO scan_log (conference_id, attendee_id, scanned_at, client_at,"
                " station, action, code, outcome, reason, message)"
                " SELECT 1, NULL, now() - (:span * interval '1 second') * (i::float / :rows),"
                " NULL, 'Station ' || lpad((1 + i % :stations)::text, 3, '0'), 'checkin',"
                " 'CODE' || i, CASE WHEN i % 20 = 0 THEN 'refused' ELSE 'accepted' END,"
                " CASE WHEN i % 20 = 0 THEN (CAST(:reasons AS text[]))[1 + (i / 20) % 5]"
                " ELSE 'ok' END, ''"
                " FROM generate_series(1, :rows) AS i"
            ),
            {
                "rows": rows,
                "span": minutes * 60,
                "stations": stations,
                "reasons": list(REASONS),
            },
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE scan_log"))
        conn.execute(text("ANALYZE station_health"))
    return rows


def timed(call: object, repeat: int) -> list[float]:
    assert callable(call)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def line(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(
        f"  {label:<44} p50 {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms"
        f"   ({len(times)} reads)"
    )


async def ui_figures(feed: DashboardFeed, engine: Engine, reads: int) -> None:
    from station.tui.dashboard.app import DashboardApp

    app = DashboardApp(feed, BeatListener(engine), every_s=0.5, totals_every_s=5)
    applies: list[float] = []
    keys: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        while app.reads < 1:
            await pilot.pause(0.05)
        table = app.query_one("#dash-stations")
        for n in range(reads):
            with engine.begin() as conn:  # every row changes: the worst case for the UI
                conn.execute(
                    text("UPDATE station_health SET scans_1m = :n, beat_at = now()"), {"n": n}
                )
            seen = app.reads
            pressed = time.perf_counter()
            row = getattr(table, "cursor_row", 0)
            await pilot.press("down")
            while getattr(table, "cursor_row", 0) == row:
                await pilot.pause(0.001)
            keys.append((time.perf_counter() - pressed) * 1000)
            while app.reads == seen:
                await pilot.pause(0.01)
            applies.append(app.last_apply_s * 1000)
        rows = len(getattr(table, "rows", {}))
    print(f"  table rows on screen: {rows}")
    line("UI: one read to the widgets (200 rows changed)", applies)
    line("UI: key press to cursor moved, reads going on", keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="station bench dashboard", description=__doc__)
    parser.add_argument("--url", default=os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--per-second", type=float, default=57.0, help="scan log rate")
    parser.add_argument("--minutes", type=int, default=60, help="scan log history")
    parser.add_argument("--attendees", type=int, default=40_000)
    parser.add_argument("--reads", type=int, default=20)
    args = parser.parse_args(argv)
    schema = f"station_bench_{uuid.uuid4().hex[:6]}"
    try:
        settings = fresh_schema(args.url, schema)
        engine = make_engine(settings)
        seed(engine, args.attendees)
        rows = fill(engine, args.stations, args.per_second, args.minutes)
        header("station bench dashboard")
        print(f"  machine: {machine(engine)}; cpu probe {cpu_probe():.1f} ms;"
              f" load {os.getloadavg()[0]:.1f}")  # fmt: skip
        print(f"  {args.stations} stations, {rows:,} scan-log rows over {args.minutes} min,"
              f" {args.attendees:,} attendees")  # fmt: skip
        feed = DashboardFeed(engine, CONFERENCE)
        line("first read (an hour of counts)", timed(feed.stations, 1))
        line("regular read (heartbeats + last minutes)", timed(feed.stations, args.reads))
        line("totals (check-ins, served/bought, rooms)", timed(feed.totals, args.reads))
        asyncio.run(ui_figures(feed, engine, args.reads))
        engine.dispose()
    finally:
        drop_schema(args.url, schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
