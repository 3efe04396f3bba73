"""The one door from the UI to the services for a scan: (code, client id) → answer.

The station's mode and product are fixed at start-up, so what a scan does —
check in, redeem the meal line's product, a picker's chosen line, admit at a
door, or list what a meal line's attendee can still redeem — is decided here,
once, not in the UI. The UI has one scan worker and no rule of its own.
"""

from __future__ import annotations

import uuid

from station.domain import Mode
from station.services.checkin import CheckInService
from station.services.errors import StationError
from station.services.redemption import RedemptionService
from station.services.results import ProductChoice, ScanAnswer, StationContext, StationInfo


class ScanService:
    """Turns a scanned code into the write (or look-up) this station's mode means."""

    def __init__(
        self,
        checkin: CheckInService,
        redemption: RedemptionService,
        *,
        mode: Mode,
        product: str | None,
    ) -> None:
        self._checkin = checkin
        self._redemption = redemption
        self._mode = mode
        self._product = product

    def action(self, line_item_id: int | None = None) -> str:
        """What a scan does here: checkin, redeem, door, or products (the picker's list)."""
        if line_item_id is not None:
            return "redeem"
        if self._mode is Mode.CHECKIN:
            return "checkin"
        if self._mode is Mode.DOOR:
            return "door"
        return "redeem" if self._product else "products"

    def target(self, line_item_id: int | None = None) -> str:
        """What the write is of, so a rescan is matched to the same write."""
        if line_item_id is not None:
            return f"line:{line_item_id}"
        if self._mode is Mode.CHECKIN:
            return ""
        return self._product or ""

    def scan(
        self,
        ctx: StationContext,
        code: str,
        *,
        client_id: uuid.UUID,
        line_item_id: int | None = None,
    ) -> ScanAnswer:
        """Act on one scan; a refusal or the database being away raises StationError."""
        action = self.action(line_item_id)
        if action == "checkin":
            return self._checkin.check_in(ctx, code, client_id=client_id)
        if action == "door":
            return self._checkin.record_door_check(
                ctx, code, product=self._product or "", client_id=client_id
            )
        if action == "products":
            return self._choices(ctx, code)
        if line_item_id is not None:
            return self._redemption.redeem_product(
                ctx, code, line_item_id=line_item_id, client_id=client_id
            )
        return self._redemption.redeem_product(
            ctx, code, product=self._product, client_id=client_id
        )

    def recorded(
        self,
        ctx: StationContext,
        *,
        action: str,
        target: str,
        client_id: uuid.UUID,
    ) -> ScanAnswer | None:
        """The write made under ``client_id``, if it reached the database; writes nothing."""
        if action == "checkin":
            return self._checkin.find_check_in(ctx, client_id)
        if action == "door":
            return self._checkin.find_door_check(ctx, client_id, product=target)
        if action == "redeem":
            return self._redemption.find_redemption(ctx, client_id)
        return None

    def station_info(self, ctx: StationContext) -> StationInfo:
        """The conference and product names this station shows in its header."""
        return self._checkin.station_info(ctx, self._mode, self._product)

    def log_unreadable(self, ctx: StationContext, shown: str, error: StationError) -> None:
        """A scan the decoder refused still gets its scan-log row."""
        self._checkin.log_refusal(ctx, action=self._log_action(), code=shown, error=error)

    def _log_action(self) -> str:
        action = self.action()
        return "redeem" if action == "products" else action

    def _choices(self, ctx: StationContext, code: str) -> ProductChoice:
        return self._checkin.product_choices(ctx, code)
