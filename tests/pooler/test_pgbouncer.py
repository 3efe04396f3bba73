"""Stations through a real PgBouncer in transaction pooling mode.

More stations than PgBouncer has server connections, so consecutive transactions of one
station land on different server connections: whatever a station kept on a connection
(a prepared statement, a session setting) would be lost or meet another's. With
``pooler = "pgbouncer"`` a day of scans goes through on the hot path and the ORM path,
and a contended product is never oversold; without it, the station cannot work.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from station.db import behind_pooler, make_engine, make_session_factory
from station.models import CheckIn, DoorCheck, ProductRedemption, utcnow
from station.offline.journal import Journal
from station.offline.link import Link, OfflineKeeper
from station.offline.replay import Replayer
from station.offline.snapshot import Snapshot
from station.offline.sync import SnapshotSync
from station.services import CheckInService, RedemptionService
from station.services.errors import AttendeeNotFound, ConfigurationError, FullyRedeemed
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase
from tests.pooler.conftest import INI, POOL_SIZE, Bouncer

STATIONS = 6  # > POOL_SIZE server connections
SCANS = 8  # attendees per station: more than psycopg's prepare threshold
T = TypeVar("T")


@pytest.fixture
def conf(postgres_database: TestDatabase) -> ConferenceBuilder:
    return ConferenceBuilder(postgres_database.sessions)


@pytest.fixture
def stations(pgbouncer: Bouncer) -> Iterator[list[Engine]]:
    engines = [make_engine(pgbouncer.settings()) for _ in range(STATIONS)]
    yield engines
    for engine in engines:
        engine.dispose()


def together(count: int, job: Callable[[int], T]) -> list[T | Exception]:
    barrier = threading.Barrier(count)

    def run(index: int) -> T | Exception:
        barrier.wait()
        try:
            return job(index)
        except Exception as exc:  # the outcome under test, compared below
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def server_connections(database: TestDatabase) -> int:
    with database.engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = ''"
                )
            )
            or 0
        )


@pytest.mark.parametrize("hot_paths", [True, False], ids=["hot-path", "orm-path"])
def test_a_day_of_scans_through_pgbouncer_postgres(
    postgres_database: TestDatabase,
    conf: ConferenceBuilder,
    stations: list[Engine],
    hot_paths: bool,
) -> None:
    assert all(behind_pooler(engine) for engine in stations)
    people = [
        [conf.attendee(addons={"lunch": 1, "voucher": 2}) for _ in range(SCANS)]
        for _ in range(STATIONS)
    ]

    def day(index: int) -> Counter[str]:
        sessions = make_session_factory(stations[index])
        checkin = CheckInService(sessions, hot_paths=hot_paths)
        redemption = RedemptionService(sessions, hot_paths=hot_paths)
        ctx = StationContext(conf.slug, f"Station {index}")
        seen: Counter[str] = Counter()
        for person in people[index]:
            code = person.access_code
            checkin.check_in(ctx, code)
            checkin.record_door_check(ctx, code, product="ticket:general")
            redemption.redeem_product(ctx, code, product="lunch")
            try:
                redemption.redeem_product(ctx, code, product="lunch")
            except FullyRedeemed:
                seen["second lunch refused"] += 1
            try:
                checkin.check_in(ctx, f"NOPE{index}{code}")
            except AttendeeNotFound:
                seen["unknown code refused"] += 1
            client_id = uuid.uuid4()
            first = redemption.redeem_product(ctx, code, product="voucher", client_id=client_id)
            again = redemption.redeem_product(ctx, code, product="voucher", client_id=client_id)
            seen["retry answered the same"] += (first.redeemed, again.redeemed) == (1, 1)
        return seen

    outcomes = together(STATIONS, day)
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert not errors, errors[0]
    total = sum((o for o in outcomes if isinstance(o, Counter)), Counter())
    everyone = STATIONS * SCANS
    assert total == {
        "second lunch refused": everyone,
        "unknown code refused": everyone,
        "retry answered the same": everyone,
    }
    world_sessions = postgres_database.sessions
    with world_sessions() as s:
        assert s.query(CheckIn).count() == everyone
        assert s.query(DoorCheck).count() == everyone
        assert s.query(ProductRedemption).count() == 2 * everyone  # lunch and one voucher
    # The stations shared PgBouncer's few server connections (PgBouncer's carry no
    # application_name: it is a client-side parameter).
    assert server_connections(postgres_database) <= POOL_SIZE


@pytest.mark.parametrize("hot_paths", [True, False], ids=["hot-path", "orm-path"])
def test_no_oversell_through_pgbouncer_postgres(
    postgres_database: TestDatabase,
    conf: ConferenceBuilder,
    stations: list[Engine],
    hot_paths: bool,
) -> None:
    for round_number in range(5):
        built = conf.attendee(addons={"voucher": 3})

        def redeem(index: int, code: str = built.access_code) -> str:
            service = RedemptionService(make_session_factory(stations[index]), hot_paths=hot_paths)
            service.redeem_product(StationContext(conf.slug, f"S{index}"), code, product="voucher")
            return "ok"

        kinds = Counter(
            o if isinstance(o, str) else type(o).__name__ for o in together(STATIONS, redeem)
        )
        assert kinds == {"ok": 3, "FullyRedeemed": STATIONS - 3}, f"round {round_number}"
        with postgres_database.sessions() as s:
            count = s.query(ProductRedemption).filter_by(attendee_id=built.attendee_id).count()
        assert count == 3


def test_without_the_setting_pgbouncer_refuses_the_station_postgres(pgbouncer: Bouncer) -> None:
    """PgBouncer 1.18 refuses the start-up options that carry the station's timeouts."""
    engine = make_engine(pgbouncer.settings(pooler=None))
    try:
        with (
            pytest.raises(OperationalError, match="unsupported startup parameter: options"),
            engine.connect(),
        ):
            pass
    finally:
        engine.dispose()


def test_prepared_statements_break_through_pgbouncer_postgres(pgbouncer: Bouncer) -> None:
    """What ``pooler`` turns off: psycopg's prepared statements meet the wrong connection.

    One client runs a statement prepared (prepare_threshold=0) on a server connection;
    another client's transaction then takes that connection (PgBouncer reuses the most
    recently used first), so the first client's next run lands on a server connection
    that never saw the statement.
    """
    errors: list[str] = []
    query = "SELECT count(*) FROM attendee WHERE id = %s"
    with (
        psycopg.connect(pgbouncer.url, autocommit=True, prepare_threshold=0) as runner,
        psycopg.connect(pgbouncer.url, prepare_threshold=None) as holder,
    ):
        for turn in range(5):
            try:
                runner.execute(query, [turn])
                holder.execute("SELECT 1")  # holds a server connection until the rollback
                runner.execute(query, [turn])
            except psycopg.Error as exc:
                errors.append(str(exc))
            finally:
                holder.rollback()
    assert errors and all("prepared statement" in error for error in errors), errors


def test_the_pooler_setting_refuses_what_pgbouncer_cannot_carry(pgbouncer: Bouncer) -> None:
    with pytest.raises(ConfigurationError, match="search_path"):
        make_engine(pgbouncer.settings(schema="station"))
    with pytest.raises(ConfigurationError, match="demo clock"):
        make_engine(pgbouncer.settings(clock_offset_s=60.0))
    with pytest.raises(ConfigurationError, match="pgbouncer"):
        make_engine(pgbouncer.settings(pooler="pgpool"))


def test_offline_keeper_polls_instead_of_listening_through_pgbouncer_postgres(
    postgres_database: TestDatabase, conf: ConferenceBuilder, pgbouncer: Bouncer, tmp_path: Path
) -> None:
    conf.attendee(addons={"lunch": 1})
    pooled = make_engine(pgbouncer.settings())

    def keeper(engine: Engine, name: str) -> OfflineKeeper:
        journal = Journal(tmp_path / name / "journal.sqlite3")
        sync = SnapshotSync(engine, Snapshot(tmp_path / name / "snapshot.sqlite3"), conf.slug)
        checkin = CheckInService(make_session_factory(engine))
        replayer = Replayer(journal, checkin, utcnow)
        return OfflineKeeper(Link(journal, utcnow), engine, sync, replayer, sync_s=1.0)

    through = keeper(pooled, "pooled")
    direct = keeper(postgres_database.engine, "direct")
    try:
        assert through._listen() is None
        assert direct._listen() is not None  # the same code listens on a direct connection
        through.start()
        assert through.synced.wait(10), "the snapshot never synced through PgBouncer"
    finally:
        through.stop()
        direct._close_listener()
        pooled.dispose()


def test_the_readme_shows_the_tested_pgbouncer_ini() -> None:
    shown = INI.format(
        host="db.example.org",
        port=5432,
        dbname="pycon",
        user="station",
        schema="station",
        listen_port=6432,
        auth_file="/etc/pgbouncer/userlist.txt",
        pool_size=POOL_SIZE,
    )
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"```ini\n{shown}```" in readme
