"""Operators: who may sign in at a station, and their PIN check."""

from __future__ import annotations

from sqlalchemy import select

from station.models import Staff
from station.pins import verify_pin
from station.services.base import ServiceBase
from station.services.errors import InvalidInput
from station.services.results import StaffMember
from station.text import display_safe


class StaffService(ServiceBase):
    def list_staff(self) -> tuple[StaffMember, ...]:
        with self._transaction() as session:
            rows = session.execute(
                select(Staff.id, Staff.name, Staff.pin_hash)
                .where(Staff.active.is_(True))
                .order_by(Staff.name)
            ).all()
            return tuple(
                StaffMember(r.id, display_safe(r.name, limit=60), r.pin_hash is not None)
                for r in rows
            )

    def sign_in(self, name: str, pin: str | None) -> StaffMember:
        """The staff member, if the name is known and the PIN (when they have one) matches."""
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
