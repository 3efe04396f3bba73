"""Build the station's parts from settings, once, at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine

from station.config import Settings
from station.db import make_engine, make_session_factory
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
    def scans(self) -> ScanService:
        """The UI's one entry point for a scan, set up for this station's mode."""
        return ScanService(
            self.checkin,
            self.redemption,
            mode=self.settings.mode,
            product=self.settings.product,
        )

    @cached_property
    def voids(self) -> VoidService:
        """Voids of scans (the operator's last, a supervisor's any), on the same sessions."""
        return VoidService(self.checkin._sessions, clock=self.checkin._clock)

    @cached_property
    def counters(self) -> CounterService:
        """Read-only counts for the counters line, on the check-in service's sessions."""
        return CounterService.sharing(self.checkin)

    def dispose(self) -> None:
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
