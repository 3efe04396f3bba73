"""``station bench fleet``, run small for real: stations through PgBouncer, no oversell.

The command as an organiser runs it (a subprocess of ``station bench fleet``), against the
test PostgreSQL and a PgBouncer the benchmark starts itself, with fewer server connections
than stations. Its report is read back: nothing oversold (counted in SQL), no more server
connections than allowed (PgBouncer's console and pg_stat_activity), no scan errors, and
every phase scanned.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from station.bench.pgbouncer import PGBOUNCER
from tests.conftest import PG_URL, REQUIRE_PG
from tests.pooler.conftest import unavailable

STATIONS = 12
SERVER_CONNECTIONS = 3
CONTENDED = 10


def test_station_bench_fleet_small_postgres() -> None:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("needs STATION_TEST_DATABASE_URL (STATION_REQUIRE_POSTGRES=1)")
        pytest.skip("needs STATION_TEST_DATABASE_URL")
    if not PGBOUNCER.is_file():
        unavailable(f"the fleet benchmark needs {PGBOUNCER} (apt-get install pgbouncer)")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "station",
            "bench",
            "fleet",
            "--url",
            PG_URL,
            "--stations",
            str(STATIONS),
            "--processes",
            "2",
            "--seconds",
            "2",
            "--server-connections",
            str(SERVER_CONNECTIONS),
            "--attendees",
            # Enough fresh attendees that no station runs out in its 2 s burst (a station that
            # does rescans its own, refused): 12 stations made 1,667 scans in one CI run.
            "8000",
            "--contended-attendees",
            str(CONTENDED),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = done.stdout
    assert done.returncode == 0, report + done.stderr

    def line(pattern: str) -> re.Match[str]:
        found = re.search(pattern, report, re.MULTILINE)
        assert found, f"no line matching {pattern!r} in:\n{report}"
        return found

    assert line(r"^  0 oversells: (\d+), (\S+)").groups() == ("0", "met")
    used = line(rf"^  <= {SERVER_CONNECTIONS} server connections: (\d+), (\S+)")
    assert 1 <= int(used[1]) <= SERVER_CONNECTIONS and used[2] == "met"
    assert line(r"^  no errors: (\d+), (\S+)").groups() == ("0", "met")
    assert "errors: none" in report
    # The pool was really shared: PgBouncer's and PostgreSQL's own counts, every phase.
    for phase in ("realistic", "burst", "contended"):
        counts = line(
            rf"^  {phase} +server connections max: (\d+) \(SHOW POOLS\), (\d+) \(SHOW SERVERS\), "
            r"(\d+) \(pg_stat_activity\)"
        )
        assert all(int(n) <= SERVER_CONNECTIONS for n in counts.groups()), counts[0]
    clients = int(line(r"client connections to PgBouncer \(SHOW CLIENTS.*\): (\d+)")[1])
    assert clients >= STATIONS
    # Every phase scanned; the burst's scans were all first scans, all accepted.
    # The figures table (the first line of each phase; the CPU table comes after it).
    rows: dict[str, list[float]] = {}
    for m in re.finditer(r"^(realistic|burst|contended) +([\d. ]+)$", report, re.MULTILINE):
        rows.setdefault(m[1], [float(x) for x in m[2].split()])
    assert set(rows) == {"realistic", "burst", "contended"}, report
    scans, _secs, _rate, _p50, _p95, _p99, _max, accepted, refused, errors = rows["burst"]
    assert scans > STATIONS and accepted == scans and refused == errors == 0
    assert rows["contended"][0] == STATIONS * CONTENDED
    # Every unit was sold (the stations raced for all of them), none twice, and the
    # stations were told "accepted" exactly as often as the database recorded a unit.
    assert line(r"^  lunch +(\d+) units redeemed of +(\d+) bought, oversold 0").groups() == (
        str(CONTENDED),
        str(CONTENDED),
    )
    assert line(r"^  voucher +(\d+) units redeemed of +(\d+) bought, oversold 0").groups() == (
        str(3 * CONTENDED),
        str(3 * CONTENDED),
    )
    told = line(r"the stations were told 'accepted' (\d+) times")
    assert int(told[1]) == 4 * CONTENDED == rows["contended"][7]
    # Stations beat their heartbeats through PgBouncer, and the dashboard read them.
    # (Each station's first beat comes at a random point of its first 5 s: some, not all.)
    beats = re.findall(r"^  \w+ +heartbeat: (\d+) calls", report, re.MULTILINE)
    assert len(beats) == 3 and sum(map(int, beats)) >= 1, report
    refreshes = re.findall(r"^  \w+ +(\d+) refreshes, p50", report, re.MULTILINE)
    assert sum(map(int, refreshes)) >= 1, report
    # (a failed heartbeat or refresh counts among the errors, asserted none above)
