"""Signing in while the database is away: the operators as the snapshot last saw them.

A station restarted during an outage must still let its volunteer in. Names and
whether a PIN is set come from the snapshot (never a hash); an operator without a
PIN signs in offline, one with a PIN waits for the database (a PIN cannot be
checked without it). Online, this is the plain StaffService.
"""

from __future__ import annotations

from station.offline.link import Link
from station.offline.snapshot import Snapshot
from station.rulebook import words
from station.services.errors import DatabaseBusy, DatabaseUnavailable
from station.services.results import StaffMember
from station.services.staff import StaffService


class FailoverStaff:
    def __init__(self, online: StaffService, snapshot: Snapshot, link: Link) -> None:
        self._online = online
        self._snapshot = snapshot
        self._link = link

    def list_staff(self) -> tuple[StaffMember, ...]:
        if self._link.online:
            try:
                return self._online.list_staff()
            except DatabaseBusy:
                raise
            except DatabaseUnavailable:
                pass
        known = self._snapshot.staff()
        if not known:
            raise DatabaseUnavailable()
        return known

    def sign_in(self, name: str, pin: str | None) -> StaffMember:
        if self._link.online:
            try:
                return self._online.sign_in(name, pin)
            except DatabaseBusy:
                raise
            except DatabaseUnavailable:
                pass
        wanted = name.strip()
        member = next((m for m in self._snapshot.staff() if m.name == wanted), None)
        if member is None:
            if not self._snapshot.staff():
                raise DatabaseUnavailable()
            raise words.offline_unknown_operator(name)
        if member.has_pin:
            raise words.offline_pin()
        return member
