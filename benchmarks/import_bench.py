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

from sqlalchemy import Engine, func, select, text

from station.db import DatabaseSettings, make_engine, upgrade
from station.importer import ImportOptions, ImportReport, import_parsed, read_file
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


def timed_import(engine: Engine, path: Path) -> tuple[dict[str, float], ImportReport]:
    """Seconds per phase (reading, comparing, writing, total) and the import's report."""
    marks: dict[str, float] = {"start": time.perf_counter()}

    def progress(stage: str, _done: int, _total: int) -> None:
        marks.setdefault(stage, time.perf_counter())

    parsed = read_file(path)
    marks["Comparing"] = time.perf_counter()
    options = ImportOptions("bench", create=True, name="Bench")
    report = import_parsed(engine, parsed, options, progress)
    marks["end"] = time.perf_counter()
    writing = marks.get("Writing", marks["end"])
    phases = {
        "reading": marks["Comparing"] - marks["start"],
        "comparing": writing - marks["Comparing"],
        "writing": marks["end"] - writing,
        "total": marks["end"] - marks["start"],
    }
    return phases, report


def _memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return 0.0


def _server_version(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.exec_driver_sql("SHOW server_version").scalar_one()).split()[0]


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
            print(
                f"machine: {os.cpu_count()} cores, {_memory_gb():.0f} GB, "
                f"Python {platform.python_version()}, PostgreSQL {_server_version(engine)}"
            )
            print(f"file: {args.rows:,} rows, {size_mb:.1f} MB; schema {schema}")
            for label in ("first import", "re-import (unchanged)"):
                phases, report = timed_import(engine, path)
                counts = report.counts["attendees"]
                total = phases["total"]
                print(
                    f"{label:>22}: {total:6.2f} s, {args.rows / total:,.0f} rows/s "
                    f"(reading {phases['reading']:.2f} s, comparing {phases['comparing']:.2f} s, "
                    f"writing {phases['writing']:.2f} s); attendees created {counts.created:,}, "
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
