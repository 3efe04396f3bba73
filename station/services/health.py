"""A station's heartbeat, written in one statement every few seconds.

PostgreSQL: ``station_heartbeat()`` (migration 0017) upserts the station's row at the
server's real time and notifies ``station_health``, so dashboards refresh at once; a
station role may beat for its own conference only. SQLite: the station is its own
server, so it upserts the row itself, at its real time. Never the demo clock: a lost
station is told by real time.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from station.health import Heartbeat
from station.models import Conference, StationHealth, utcnow
from station.services.base import ServiceBase
from station.services.errors import ConfigurationError
from station.text import display_safe

_PG_BEAT = text(
    "SELECT station_heartbeat(:conference, :station, :mode, :product, :operator, :version, "
    ":closing, :online, :backlog, :last_scan_at, :scans, :refusals, :p50, :p95, :every_s, "
    ":started_at)"
)


class HealthService(ServiceBase):
    """Writes heartbeats; reading them is the dashboard's (``station.services.dashboard``)."""

    def beat(self, conference: str, beat: Heartbeat) -> None:
        """One heartbeat; database trouble raises DatabaseUnavailable (the caller shrugs)."""
        with self._transaction() as session:
            if session.get_bind().dialect.name == "postgresql":
                try:
                    session.execute(_PG_BEAT, _pg_params(conference, beat))
                except IntegrityError as refused:
                    # The function's own refusals (no such conference, not this role's) are
                    # the station's set-up, as on SQLite, not a database in trouble.
                    if getattr(refused.orig, "sqlstate", None) != _CHECK_VIOLATION:
                        raise
                    raise ConfigurationError(_refusal(refused)) from None
                return
            conference_id = session.scalar(
                Conference.__table__.select()
                .with_only_columns(Conference.id)
                .where(Conference.slug == conference)
            )
            if conference_id is None:
                raise ConfigurationError(f"No conference {conference!r} in the database.")
            values = _row(conference_id, beat)
            upsert = sqlite_insert(StationHealth).values(**values, beats=1)
            update: dict[str, object] = {k: upsert.excluded[k] for k in values if k not in _KEY}
            update["beats"] = StationHealth.beats + 1
            session.execute(upsert.on_conflict_do_update(index_elements=_KEY, set_=update))


_KEY = ("conference_id", "station")
_CHECK_VIOLATION = "23514"


def _refusal(error: IntegrityError) -> str:
    diag = getattr(error.orig, "diag", None)
    said = getattr(diag, "message_primary", None) or "refused"
    return f"Heartbeat refused by the database: {display_safe(said, limit=200)}."


def _cleaned(value: str | None, limit: int) -> str | None:
    return None if value is None else display_safe(value, limit=limit)


def _row(conference_id: int, beat: Heartbeat) -> dict[str, object]:
    window = beat.window
    return {
        "conference_id": conference_id,
        "station": display_safe(beat.station, limit=100),
        "mode": beat.mode[:20],
        "product": _cleaned(beat.product, 200),
        "operator": _cleaned(beat.operator, 200),
        "version": beat.version[:40],
        "state": "closed" if beat.closing else "running",
        "online": beat.online,
        "backlog": None if beat.backlog is None else max(beat.backlog, 0),
        "last_scan_at": window.last_scan_at,
        "scans_1m": window.scans,
        "refusals_1m": window.refusals,
        "p50_ms": window.p50_ms,
        "p95_ms": window.p95_ms,
        "every_s": min(max(beat.every_s, 1.0), 3600.0),
        "started_at": beat.started_at,
        "beat_at": utcnow(),
    }


def _pg_params(conference: str, beat: Heartbeat) -> dict[str, object]:
    window = beat.window
    return {
        "conference": conference,
        "station": display_safe(beat.station, limit=100),
        "mode": beat.mode,
        "product": _cleaned(beat.product, 200),
        "operator": _cleaned(beat.operator, 200),
        "version": beat.version,
        "closing": beat.closing,
        "online": beat.online,
        "backlog": beat.backlog,
        "last_scan_at": window.last_scan_at,
        "scans": window.scans,
        "refusals": window.refusals,
        "p50": window.p50_ms,
        "p95": window.p95_ms,
        "every_s": beat.every_s,
        "started_at": beat.started_at,
    }
