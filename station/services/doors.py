"""A door's room: how many are inside, and a supervisor's "everyone out".

"Everyone out" is a record (``door_clear``), never a delete: from its time on,
nobody counts as inside the door's room until scanned in again (see
``station.services.rooms``). A supervisor's name and PIN are checked the way a
supervisor's void checks them (``StaffService.check_supervisor``); on PostgreSQL
station_door_clear() (migration 0014) compares the PIN's hash again, counts the
room under the product's lock and records at the recording clock, station_now().
On SQLite the file is the station's own: the count and the insert run in one
``BEGIN IMMEDIATE`` transaction, so no admission slips in between.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from station.models import AddOn, DoorClear, TicketType
from station.rulebook.facts import ProductKind
from station.services import rooms
from station.services.checkin import resolve_product
from station.services.errors import InvalidInput
from station.services.results import DoorClearResult, RoomCount, StationContext
from station.services.staff import StaffService

_CLEAR = text(
    "SELECT outcome, recorded_at, inside FROM station_door_clear(:conference, :kind, "
    ":product, :client_id, :client_at, :station, :staff, :pin_hash)"
)


class DoorService(StaffService):
    def room(self, ctx: StationContext, product: str) -> RoomCount:
        """How many are inside the room of the door for ``product``, and its capacity."""
        with self._transaction() as session:
            conference = self._conference_ref(ctx.conference)
            kind, product_id, name = resolve_product(session, conference, product)
            capacity = _capacity(session, kind, product_id)
            inside = rooms.inside(session, _kind(kind), product_id)
        return RoomCount(product=name, inside=inside, capacity=capacity)

    def clear_door(
        self,
        ctx: StationContext,
        *,
        product: str,
        supervisor: str,
        pin: str,
        client_id: uuid.UUID,
    ) -> DoorClearResult:
        """Everyone out of the door's room, as that supervisor (name and PIN); recorded."""
        member, pin_hash = self.check_supervisor(supervisor, pin, action="clear a door")
        client_at = self._clock()
        with self._transaction() as session:
            conference = self._conference_ref(ctx.conference)
            kind, product_id, name = resolve_product(session, conference, product)
            if self._on_postgres():
                row = session.execute(
                    _CLEAR,
                    {
                        "conference": conference.id,
                        "kind": kind,
                        "product": product_id,
                        "client_id": client_id,
                        "client_at": client_at,
                        "station": ctx.station[:100],
                        "staff": member.id,
                        "pin_hash": pin_hash,
                    },
                ).one()
                if row.outcome != "ok":
                    raise InvalidInput("That door was already cleared by this request.")
                at: datetime = row.recorded_at
                inside = int(row.inside)
            else:
                inside = rooms.inside(session, _kind(kind), product_id)
                at = client_at
                session.add(
                    DoorClear(
                        client_id=client_id,
                        conference_id=conference.id,
                        ticket_type_id=product_id if kind == "ticket" else None,
                        addon_id=product_id if kind == "addon" else None,
                        cleared_at=at,
                        client_at=client_at,
                        staff_id=member.id,
                        station=ctx.station[:100],
                        inside=inside,
                    )
                )
        return DoorClearResult(product=name, counted_out=inside, cleared_at=at, by=member.name)


def _kind(kind: str) -> ProductKind:
    return "ticket" if kind == "ticket" else "addon"


def _capacity(session: Session, kind: str, product_id: int) -> int | None:
    model: type[TicketType] | type[AddOn] = TicketType if kind == "ticket" else AddOn
    value = session.scalar(select(model.capacity).where(model.id == product_id))
    return int(value) if value is not None else None
