"""Offline mode's parts for one station, built once at start-up (see ``station.bootstrap``)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from station.domain import Mode
from station.models import utcnow
from station.offline.first import SnapshotFirstStore
from station.offline.journal import Journal, JournalEntry
from station.offline.link import FailoverScanService, Link, OfflineKeeper
from station.offline.replay import Replayer
from station.offline.settings import OfflineSettings
from station.offline.snapshot import Snapshot
from station.offline.store import OfflineStore
from station.offline.sync import SnapshotSync
from station.paths import data_dir
from station.services import CheckInService, RedemptionService
from station.services.base import ServiceBase
from station.services.errors import Refusal
from station.services.scan import ScanService


@dataclass
class OfflineParts:
    link: Link
    keeper: OfflineKeeper
    scans: FailoverScanService
    journal: Journal
    snapshot: Snapshot

    def start(self) -> None:
        self.keeper.start()

    def stop(self) -> None:
        self.keeper.stop()
        self.scans.close()


def station_clock(offset_s: float | None) -> Callable[[], datetime]:
    """The offline station's clock: the machine's, moved by the configured clock offset
    (``DatabaseSettings.clock_offset_s``, a demo's or a test's) as the server's recording
    clock is, so the offline path decides event rules at the same time the online one does."""
    if not offset_s:
        return utcnow
    offset = timedelta(seconds=offset_s)
    return lambda: utcnow() + offset


def offline_enabled(settings: OfflineSettings, engine: Engine) -> bool:
    if settings.enabled is not None:
        return settings.enabled
    return engine.dialect.name == "postgresql"


def file_stem(conference: str, station: str) -> str:
    """A file name for this conference and station: readable, and unique per station name."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", station).strip("-")[:40] or "station"
    digest = hashlib.sha256(station.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{conference}--{readable}-{digest}"


def offline_directory(settings: OfflineSettings) -> Path:
    return settings.directory or data_dir(os.environ) / "offline"


def build_offline(
    settings: OfflineSettings,
    *,
    conference: str,
    station: str,
    mode: Mode,
    product: str | None,
    engine: Engine,
    sessions: sessionmaker[Session],
    online: ScanService,
    writer: ServiceBase,
    clock: Callable[[], datetime] = utcnow,
) -> OfflineParts:
    """``online`` is the station's ScanService on the database; ``writer`` the online
    service replay writes through."""
    directory = offline_directory(settings)
    stem = file_stem(conference, station)
    journal = Journal(directory / f"{stem}.journal.sqlite3")
    snapshot = Snapshot(directory / f"{stem}.snapshot.sqlite3")
    if settings.snapshot_first:
        # Online scans decide on the snapshot first and send only the guarded write.
        max_age = timedelta(seconds=max(30.0, 6 * settings.sync_s))
        snapshot.hold(now=False)  # every holder in memory, built after the next sync
        for service in (online.checkin, online.redemption):
            service.decide_first_with(
                lambda pg: SnapshotFirstStore(pg, snapshot, clock, max_age=max_age)
            )
    store = OfflineStore(snapshot, journal, clock, settings.rules)
    offline = ScanService(
        CheckInService(sessions, clock=clock, store=store),
        RedemptionService(sessions, clock=clock, store=store),
        mode=mode,
        product=product,
    )
    link = Link(journal, clock)
    scans = FailoverScanService(
        online,
        offline,
        link,
        info_offline=lambda ctx: store.station_info(ctx, mode, product),
        threshold_s=settings.threshold_s,
    )
    sync = SnapshotSync(engine, snapshot, conference, clock=clock)

    def conflict_notice(entry: JournalEntry, refused: Refusal) -> None:
        link.notice(f"Offline scan of {entry.code} refused on replay: {refused.message}")

    replayer = Replayer(journal, writer, clock, on_conflict=conflict_notice)
    keeper = OfflineKeeper(
        link,
        engine,
        sync,
        replayer,
        threshold_s=settings.threshold_s,
        sync_s=settings.sync_s,
        probe_s=settings.probe_s,
    )
    return OfflineParts(link, keeper, scans, journal, snapshot)
