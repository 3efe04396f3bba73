"""Plain domain vocabulary shared by the database layer and the UI.

Kept free of SQLAlchemy so the UI can use it without importing the ORM.
"""

from __future__ import annotations

import enum


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


ACTIVE_ORDER_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED})


class Mode(enum.StrEnum):
    """What a station does with a scan."""

    CHECKIN = "checkin"
    MEAL = "meal"
    DOOR = "door"
