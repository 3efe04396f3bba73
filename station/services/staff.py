"""Operators: who may sign in at a station, and their PIN check.

On PostgreSQL a station never reads a PIN hash (its role has no right to the
column): it lists operators and checks a PIN through functions of migration
0007, hashing the typed PIN itself with the salt it is given; the database
compares, and makes a wrong PIN cost a second. SQLite has no roles: the file
is the station's own, and the hash is read and compared here. Either way no
query of a station names staff.pin_hash on PostgreSQL, nor selects whole rows.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select, text

from station.models import Staff
from station.pins import hash_pin_with, verify_pin
from station.rulebook import words
from station.services.base import ServiceBase
from station.services.errors import InvalidInput
from station.services.results import StaffMember
from station.text import display_safe


class StaffService(ServiceBase):
    def _on_postgres(self) -> bool:
        bind = self._sessions.kw.get("bind")
        return isinstance(bind, Engine) and bind.dialect.name == "postgresql"

    def list_staff(self) -> tuple[StaffMember, ...]:
        with self._transaction() as session:
            if self._on_postgres():
                rows = session.execute(text("SELECT id, name, has_pin FROM station_staff()"))
                return tuple(
                    StaffMember(r.id, display_safe(r.name, limit=60), bool(r.has_pin)) for r in rows
                )
            found = session.execute(
                select(Staff.id, Staff.name, Staff.pin_hash.is_not(None).label("has_pin"))
                .where(Staff.active.is_(True))
                .order_by(Staff.name)
            ).all()
            return tuple(
                StaffMember(r.id, display_safe(r.name, limit=60), r.has_pin) for r in found
            )

    def sign_in(self, name: str, pin: str | None) -> StaffMember:
        """The staff member, if the name is known and the PIN (when they have one) matches."""
        if self._on_postgres():
            return self._sign_in_by_function(name, pin)
        with self._transaction() as session:
            row = session.execute(
                select(Staff.id, Staff.name, Staff.pin_hash).where(
                    Staff.name == name.strip(), Staff.active.is_(True)
                )
            ).one_or_none()
        if row is None:
            raise InvalidInput(f"No operator called {display_safe(name, limit=40)!r}.")
        if row.pin_hash is not None and not verify_pin(pin or "", row.pin_hash):
            raise InvalidInput("Wrong PIN — try again.")
        return StaffMember(row.id, display_safe(row.name, limit=60), row.pin_hash is not None)

    def _sign_in_by_function(self, name: str, pin: str | None) -> StaffMember:
        with self._transaction() as session:
            row = session.execute(
                text("SELECT id, name, parameters FROM station_pin_parameters(:name)"),
                {"name": name.strip()},
            ).one_or_none()
        if row is None:
            raise InvalidInput(f"No operator called {display_safe(name, limit=40)!r}.")
        member = StaffMember(row.id, display_safe(row.name, limit=60), row.parameters is not None)
        if row.parameters is None:
            return member
        # Hashed here, between the two calls, so no transaction stays open for scrypt.
        hashed = hash_pin_with(pin or "", row.parameters) or ""
        with self._transaction() as session:
            matches = session.scalar(select(func.station_check_pin(row.id, hashed)))
        if not matches:
            raise InvalidInput("Wrong PIN — try again.")
        return member

    def check_supervisor(
        self, name: str, pin: str, *, action: str = "void this scan"
    ) -> tuple[StaffMember, str | None]:
        """The supervisor, if the name is a supervisor's and the PIN matches; on
        PostgreSQL also the PIN's hash, which the guarded function (station_void(),
        station_door_clear()) compares again. ``action`` words the refusal."""
        if self._on_postgres():
            member = self._sign_in_by_function(name, pin)
            with self._transaction() as session:
                row = session.execute(
                    select(Staff.supervisor).where(Staff.id == member.id)
                ).one_or_none()
                parameters = session.scalar(
                    text("SELECT parameters FROM station_pin_parameters(:name)"),
                    {"name": name.strip()},
                )
            if row is None or not row.supervisor or parameters is None:
                raise words.not_a_supervisor(action)
            return member, hash_pin_with(pin, parameters)
        with self._transaction() as session:
            found = session.execute(
                select(Staff.id, Staff.name, Staff.pin_hash, Staff.supervisor).where(
                    Staff.name == name.strip(), Staff.active.is_(True)
                )
            ).one_or_none()
        if found is None or not found.supervisor or found.pin_hash is None:
            raise words.not_a_supervisor(action)
        if not verify_pin(pin, found.pin_hash):
            raise InvalidInput("Wrong PIN — try again.")
        return StaffMember(found.id, display_safe(found.name, limit=60), True), None
