"""A real PgBouncer (transaction pooling) in front of the test PostgreSQL.

Each pytest worker starts its own ``/usr/sbin/pgbouncer`` on a free loopback port,
pointed at the worker's schema, with fewer server connections (``default_pool_size``)
than the tests have stations. Without pgbouncer the tests are skipped with the reason;
with ``STATION_REQUIRE_PGBOUNCER=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from station.db import DatabaseSettings

PGBOUNCER = Path("/usr/sbin/pgbouncer")
REQUIRE = os.environ.get("STATION_REQUIRE_PGBOUNCER") == "1"
POOL_SIZE = 2  # server connections PgBouncer opens to PostgreSQL, for every client

# What the README shows: the fixture writes exactly this, with the fields filled in.
INI = """\
[databases]
station = host={host} port={port} dbname={dbname} user={user} pool_size={pool_size} \
connect_query='SET search_path = {schema}; SET statement_timeout = 5000; SET lock_timeout = 3000'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {auth_file}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
server_check_delay = 0
ignore_startup_parameters =
"""


@dataclass(frozen=True)
class Bouncer:
    url: str  # postgresql://postgres@127.0.0.1:<port>/station
    ini: str  # the pgbouncer.ini it runs with
    log: Path

    def settings(self, **changes: object) -> DatabaseSettings:
        values: dict[str, object] = {"url": self.url, "pooler": "pgbouncer", **changes}
        return DatabaseSettings(**values)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(reason + " (STATION_REQUIRE_PGBOUNCER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pgbouncer(postgres_schema: DatabaseSettings) -> Iterator[Bouncer]:
    if not PGBOUNCER.is_file():
        _unavailable(f"PgBouncer tests need {PGBOUNCER} (apt-get install pgbouncer)")
    target = make_url(postgres_schema.url)
    # Readable by the postgres user: pgbouncer refuses to run as root and drops to it.
    folder = Path(tempfile.mkdtemp(prefix="station-pgbouncer-"))
    folder.chmod(0o755)
    auth_file = folder / "userlist.txt"
    auth_file.write_text(f'"{target.username or "postgres"}" ""\n', encoding="utf-8")
    port = _free_port()
    ini = INI.format(
        host=target.host or "127.0.0.1",
        port=target.port or 5432,
        dbname=target.database,
        user=target.username or "postgres",
        schema=postgres_schema.schema,
        listen_port=port,
        auth_file=auth_file,
        pool_size=POOL_SIZE,
    )
    if os.geteuid() == 0:
        ini += "user = postgres\n"
    config = folder / "pgbouncer.ini"
    config.write_text(ini, encoding="utf-8")
    for path in (auth_file, config):
        path.chmod(0o644)
    log = folder / "pgbouncer.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PGBOUNCER), str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"postgresql://{target.username or 'postgres'}@127.0.0.1:{port}/station"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with psycopg.connect(url, connect_timeout=2, prepare_threshold=None) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    message = log.read_text(errors="replace").strip().splitlines()[-3:]
                    pytest.fail(f"pgbouncer did not start: {' | '.join(message)}")
                time.sleep(0.05)
        yield Bouncer(url=url, ini=ini, log=log)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
