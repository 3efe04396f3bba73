"""A station clock a test sets, and services that decide and record on it.

On SQLite the station is its own server: the services' clock is the recording
clock. On PostgreSQL the guarded functions record at station_now() (migration
0014), which adds ``station.clock_offset`` for a session allowed to write the
record tables anyway (the tests' owner role): each engine is opened with the
offset that puts the server's clock at the station's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from station.services import CheckInService, RedemptionService
from tests.conftest import TestDatabase


class StationClock:
    def __init__(self, database: TestDatabase) -> None:
        self.database = database
        self.now = datetime.now(UTC)
        self._engines: list[Engine] = []

    def __enter__(self) -> StationClock:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _b: TracebackType | None
    ) -> None:
        for engine in self._engines:
            engine.dispose()

    def set(self, at: datetime) -> None:
        self.now = at

    def __call__(self) -> datetime:
        return self.now

    def engine(self) -> Engine:
        """An engine whose server clock reads ``now`` (PostgreSQL), or the test's own."""
        if self.database.kind != "postgres":
            return self.database.engine
        offset = (self.now - datetime.now(UTC)).total_seconds()
        engine = self.database.new_engine(clock_offset_s=offset)
        self._engines.append(engine)
        return engine


def services_at(
    database: TestDatabase, clock: StationClock
) -> tuple[CheckInService, RedemptionService]:
    engine = clock.engine()
    sessions = sessionmaker(engine, expire_on_commit=False)
    return CheckInService(sessions, clock=clock), RedemptionService(sessions, clock=clock)
