"""A station whose link to PostgreSQL is cut or blackholed keeps scanning, then catches up.

A real PostgreSQL behind ``FaultyLink``: ``cut`` resets every connection, ``blackhole``
makes packets vanish (no reset: the station learns only by waiting). The station is
built as ``station run`` builds it (``build_services``), with offline mode on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from station.bench.faulty_link import FaultyLink, faulty_link
from station.bootstrap import Services, build_services
from station.config import Settings
from station.db import make_engine, make_session_factory
from station.domain import Mode
from station.models import CheckIn, DoorCheck, ProductRedemption, utcnow
from station.offline.journal import Journal
from station.offline.replay import Replayer
from station.offline.settings import OfflineSettings
from station.offline.snapshot import Snapshot
from station.offline.store import OfflineStore
from station.offline.sync import SnapshotSync
from station.services import CheckInService, RedemptionService
from station.services.errors import DatabaseUnavailable
from station.services.results import (
    CheckInResult,
    DoorCheckResult,
    RedemptionResult,
    StationContext,
)
from station.services.scan import ScanService
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase as Database
from tests.offline.conftest import wait_until
from tests.tui.proxy import TcpProxy

pytestmark = pytest.mark.postgres

THRESHOLD_S = 1.0


@pytest.fixture
def link(postgres_database: Database) -> Iterator[FaultyLink]:
    url = make_url(postgres_database.settings.url)
    with faulty_link(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


def _station(
    db: Database, link: FaultyLink, conf: ConferenceBuilder, tmp_path: Path, *,
    name: str = "Lunch 1", mode: Mode = Mode.MEAL, product: str | None = "lunch",
) -> Services:  # fmt: skip
    url = make_url(db.settings.url).set(host="127.0.0.1", port=link.port)
    settings = Settings(
        database=replace(
            db.settings, url=url.render_as_string(hide_password=False), connect_timeout_s=2
        ),
        conference=conf.slug,
        station=name,
        mode=mode,
        product=product,
        offline=OfflineSettings(
            enabled=True,
            threshold_s=THRESHOLD_S,
            sync_s=1.0,
            probe_s=0.2,
            directory=tmp_path / name,
        ),
    )
    services = build_services(settings)
    assert services.offline is not None
    services.offline.start()
    assert services.offline.keeper.synced.wait(15), "the first fill never finished"
    return services


@pytest.mark.parametrize("fault", ["cut", "blackhole"])
def test_scans_during_an_outage_are_offline_verdicts_then_recorded_once(
    postgres_database: Database, link: FaultyLink, tmp_path: Path, fault: str
) -> None:
    conf = ConferenceBuilder(postgres_database.sessions)
    codes = [conf.attendee(f"OFF{n}", addons={"lunch": 1}).access_code for n in range(6)]
    services = _station(postgres_database, link, conf, tmp_path)
    offline = services.offline
    assert offline is not None
    ctx = StationContext(conf.slug, "Lunch 1")
    try:
        getattr(link, fault)()
        took: list[float] = []
        ids: list[uuid.UUID] = []
        for code in codes:
            client_id = uuid.uuid4()
            started = time.perf_counter()
            answer = services.scans.scan(ctx, code, client_id=client_id)
            took.append(time.perf_counter() - started)
            assert isinstance(answer, RedemptionResult) and answer.redeemed == 1
            ids.append(client_id)
        assert not offline.link.online
        assert max(took) < THRESHOLD_S + 0.5, took  # no scan waits past the threshold
        assert max(took[1:]) < 0.25, took  # once OFFLINE, verdicts come at local speed
        assert offline.link.state().waiting == len(codes)

        link.restore()
        wait_until(lambda: offline.link.online and offline.link.state().waiting == 0)
        with postgres_database.sessions() as s:
            rows = s.execute(
                select(ProductRedemption.client_id, func.count())
                .group_by(ProductRedemption.client_id)
            ).all()  # fmt: skip
        assert sorted(str(c) for c, n in rows if n == 1) == sorted(str(i) for i in ids)
        assert len(rows) == len(ids)
        # Back online, scans go to the database again.
        later = conf.attendee("LATER", addons={"lunch": 1})
        wait_until(lambda: offline.snapshot.holder(code="LATER") is not None)
        answer = services.scans.scan(ctx, later.access_code, client_id=uuid.uuid4())
        assert isinstance(answer, RedemptionResult)
        assert offline.link.state().waiting == 0
    finally:
        services.dispose()


def test_a_station_that_starts_during_an_outage_keeps_its_outage_and_journal(
    postgres_database: Database, link: FaultyLink, tmp_path: Path
) -> None:
    conf = ConferenceBuilder(postgres_database.sessions)
    conf.attendee("KEEP1")
    first = _station(postgres_database, link, conf, tmp_path, name="Desk", mode=Mode.CHECKIN,
                     product=None)  # fmt: skip
    ctx = StationContext(conf.slug, "Desk")
    link.cut()
    answer = first.scans.scan(ctx, "KEEP1", client_id=uuid.uuid4())
    assert isinstance(answer, CheckInResult)
    first.dispose()

    settings = replace(first.settings)
    again = build_services(settings)
    assert again.offline is not None
    assert not again.offline.link.online  # the outage survived the restart
    again.offline.start()
    try:
        answer = again.scans.scan(ctx, "KEEP1", client_id=uuid.uuid4())
        assert isinstance(answer, CheckInResult) and answer.badge.check_in_count == 2
        link.restore()
        wait_until(lambda: again.offline is not None and again.offline.link.state().waiting == 0)
        with postgres_database.sessions() as s:
            assert s.scalar(select(func.count()).select_from(CheckIn)) == 2
    finally:
        again.dispose()


@pytest.mark.parametrize("mode", ["checkin", "meal"])
def test_a_replayed_write_whose_answer_is_lost_is_recorded_once(
    postgres_database: Database, tmp_path: Path, mode: str
) -> None:
    """Replay sends an offline scan; the write commits, the answer never comes back and
    the connection drops. The entry stays in the journal; the next replay finds the
    record by its client id instead of writing a second one."""
    db = postgres_database
    conf = ConferenceBuilder(db.sessions)
    code = conf.attendee("LOSTANSWER", addons={"lunch": 1}).access_code
    snapshot = Snapshot(tmp_path / "s.sqlite3")
    journal = Journal(tmp_path / "j.sqlite3")
    SnapshotSync(db.engine, snapshot, conf.slug).fill()
    store = OfflineStore(snapshot, journal, utcnow)
    scans = ScanService(
        CheckInService(db.sessions, store=store),
        RedemptionService(db.sessions, store=store),
        mode=Mode.CHECKIN if mode == "checkin" else Mode.MEAL,
        product=None if mode == "checkin" else "lunch",
    )
    ctx = StationContext(conf.slug, "Lunch 1")
    scans.scan(ctx, code, client_id=uuid.uuid4())
    record = CheckIn if mode == "checkin" else ProductRedemption

    url = make_url(db.settings.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    try:
        through = replace(
            db.settings,
            url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            connect_timeout_s=2,
        )
        engine = make_engine(through)
        replayer = Replayer(journal, CheckInService(make_session_factory(engine)), utcnow)
        lost = proxy.lose_answer_to(code.encode(), skip=1)  # 1st: the facts; 2nd: the write
        with pytest.raises(DatabaseUnavailable):
            replayer.replay()
        assert lost.is_set(), "the proxy never saw the write"
        assert journal.waiting_count() == 1  # not marked: its answer never came
        with db.sessions() as s:
            assert s.scalar(select(func.count()).select_from(record)) == 1  # it did commit
        outcome = replayer.replay()
        assert outcome.recorded == 1 and journal.waiting_count() == 0
        with db.sessions() as s:
            assert s.scalar(select(func.count()).select_from(record)) == 1
        engine.dispose()
    finally:
        proxy.stop()


def test_an_exit_scanned_during_an_outage_is_replayed_as_an_exit(
    postgres_database: Database, link: FaultyLink, tmp_path: Path
) -> None:
    """A door switched to OUT keeps counting people out while the link is cut."""
    conf = ConferenceBuilder(postgres_database.sessions)
    code = conf.attendee("EXIT1", addons={"workshop": 1}).access_code
    services = _station(postgres_database, link, conf, tmp_path, name="Room 2",
                        mode=Mode.DOOR, product="addon:workshop")  # fmt: skip
    offline = services.offline
    assert offline is not None
    ctx = StationContext(conf.slug, "Room 2")
    try:
        entry = services.scans.scan(ctx, code, client_id=uuid.uuid4())
        assert isinstance(entry, DoorCheckResult) and entry.direction == "in"
        link.cut()
        out = services.scans.scan(ctx, code, client_id=uuid.uuid4(), direction="out")
        assert isinstance(out, DoorCheckResult) and out.direction == "out"
        assert not offline.link.online
        assert [e.direction for e in offline.journal.entries()] == ["out"]
        link.restore()
        wait_until(lambda: offline.link.online and offline.link.state().waiting == 0)
        with postgres_database.sessions() as s:
            directions = s.scalars(select(DoorCheck.direction).order_by(DoorCheck.id)).all()
        assert directions == ["in", "out"]
    finally:
        services.dispose()
