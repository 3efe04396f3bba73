"""A benchmark stopped by a signal drops the schemas it made (station.bench.pg_seed).

``timeout``, a closed terminal or an SSH hang-up sends SIGTERM or SIGHUP; before,
``station bench`` died without running its ``finally`` and left its
``station_bench_*`` schema, a whole seeded conference, in the database.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import text

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


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stopped_bench_drops_its_schema(stop: signal.Signals) -> None:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need STATION_TEST_DATABASE_URL")
    bench = subprocess.Popen(
        [sys.executable, "-m", "station", "bench", "--url", PG_URL,
         "--attendees", "30000", "--scans", "3000", "--stations", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_as_from_a_terminal,
    )  # fmt: skip
    try:
        assert bench.stdout is not None
        schema = None
        deadline = time.monotonic() + 120
        for line in bench.stdout:
            found = re.search(r"into schema (station_bench_\w+)", line)
            if found:
                schema = found.group(1)
            if line.startswith("One connection"):  # seeded, now in its long scan loops
                break
            assert time.monotonic() < deadline, "the bench never reached its scan loops"
        assert schema is not None and _schema_exists(schema)
        bench.send_signal(stop)
        bench.communicate(timeout=60)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert bench.returncode == 128 + stop
    assert not _schema_exists(schema)
