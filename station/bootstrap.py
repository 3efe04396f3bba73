"""Build the station's parts from settings, once, at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine

from station.config import Settings
from station.db import make_engine, make_session_factory
from station.offline.link import FailoverScanService
from station.offline.parts import OfflineParts, build_offline, offline_enabled, station_clock
from station.offline.staff import FailoverStaff
from station.services import CheckInService, RedemptionService, StaffService
from station.services.counters import CounterService
from station.services.scan import ScanService
from station.services.voids import VoidService


@dataclass(frozen=True)
class Services:
    """Everything the UI may call; the engine stays in here."""

    settings: Settings
    checkin: CheckInService
    redemption: RedemptionService
    staff: StaffService
    engine: Engine

    @cached_property
    def online_scans(self) -> ScanService:
        """Scans on the database, set up for this station's mode."""
        return ScanService(
            self.checkin,
            self.redemption,
            mode=self.settings.mode,
            product=self.settings.product,
        )

    @cached_property
    def offline(self) -> OfflineParts | None:
        """Offline mode's parts (snapshot, journal, keeper), or None when it is off."""
        settings = self.settings
        if not offline_enabled(settings.offline, self.engine) or not settings.conference:
            return None
        return build_offline(
            settings.offline,
            conference=settings.conference,
            station=settings.station,
            mode=settings.mode,
            product=settings.product,
            engine=self.engine,
            sessions=self.checkin._sessions,
            online=self.online_scans,
            writer=self.checkin,
            clock=station_clock(settings.database.clock_offset_s),
        )

    @cached_property
    def scans(self) -> ScanService | FailoverScanService:
        """The UI's one entry point for a scan: online with an offline fallback when on."""
        offline = self.offline
        return self.online_scans if offline is None else offline.scans

    @cached_property
    def operators(self) -> StaffService | FailoverStaff:
        """Sign-in's entry point: with offline mode on, operators without a PIN can sign in
        from the snapshot while the database is away."""
        offline = self.offline
        if offline is None:
            return self.staff
        return FailoverStaff(self.staff, offline.snapshot, offline.link)

    @cached_property
    def voids(self) -> VoidService:
        """Voids of scans (the operator's last, a supervisor's any), on the same sessions."""
        return VoidService(self.checkin._sessions, clock=self.checkin._clock)

    @cached_property
    def counters(self) -> CounterService:
        """Read-only counts for the counters line, on the check-in service's sessions."""
        return CounterService.sharing(self.checkin)

    def dispose(self) -> None:
        if "offline" in self.__dict__ and self.offline is not None:
            self.offline.stop()
        self.engine.dispose()


def build_services(settings: Settings, *, engine: Engine | None = None) -> Services:
    engine = engine or make_engine(settings.database)
    sessions = make_session_factory(engine)
    return Services(
        settings=settings,
        checkin=CheckInService(sessions),
        redemption=RedemptionService(sessions),
        staff=StaffService(sessions),
        engine=engine,
    )
