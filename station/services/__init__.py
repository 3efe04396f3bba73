"""The station's use-cases. Imports neither Textual nor anything of the UI.

The service classes load lazily, so the UI can import ``results`` and
``errors`` from here without pulling in SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from station.services.checkin import CheckInService
    from station.services.redemption import RedemptionService
    from station.services.staff import StaffService

__all__ = ["CheckInService", "RedemptionService", "StaffService"]


def __getattr__(name: str) -> Any:
    if name == "CheckInService":
        from station.services.checkin import CheckInService

        return CheckInService
    if name == "RedemptionService":
        from station.services.redemption import RedemptionService

        return RedemptionService
    if name == "StaffService":
        from station.services.staff import StaffService

        return StaffService
    raise AttributeError(name)
