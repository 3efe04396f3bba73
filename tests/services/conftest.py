"""Services on a real database, with a station context and a conference to fill."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from station.services import CheckInService, RedemptionService
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase


@dataclass
class World:
    db: TestDatabase
    conf: ConferenceBuilder
    checkin: CheckInService
    redemption: RedemptionService
    ctx: StationContext

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.db.sessions

    def count(self, model: type, **where: object) -> int:
        with self.sessions() as s:
            query = select(func.count()).select_from(model)
            for column, value in where.items():
                query = query.where(getattr(model, column) == value)
            return int(s.scalar(query) or 0)


@pytest.fixture
def world(database: TestDatabase) -> World:
    conf = ConferenceBuilder(database.sessions)
    staff_id = conf.staff("Ana")
    return World(
        db=database,
        conf=conf,
        checkin=CheckInService(database.sessions),
        redemption=RedemptionService(database.sessions),
        ctx=StationContext(conference=conf.slug, station="Door A", staff_id=staff_id),
    )


@contextmanager
def counting_statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
