"""Adding and listing operators from the command line, before any station runs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from station.models import Staff
from station.pins import hash_pin
from station.services.errors import InvalidInput
from station.text import display_safe, has_unsafe_characters

MAX_NAME_LENGTH = 150
MIN_PIN_LENGTH = 4
MAX_PIN_LENGTH = 64


@dataclass(frozen=True, slots=True)
class StaffRow:
    name: str  # display-safe
    has_pin: bool
    active: bool
    supervisor: bool = False


def check_pin(pin: str) -> str:
    """A PIN fit to hash: refused with one line if a volunteer could not type it back."""
    if len(pin) < MIN_PIN_LENGTH:
        raise InvalidInput(f"PIN too short: use at least {MIN_PIN_LENGTH} characters.")
    if len(pin) > MAX_PIN_LENGTH:
        raise InvalidInput(f"PIN too long: use at most {MAX_PIN_LENGTH} characters.")
    if has_unsafe_characters(pin) or any(ch.isspace() for ch in pin):
        raise InvalidInput("PIN must not contain spaces or control characters.")
    return pin


def add_staff(
    sessions: sessionmaker[Session], name: str, *, pin: str | None = None, supervisor: bool = False
) -> StaffRow:
    """Add an operator; InvalidInput if the name is unusable or taken."""
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInput("Staff name must not be empty.")
    if has_unsafe_characters(cleaned):
        raise InvalidInput("Staff name must not contain control characters.")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInput(f"Staff name too long: at most {MAX_NAME_LENGTH} characters.")
    if supervisor and pin is None:
        raise InvalidInput("A supervisor needs a PIN: it is asked for each void.")
    pin_hash = hash_pin(check_pin(pin)) if pin is not None else None
    shown = display_safe(cleaned, limit=60)
    try:
        with sessions.begin() as session:
            taken = session.scalar(select(Staff.id).where(Staff.name == cleaned))
            if taken is not None:
                raise InvalidInput(f"There is already a staff member called {shown!r}.")
            session.add(Staff(name=cleaned, pin_hash=pin_hash, active=True, supervisor=supervisor))
    except IntegrityError:  # another station added the same name in between
        raise InvalidInput(f"There is already a staff member called {shown!r}.") from None
    return StaffRow(shown, pin_hash is not None, True, supervisor)


def list_staff(sessions: sessionmaker[Session]) -> tuple[StaffRow, ...]:
    """Everyone, inactive included, by name."""
    with sessions() as session:
        rows = session.execute(
            select(Staff.name, Staff.pin_hash, Staff.active, Staff.supervisor).order_by(Staff.name)
        ).all()
    return tuple(
        StaffRow(display_safe(r.name, limit=60), r.pin_hash is not None, r.active, r.supervisor)
        for r in rows
    )
