"""Start a real PgBouncer (transaction pooling) in front of a PostgreSQL server.

One way of doing it for both the tests (``tests/pooler/conftest.py``) and ``station bench
fleet``: a generated ``pgbouncer.ini`` in a temporary folder, a free loopback port, the
Debian package's ``/usr/sbin/pgbouncer``, and a wait until it answers. The ini is the one
the README shows (``INI``), plus, for the benchmark, a few lines after it (``extra``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from station.db import DatabaseSettings

PGBOUNCER = Path("/usr/sbin/pgbouncer")

# What the README shows: the tests write exactly this, with the fields filled in.
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


class PgBouncerUnavailable(RuntimeError):
    """PgBouncer is not installed, or did not start (the message says which, in one line)."""


@dataclass(frozen=True)
class Bouncer:
    url: str  # postgresql://postgres@127.0.0.1:<port>/station
    ini: str  # the pgbouncer.ini it runs with
    log: Path
    port: int
    pid: int
    user: str

    def settings(self, **changes: object) -> DatabaseSettings:
        values: dict[str, object] = {"url": self.url, "pooler": "pgbouncer", **changes}
        return DatabaseSettings(**values)  # type: ignore[arg-type]

    @property
    def admin_url(self) -> str:
        """The admin console (``SHOW POOLS`` and the like); needs ``admin_users`` in ``extra``."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/pgbouncer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_pgbouncer(
    target_url: str, schema: str, *, pool_size: int, extra: str = ""
) -> Iterator[Bouncer]:
    """PgBouncer on a free loopback port, pooling ``pool_size`` server connections to the
    server of ``target_url`` with ``search_path = schema``; stopped and cleaned up after.

    Raises PgBouncerUnavailable when it is not installed or does not answer in 10 s.
    """
    if not PGBOUNCER.is_file():
        raise PgBouncerUnavailable(f"{PGBOUNCER} is not installed (apt-get install pgbouncer)")
    target = make_url(target_url)
    user = target.username or "postgres"
    # Readable by the postgres user: pgbouncer refuses to run as root and drops to it.
    folder = Path(tempfile.mkdtemp(prefix="station-pgbouncer-"))
    try:
        folder.chmod(0o755)
        auth_file = folder / "userlist.txt"
        auth_file.write_text(f'"{user}" ""\n', encoding="utf-8")
        port = free_port()
        ini = INI.format(
            host=target.host or "127.0.0.1",
            port=target.port or 5432,
            dbname=target.database,
            user=user,
            schema=schema,
            listen_port=port,
            auth_file=auth_file,
            pool_size=pool_size,
        )
        ini += extra
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
        try:
            url = f"postgresql://{user}@127.0.0.1:{port}/station"
            _wait_until_it_answers(url, process, log)
            yield Bouncer(url=url, ini=ini, log=log, port=port, pid=process.pid, user=user)
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_it_answers(url: str, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2, prepare_threshold=None) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                message = log.read_text(errors="replace").strip().splitlines()[-3:]
                raise PgBouncerUnavailable(
                    f"pgbouncer did not start: {' | '.join(message)}"
                ) from None
            time.sleep(0.05)


def admin_rows(conn: psycopg.Connection[Any], command: str) -> list[dict[str, Any]]:
    """Rows of an admin console command (``SHOW POOLS``), as dicts.

    The console speaks the simple query protocol only, so this goes through libpq's
    ``PQexec`` rather than a psycopg cursor (which sends Parse/Bind).
    """
    result = conn.pgconn.exec_(command.encode())
    if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
        message = (result.error_message or b"").decode(errors="replace").strip()
        raise psycopg.OperationalError(f"{command}: {message}")
    names = [(result.fname(i) or b"").decode() for i in range(result.nfields)]
    rows = []
    for row in range(result.ntuples):
        values = [result.get_value(row, i) for i in range(result.nfields)]
        rows.append(
            {n: (v.decode() if v is not None else None) for n, v in zip(names, values, strict=True)}
        )
    return rows
