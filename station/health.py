"""A station's health: the last minute of its scans, and the heartbeat that reports it.

Plain data and arithmetic, no database and no UI: the station's screen feeds
:class:`ScanWindow` as verdicts are painted, the heartbeat timer turns it into a
:class:`Heartbeat`, and a service writes that in one statement. The scan-to-verdict
times are the volunteer's (first key to painted verdict), not the database's.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime

#: How often a station beats unless configured otherwise, and the bounds of the setting.
DEFAULT_EVERY_S = 5.0
MIN_EVERY_S = 1.0
MAX_EVERY_S = 300.0
#: A station is lost when it has not beaten for this many of its own intervals (plus a
#: little for a busy database): three missed beats, not one slow one.
LOST_AFTER_BEATS = 3
LOST_GRACE_S = 2.0
WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class WindowSummary:
    scans: int
    refusals: int
    p50_ms: float | None
    p95_ms: float | None
    last_scan_at: datetime | None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What a station says of itself every few seconds (one row of ``station_health``)."""

    station: str
    mode: str
    product: str | None
    operator: str | None
    version: str
    online: bool
    backlog: int | None
    """Scans waiting in the offline journal; None when offline mode is off."""
    window: WindowSummary
    every_s: float
    started_at: datetime
    closing: bool = False
    """The station is quitting: the dashboard shows it closed, not lost."""


class ScanWindow:
    """The scans of the last minute, each with its time to verdict and whether refused.

    Bounded: at most one entry per scan of the last ``span_s`` seconds, dropped as
    they age, so a station scanning all day keeps a minute of data.
    """

    def __init__(self, span_s: float = WINDOW_S) -> None:
        self.span_s = span_s
        self._scans: deque[tuple[float, float, bool]] = deque()
        self.last_scan_at: datetime | None = None

    def add(self, *, at: float, latency_s: float, refused: bool, wall: datetime) -> None:
        """One verdict: ``at`` monotonic, ``wall`` the station's clock for "last scan"."""
        self._scans.append((at, max(latency_s, 0.0), refused))
        self.last_scan_at = wall
        self._drop(at)

    def summary(self, now: float) -> WindowSummary:
        self._drop(now)
        times = sorted(latency for _, latency, _ in self._scans)
        return WindowSummary(
            scans=len(times),
            refusals=sum(1 for _, _, refused in self._scans if refused),
            p50_ms=_percentile_ms(times, 0.50),
            p95_ms=_percentile_ms(times, 0.95),
            last_scan_at=self.last_scan_at,
        )

    def _drop(self, now: float) -> None:
        oldest = now - self.span_s
        while self._scans and self._scans[0][0] < oldest:
            self._scans.popleft()


def _percentile_ms(ordered: list[float], share: float) -> float | None:
    """Nearest rank: a time some scan really took, never an interpolation."""
    if not ordered:
        return None
    rank = max(1, math.ceil(share * len(ordered)))
    return round(ordered[rank - 1] * 1000, 1)


def lost_after_s(every_s: float) -> float:
    return LOST_AFTER_BEATS * every_s + LOST_GRACE_S
