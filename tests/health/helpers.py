"""Heartbeats to send and rows to read back, for the health and dashboard tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from station.health import Heartbeat, WindowSummary
from station.models import StationHealth, utcnow
from tests.conftest import TestDatabase

STARTED = datetime(2026, 6, 15, 7, 0, tzinfo=UTC)
EMPTY = WindowSummary(scans=0, refusals=0, p50_ms=None, p95_ms=None, last_scan_at=None)


def heartbeat(station: str = "Door A", **changes: Any) -> Heartbeat:
    beat = Heartbeat(
        station=station,
        mode="checkin",
        product=None,
        operator="Ana",
        version="0.1.0",
        online=True,
        backlog=None,
        window=EMPTY,
        every_s=5.0,
        started_at=STARTED,
    )
    return replace(beat, **changes)


def health_rows(db: TestDatabase) -> list[Any]:
    """Every station_health row, read as the administrator (the station role cannot)."""
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                select(StationHealth.__table__).order_by(
                    StationHealth.conference_id, StationHealth.station
                )
            ).all()
        )


def age_beat(db: TestDatabase, station: str, seconds: float) -> None:
    """Make a station's last heartbeat ``seconds`` old, by the writer's clock."""
    with db.engine.begin() as conn:
        if db.kind == "postgres":
            conn.execute(
                text(
                    "UPDATE station_health SET beat_at = now() - make_interval(secs => :s) "
                    "WHERE station = :station"
                ),
                {"s": seconds, "station": station},
            )
        else:  # SQLite: the station's own clock wrote it
            conn.execute(
                StationHealth.__table__.update()
                .where(StationHealth.station == station)
                .values(beat_at=utcnow() - timedelta(seconds=seconds))
            )
