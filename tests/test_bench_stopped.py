"""A benchmark stopped by a signal drops the schemas it made (station.bench.pg_seed).

``timeout``, a closed terminal or an SSH hang-up sends SIGTERM or SIGHUP; before,
``station bench`` died without running its ``finally`` and left its
``station_bench_*`` schema, a whole seeded conference, in the database. A benchmark
killed outright (SIGKILL) cannot clean up: the next one on the same host drops what
it left, and nothing another running or kept benchmark still has.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import text

from station.bench.pg_seed import drop_schema, fresh_schema
from station.db import DatabaseSettings, make_engine
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres


def _schema_exists(name: str) -> bool:
    engine = make_engine(DatabaseSettings(url=PG_URL))
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :n"), {"n": name}
            ).first()
    finally:
        engine.dispose()
    return found is not None


def _as_from_a_terminal() -> None:
    """Signals as a shell gives them; CI runs under nohup, which ignores SIGHUP (and the
    bench rightly leaves an ignored signal ignored)."""
    for stop in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, signal.SIG_DFL)


def _bench_in_its_scan_loops() -> tuple[subprocess.Popen[str], str]:
    """A real ``station bench``, seeded and measuring; and the schema it made."""
    bench = subprocess.Popen(
        [sys.executable, "-m", "station", "bench", "--url", PG_URL,
         "--attendees", "30000", "--scans", "3000", "--stations", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_as_from_a_terminal,
    )  # fmt: skip
    assert bench.stdout is not None
    schema = None
    deadline = time.monotonic() + 120
    for line in bench.stdout:
        found = re.search(r"into schema (station_bench_\w+)", line)
        if found:
            schema = found.group(1)
        if line.startswith("One connection"):  # seeded, now in its long scan loops
            break
        if time.monotonic() > deadline:
            bench.kill()
            raise AssertionError("the bench never reached its scan loops")
    assert schema is not None and _schema_exists(schema)
    return bench, schema


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stopped_bench_drops_its_schema(stop: signal.Signals) -> None:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need STATION_TEST_DATABASE_URL")
    bench, schema = _bench_in_its_scan_loops()
    try:
        bench.send_signal(stop)
        bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert bench.returncode == 128 + stop
    assert not _schema_exists(schema)


_KEEP = """import sys
from station.bench.pg_seed import done_with_schemas, fresh_schema
fresh_schema(sys.argv[1], sys.argv[2])
done_with_schemas(sys.argv[1], [sys.argv[2]], keep=True)
"""


def test_the_next_bench_drops_what_a_killed_one_left() -> None:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need STATION_TEST_DATABASE_URL")
    bench, left = _bench_in_its_scan_loops()
    bench.kill()  # SIGKILL: no finally, no handler
    bench.communicate(timeout=60)
    assert _schema_exists(left)
    handlers = {stop: signal.getsignal(stop) for stop in (signal.SIGTERM, signal.SIGHUP)}
    kept = f"station_bench_kept{uuid.uuid4().hex[:6]}"
    ours = f"station_bench_ours{uuid.uuid4().hex[:6]}"
    try:
        subprocess.run(  # a finished run with --keep: its process is gone too
            [sys.executable, "-c", _KEEP, PG_URL, kept], check=True, capture_output=True
        )
        fresh_schema(PG_URL, ours)  # while this process still runs: its schema is in use
        assert not _schema_exists(left)
        assert _schema_exists(kept)
        fresh_schema(PG_URL, f"{ours}b")
        assert _schema_exists(ours), "a running benchmark's schema was dropped"
    finally:
        for schema in (kept, ours, f"{ours}b"):
            drop_schema(PG_URL, schema)
        for stop, handler in handlers.items():  # fresh_schema set the bench's own
            signal.signal(stop, handler)
