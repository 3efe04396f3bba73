"""The dashboard's words and figures: plain strings from the feed's views, no widgets.

Everything a station or an attendee named (station, operator, product names) is
made display-safe here and shown as plain text by the widgets, never as markup.
"""

from __future__ import annotations

from datetime import datetime

from station.services.dashboard import StationStatus, StationsView, TotalsView
from station.text import display_safe
from station.tui.verdicts import local_time

SPARK_CHARS = " ▁▂▃▄▅▆▇█"
ASCII_SPARK_CHARS = " .:-=+*#%"

# (key, label, width): what matters most first, so 80 columns show it and the rest
# scrolls sideways.
COLUMNS = (
    ("station", "Station", 16),
    ("status", "State", 11),
    ("rate", "/min", 4),
    ("refused", "Ref", 4),
    ("p95", "p95ms", 5),
    ("trend", "Last 15 min", 15),
    ("last", "Last scan", 9),
    ("mode", "Mode", 18),
    ("operator", "Operator", 14),
)

STATUS_WORDS = {"ok": "OK", "offline": "OFFLINE", "lost": "LOST", "closed": "closed"}


def sparkline(values: tuple[int, ...], *, ascii_only: bool = False) -> str:
    """One character per value, scaled to the largest; zero is a blank, any scan shows."""
    chars = ASCII_SPARK_CHARS if ascii_only else SPARK_CHARS
    top = max(values, default=0)
    if top <= 0:
        return chars[0] * len(values)
    steps = len(chars) - 1
    return "".join(chars[0] if v <= 0 else chars[max(1, round(v / top * steps))] for v in values)


def status_text(station: StationStatus) -> str:
    word = STATUS_WORDS.get(station.status, station.status)
    if station.status == "lost":
        return f"{word} {_ago(station.silent_s)}"
    if station.status == "offline" and station.backlog:
        return f"{word} {station.backlog} wait"
    if station.status == "ok" and station.backlog:
        return f"OK {station.backlog} wait"
    return word


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def station_cells(
    station: StationStatus, zone: str, *, ascii_only: bool = False
) -> tuple[str, ...]:
    mode = station.mode
    if station.product:
        mode = f"{mode} {station.product}"
    last = local_time(station.last_scan_at, zone, seconds=True) if station.last_scan_at else "—"
    p95 = "—" if station.p95_ms is None else f"{station.p95_ms:.0f}"
    return (
        display_safe(station.station, limit=40),
        status_text(station),
        str(station.scans_1m),
        str(station.refusals_1m),
        p95,
        sparkline(station.per_minute, ascii_only=ascii_only),
        last,
        display_safe(mode, limit=40),
        display_safe(station.operator or "—", limit=40),
    )


def title_line(name: str, view: StationsView | None, zone: str) -> str:
    name = display_safe(name, limit=40)
    if view is None:
        return f"{name} — dashboard — reading…"
    clock = local_time(view.now, zone, seconds=True)
    if not view.stations:
        return f"{name} — {clock} — no station has reported yet"
    counts = [f"{len(view.stations)} stations"]
    for status in ("ok", "offline", "lost", "closed"):
        n = view.count(status)
        if n:
            counts.append(f"{n} {STATUS_WORDS[status].lower()}")
    return f"{name} — {clock} — " + ", ".join(counts)


def summary_line(
    view: StationsView | None, totals: TotalsView | None, *, ascii_only: bool = False
) -> str:
    parts = []
    if totals is not None:
        share = f" ({totals.checked_in / totals.attendees:.0%})" if totals.attendees else ""
        parts.append(f"Checked in {totals.checked_in:,}/{totals.attendees:,}{share}")
    if view is not None:
        now = view.per_minute[-1] if view.per_minute else 0
        before = view.per_minute[-2] if len(view.per_minute) > 1 else 0
        line = sparkline(view.per_minute, ascii_only=ascii_only)
        parts.append(f"Scans/min {line} last {before}, now {now}")
    return "  ·  ".join(parts)


def refusal_lines(view: StationsView | None) -> list[str]:
    if view is None:
        return []
    if not view.refusals:
        return ["None in the last hour."]
    return [f"{n:>5}  {display_safe(words, limit=40)}" for words, n in view.refusals]


def product_lines(totals: TotalsView | None) -> list[str]:
    if totals is None:
        return []
    if not totals.products:
        return ["No products."]
    return [f"{p.served:,}/{p.bought:,} {display_safe(p.name, limit=40)}" for p in totals.products]


def door_lines(totals: TotalsView | None) -> list[str]:
    if totals is None:
        return []
    if not totals.doors:
        return ["No doors counted."]
    lines = []
    for door in totals.doors:
        room = f"{door.inside}/{door.capacity}" if door.capacity is not None else f"{door.inside}"
        lines.append(f"{room} {display_safe(door.name, limit=40)}")
    return lines


def error_line(error: str, at: datetime | None, zone: str) -> str:
    since = f" (last good read {local_time(at, zone, seconds=True)})" if at else ""
    return f"Cannot read the database: {error}{since}"
