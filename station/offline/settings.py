"""Offline mode's settings (the config's ``[offline]`` table), plain data.

The bounded risk of an outage lives here: which products may be redeemed
offline, how many per product per station per outage, and for how long.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from station.rulebook.facts import OfflinePolicy

DEFAULT_CAP = 200
DEFAULT_MAX_MINUTES = 240.0


@dataclass(frozen=True, slots=True)
class OfflineRules:
    """``policies`` maps an add-on slug to "allow" or "refuse" (``default_policy`` for
    the rest); ``cap`` bounds one product's offline redemptions per station per
    outage (None: no cap); after ``max_seconds`` offline nothing more is redeemed."""

    default_policy: OfflinePolicy = "allow"
    policies: dict[str, OfflinePolicy] = field(default_factory=dict)
    cap: int | None = DEFAULT_CAP
    max_seconds: float | None = DEFAULT_MAX_MINUTES * 60

    def policy(self, slug: str) -> OfflinePolicy:
        return self.policies.get(slug, self.default_policy)


@dataclass(frozen=True, slots=True)
class OfflineSettings:
    """``enabled`` None means "auto": on for a PostgreSQL database, off for SQLite
    (an embedded file has no network to lose). ``snapshot_first``: online scans decide
    on the snapshot and send only the guarded write (one round trip, station.offline.first)."""

    enabled: bool | None = None
    threshold_s: float = 2.0
    sync_s: float = 5.0
    probe_s: float = 1.0
    directory: Path | None = None
    snapshot_first: bool = True
    rules: OfflineRules = field(default_factory=OfflineRules)
