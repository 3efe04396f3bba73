"""Build the station's parts from settings, once, at start-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, select

from station.config import Settings
from station.db import DatabaseSettings, make_engine, make_session_factory
from station.models import Conference, utcnow
from station.offline.link import FailoverScanService
from station.offline.parts import OfflineParts, build_offline, offline_enabled, station_clock
from station.offline.staff import FailoverStaff
from station.services import CheckInService, RedemptionService, StaffService
from station.services.counters import CounterService
from station.services.db_errors import database_errors
from station.services.doors import DoorService
from station.services.errors import ConfigurationError, DatabaseUnavailable
from station.services.health import HealthService
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
    clock: Callable[[], datetime] = utcnow
    """The station's clock: the real time, or the demo clock (``clock`` in the settings)."""

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
            clock=self.clock,
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
    def doors(self) -> DoorService:
        """A door's room and a supervisor's "everyone out", on the same sessions and clock."""
        return DoorService(self.checkin._sessions, clock=self.checkin._clock)

    @cached_property
    def counters(self) -> CounterService:
        """Read-only counts for the counters line, on the check-in service's sessions."""
        return CounterService.sharing(self.checkin)

    @cached_property
    def health(self) -> HealthService:
        """The station's heartbeat, on the same sessions (never the demo clock)."""
        return HealthService(self.checkin._sessions)

    def dispose(self) -> None:
        if "offline" in self.__dict__ and self.offline is not None:
            self.offline.stop()
        self.engine.dispose()


def build_services(settings: Settings, *, engine: Engine | None = None) -> Services:
    if settings.clock is not None and engine is None:
        offset = demo_clock_offset(settings)
        settings = replace(
            settings, database=replace(settings.database, clock_offset_s=offset.total_seconds())
        )
    # One clock for the services, the offline path and the server's recording clock.
    clock = station_clock(settings.database.clock_offset_s)
    engine = engine or make_engine(settings.database)
    sessions = make_session_factory(engine)
    return Services(
        settings=settings,
        checkin=CheckInService(sessions, clock=clock),
        redemption=RedemptionService(sessions, clock=clock),
        staff=StaffService(sessions, clock=clock),
        engine=engine,
        clock=clock,
    )


def demo_clock_offset(settings: Settings, *, now: datetime | None = None) -> timedelta:
    """How far the demo clock runs ahead of the real one (behind: negative).

    A clock without a zone is the conference's local time, read from the database
    once here; the whole station then runs at real time plus this offset: the rule
    book's now and, on PostgreSQL, the recording clock station_now() (honoured only
    for a role that may write the record tables itself, never a station role).
    """
    target = settings.clock
    assert target is not None
    if target.tzinfo is None:
        target = target.replace(tzinfo=_conference_zone(settings.database, settings.conference))
    return target.astimezone(UTC) - (now or datetime.now(UTC))


def _conference_zone(database: DatabaseSettings, conference: str) -> ZoneInfo:
    engine = make_engine(database)
    try:
        with database_errors(), engine.connect() as conn:
            name = conn.scalar(select(Conference.timezone).where(Conference.slug == conference))
    except DatabaseUnavailable:
        raise ConfigurationError(
            "The demo clock needs the conference's time zone, but the database does not answer."
        ) from None
    finally:
        engine.dispose()
    if name is None:
        raise ConfigurationError(
            f"The demo clock needs the conference's time zone, but there is no conference "
            f"{conference!r}."
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
