"""Build the station's parts from settings, once, at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from station.config import Settings
from station.db import make_engine, make_session_factory
from station.services import CheckInService, RedemptionService, StaffService


@dataclass(frozen=True)
class Services:
    """Everything the UI may call; the engine stays in here."""

    settings: Settings
    checkin: CheckInService
    redemption: RedemptionService
    staff: StaffService
    engine: Engine

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
