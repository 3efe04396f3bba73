"""A real PgBouncer (transaction pooling) in front of the test PostgreSQL.

Each pytest worker starts its own ``/usr/sbin/pgbouncer`` on a free loopback port,
pointed at the worker's schema, with fewer server connections (``default_pool_size``)
than the tests have stations. Without pgbouncer the tests are skipped with the reason;
with ``STATION_REQUIRE_PGBOUNCER=1`` (CI) they fail instead. How it is started is
``station.bench.pgbouncer``, which ``station bench fleet`` uses too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from station.bench.pgbouncer import INI, PGBOUNCER, Bouncer, PgBouncerUnavailable, running_pgbouncer
from station.db import DatabaseSettings

__all__ = ["INI", "POOL_SIZE", "REQUIRE", "Bouncer", "pgbouncer", "unavailable"]

REQUIRE = os.environ.get("STATION_REQUIRE_PGBOUNCER") == "1"
POOL_SIZE = 2  # server connections PgBouncer opens to PostgreSQL, for every client


def unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(reason + " (STATION_REQUIRE_PGBOUNCER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pgbouncer(postgres_schema: DatabaseSettings) -> Iterator[Bouncer]:
    if not PGBOUNCER.is_file():
        unavailable(f"PgBouncer tests need {PGBOUNCER} (apt-get install pgbouncer)")
    assert postgres_schema.schema
    try:
        with running_pgbouncer(
            postgres_schema.url, postgres_schema.schema, pool_size=POOL_SIZE
        ) as bouncer:
            yield bouncer
    except PgBouncerUnavailable as exc:
        pytest.fail(str(exc))
