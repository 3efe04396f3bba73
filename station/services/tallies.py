"""What the scan screen's counters show: plain data, importable without SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass

from station.domain import Mode


@dataclass(frozen=True, slots=True)
class StationTally:
    """The counters that fit the station's mode; "today" is the conference's local day.

    - check-in desk: ``today`` attendees checked in today, ``done`` checked in on any day,
      ``total`` attendees of the conference;
    - meal line: ``today`` units of its product served today, ``done`` served on any day,
      ``total`` units bought (on orders that are paid or partially refunded);
    - door: ``today`` people admitted today, ``done`` admitted on any day, ``total`` None.

    ``station_today``: scans this station accepted today, whatever the mode.
    A door also has ``inside``: people in its room now (``station.services.rooms``), and
    ``capacity`` when the room has one.
    """

    mode: Mode
    today: int
    done: int
    total: int | None
    station_today: int
    inside: int | None = None
    capacity: int | None = None
