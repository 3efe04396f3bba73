"""Import benchmark: 100,000 attendees from CSV into PostgreSQL, then the same file again.

Not a test: it prints figures. Uses its own schema (dropped afterwards) on
STATION_BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/test.

    python benchmarks/import_bench.py [--rows 100000] [--keep-file PATH]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select, text

from station.db import DatabaseSettings, make_engine, upgrade
from station.importer import ImportOptions, import_parsed, read_file
from station.models import Attendee, OrderLineItem

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
STATUSES = ["paid"] * 16 + ["pending", "refunded", "partially_refunded", "cancelled"]
TICKETS = ["Conference Pass", "Student", "Speaker", "Sponsor"]


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "access_code",
                "first_name",
                "last_name",
                "email",
                "order_reference",
                "order_status",
                "ticket_type",
                "addons",
            ]
        )
        for n in range(rows):
            addons = "Lunch Day 1:1; Lunch Day 2:1" + ("; Meal voucher:3" if n % 3 == 0 else "")
            writer.writerow(
                [
                    f"BENCH-{n:07d}",
                    f"First{n}",
                    f"Last, {n}",
                    f"person{n}@example.org",
                    f"ORD-{n:07d}",
                    STATUSES[n % len(STATUSES)],
                    TICKETS[n % len(TICKETS)],
                    addons,
                ]
            )


def timed_import(engine: object, path: Path) -> tuple[float, float, object]:
    started = time.perf_counter()
    parsed = read_file(path)
    parsed_at = time.perf_counter()
    report = import_parsed(engine, parsed, ImportOptions("bench", create=True, name="Bench"))  # type: ignore[arg-type]
    finished = time.perf_counter()
    return parsed_at - started, finished - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep-file", type=Path)
    args = parser.parse_args()
    url = os.environ.get("STATION_BENCH_DATABASE_URL", DEFAULT_URL)
    schema = f"station_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(DatabaseSettings(url=url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        engine = make_engine(DatabaseSettings(url=url, schema=schema))
        upgrade(engine)
        with tempfile.TemporaryDirectory() as tmp:
            path = args.keep_file or Path(tmp) / "attendees.csv"
            write_csv(path, args.rows)
            size_mb = path.stat().st_size / 1e6
            print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
            print(f"file: {args.rows:,} rows, {size_mb:.1f} MB; database: PostgreSQL schema {schema}")
            for label in ("first import", "re-import (unchanged)"):
                parse_s, total_s, report = timed_import(engine, path)
                counts = report.counts["attendees"]  # type: ignore[attr-defined]
                print(
                    f"{label:>22}: {total_s:6.2f} s total ({parse_s:.2f} s parsing), "
                    f"{args.rows / total_s:,.0f} rows/s; attendees created {counts.created:,}, "
                    f"unchanged {counts.unchanged:,}"
                )
        with engine.connect() as conn:
            attendees = conn.scalar(select(func.count()).select_from(Attendee))
            lines = conn.scalar(select(func.count()).select_from(OrderLineItem))
        print(f"in the database: {attendees:,} attendees, {lines:,} order lines")
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
