"""A door's kept room count (room_count, migration 0015) equals the count from the records.

``rooms.inside_query`` is the definition (someone is inside when their last standing scan
at the door since its last clear is an entry); the triggers keep ``room_count`` to it.
Here random days of entries, exits, repeated entries, voids of door scans and clears,
over a few attendees and two doors (a ticket type and an add-on), with a clock that now
and then stands still or moves back, are written on both databases; after every step
the kept count of each door equals the one counted from the records.
"""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session, sessionmaker

from station.db import DatabaseSettings, make_engine, make_session_factory, upgrade
from station.models import DoorCheck, DoorClear, RoomCount, ScanVoid
from station.rulebook.facts import ProductKind
from station.services import rooms, void_queries
from tests.builders import ConferenceBuilder
from tests.fresh_schema import empty_postgres_schema
from tests.services.test_differential import _settings
from tests.services.test_hot_paths import truncate

__all__ = ["empty_postgres_schema"]  # the fixture

START = datetime(2027, 5, 13, 9, 0, tzinfo=UTC)
PEOPLE = 3
DOORS: tuple[ProductKind, ...] = ("ticket", "addon")


@dataclass(frozen=True)
class Scan:
    person: int
    door: int
    direction: Literal["in", "out"]
    seconds: int  # the clock moves by this much first (0: the same time; < 0: back)


@dataclass(frozen=True)
class Void:
    pick: int  # which of the scans not yet voided (modulo their number)


@dataclass(frozen=True)
class Clear:
    door: int
    seconds: int


Step = Scan | Void | Clear

_seconds = st.sampled_from((0, 1, 1, 30, 30, 600, -45))
steps = st.lists(
    st.one_of(
        st.builds(
            Scan,
            st.integers(0, PEOPLE - 1),
            st.integers(0, 1),
            st.sampled_from(("in", "in", "out")),
            _seconds,
        ),
        st.builds(Void, st.integers(0, 50)),
        st.builds(Clear, st.integers(0, 1), _seconds),
    ),
    max_size=30,
)

# Entry twice, exit of someone not inside, a void of an exit (back inside), a clear,
# then a scan recorded before the clear's time (a clock moved back): counts nothing.
KNOWN = [
    Scan(0, 0, "in", 1), Scan(0, 0, "in", 1), Scan(1, 0, "out", 1), Scan(1, 0, "in", 0),
    Scan(1, 0, "out", 1), Void(4), Scan(2, 1, "in", 1), Clear(0, 1), Scan(0, 0, "in", -45),
    Void(0), Scan(2, 0, "in", 30), Void(7), Clear(1, 0), Scan(2, 1, "out", 0),
]  # fmt: skip


@dataclass
class Day:
    sessions: sessionmaker[Session]
    conference_id: int
    people: list[int]
    doors: list[int]
    now: datetime = START

    @classmethod
    def build(cls, sessions: sessionmaker[Session]) -> Day:
        conf = ConferenceBuilder(sessions)
        built = [conf.attendee(addons={"tutorial": 1}) for _ in range(PEOPLE)]
        doors = [conf.ticket_type("general"), conf.addon("tutorial")]
        return cls(sessions, conf.conference_id, [b.attendee_id for b in built], doors)

    def product(self, door: int) -> dict[str, int | None]:
        kind = DOORS[door]
        return {
            "ticket_type_id": self.doors[door] if kind == "ticket" else None,
            "addon_id": self.doors[door] if kind == "addon" else None,
        }

    def apply(self, step: Step) -> None:
        with self.sessions.begin() as s:
            if isinstance(step, Scan):
                self.now += timedelta(seconds=step.seconds)
                s.execute(
                    insert(DoorCheck).values(
                        client_id=uuid.uuid4(), attendee_id=self.people[step.person],
                        conference_id=self.conference_id, checked_at=self.now,
                        direction=step.direction, station="Door", **self.product(step.door),
                    )
                )  # fmt: skip
            elif isinstance(step, Clear):
                self.now += timedelta(seconds=step.seconds)
                s.execute(
                    insert(DoorClear).values(
                        client_id=uuid.uuid4(), conference_id=self.conference_id,
                        cleared_at=self.now, station="Door", inside=0,
                        **self.product(step.door),
                    )
                )  # fmt: skip
            else:
                standing = s.execute(
                    select(DoorCheck.id, DoorCheck.attendee_id)
                    .where(void_queries.not_voided("door", DoorCheck.id))
                    .order_by(DoorCheck.id)
                ).all()
                if not standing:
                    return
                scan = standing[step.pick % len(standing)]
                s.execute(
                    insert(ScanVoid).values(
                        client_id=uuid.uuid4(), conference_id=self.conference_id,
                        attendee_id=scan.attendee_id, record_kind="door", record_id=scan.id,
                        station="Door", voided_at=self.now,
                    )
                )  # fmt: skip

    def assert_counts(self, after: object) -> None:
        with self.sessions() as s:
            for kind, door in zip(DOORS, self.doors, strict=True):
                kept = rooms.inside(s, kind, door)
                counted = int(s.scalar(rooms.inside_query(kind, door)) or 0)
                assert (kind, kept) == (kind, counted), f"after {after!r}"

    def run(self, day: list[Step]) -> None:
        self.assert_counts("nothing")
        for n, step in enumerate(day):
            self.apply(step)
            self.assert_counts(f"step {n}: {step!r}")


class Fresh:
    """A fresh copy of the migrated SQLite template for each example."""

    def __init__(self, template: Path, directory: Path) -> None:
        self.template = template
        self.directory = directory
        self.numbers = itertools.count()

    def sessions(self) -> Iterator[sessionmaker[Session]]:
        path = self.directory / f"rooms{next(self.numbers)}.sqlite3"
        shutil.copyfile(self.template, path)
        engine = make_engine(DatabaseSettings(url=f"sqlite:///{path}"))
        try:
            yield make_session_factory(engine)
        finally:
            engine.dispose()


def test_the_kept_count_is_the_records_count_on_sqlite(
    sqlite_template: Path, tmp_path: Path
) -> None:
    fresh = Fresh(sqlite_template, tmp_path)

    @_settings(60)
    @given(day=steps)
    @example(day=KNOWN)
    def check(day: list[Step]) -> None:
        for sessions in fresh.sessions():
            Day.build(sessions).run(day)

    check()


@pytest.mark.postgres
def test_the_kept_count_is_the_records_count_on_postgres(
    postgres_schema: DatabaseSettings,
) -> None:
    engine = make_engine(postgres_schema)
    sessions = make_session_factory(engine)

    @_settings(40)
    @given(day=steps)
    @example(day=KNOWN)
    def check(day: list[Step]) -> None:
        truncate(engine)
        Day.build(sessions).run(day)

    try:
        check()
    finally:
        engine.dispose()


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(RoomCount.ticket_type_id, RoomCount.addon_id, RoomCount.inside).order_by(
                RoomCount.ticket_type_id, RoomCount.addon_id
            )
        ).all()
    return [tuple(row) for row in rows]


def assert_backfills(engine: Engine) -> None:
    """Records written before 0015 are counted by its upgrade, as inside_query counts."""
    upgrade(engine, "0014")
    sessions = make_session_factory(engine)
    day = Day.build(sessions)
    for step in KNOWN:
        day.apply(step)
    upgrade(engine)
    with sessions() as s:
        expected = [
            (door if kind == "ticket" else None, door if kind == "addon" else None,
             int(s.scalar(rooms.inside_query(kind, door)) or 0))
            for kind, door in zip(DOORS, day.doors, strict=True)
        ]  # fmt: skip
    assert sorted(_rows(engine), key=repr) == sorted(expected, key=repr)
    assert any(inside for _t, _a, inside in expected)
    day.run([Scan(1, 1, "in", 5), Void(0), Clear(0, 1)])


def test_the_upgrade_counts_existing_records_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'old.sqlite3'}"))
    try:
        assert_backfills(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_upgrade_counts_existing_records_on_postgres(
    empty_postgres_schema: DatabaseSettings,
) -> None:
    engine = make_engine(empty_postgres_schema)
    try:
        assert_backfills(engine)
    finally:
        engine.dispose()
