"""An offline station against a real database: its snapshot, journal and replayer."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from station.domain import Mode
from station.models import utcnow
from station.offline.journal import Journal
from station.offline.replay import Replayer
from station.offline.settings import OfflineRules
from station.offline.snapshot import AttendeeRow, Snapshot
from station.offline.store import OfflineStore
from station.offline.sync import SnapshotSync
from station.services import CheckInService, RedemptionService
from station.services.results import StationContext
from station.services.scan import ScanService
from tests.services.conftest import World, world  # noqa: F401 - the fixture


@dataclass
class OfflineStation:
    """One station's offline parts; ``scans(mode, product)`` decides from the snapshot."""

    ctx: StationContext
    snapshot: Snapshot
    journal: Journal
    store: OfflineStore
    sync: SnapshotSync
    replayer: Replayer
    world: World

    def scans(self, mode: Mode = Mode.CHECKIN, product: str | None = None) -> ScanService:
        sessions = self.world.sessions
        return ScanService(
            CheckInService(sessions, store=self.store),
            RedemptionService(sessions, store=self.store),
            mode=mode,
            product=product,
        )


@pytest.fixture
def offline_station(world: World, tmp_path: Path) -> Callable[..., OfflineStation]:  # noqa: F811
    """Makes offline stations on the world's database (one directory each)."""

    def make(name: str = "Lunch 1", rules: OfflineRules | None = None) -> OfflineStation:
        directory = tmp_path / name.replace(" ", "-")
        snapshot = Snapshot(directory / "snapshot.sqlite3")
        journal = Journal(directory / "journal.sqlite3")
        store = OfflineStore(snapshot, journal, utcnow, rules)
        sync = SnapshotSync(world.db.engine, snapshot, world.conf.slug)
        ctx = StationContext(world.conf.slug, name, world.ctx.staff_id)
        replayer = Replayer(journal, world.checkin, utcnow)
        return OfflineStation(ctx, snapshot, journal, store, sync, replayer, world)

    return make


def ada_and_bob() -> list[AttendeeRow]:
    """Two attendees of a copy written by hand: Ada (order 10) and Bob (order 20)."""
    return [
        AttendeeRow(1, "ADA1", "Ada", "L", "ada", "a@x", 10, "paid", "R1", "", None, 0,
                    None, None, None, versions=(1,), records=(0, 0, 0, 0)),
        AttendeeRow(2, "BOB2", "Bob", "L", "bob", "b@x", 20, "paid", "R2", "", None, 0,
                    None, None, None, versions=(2,), records=(0, 0, 0, 0)),
    ]  # fmt: skip


def wait_until(check: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
