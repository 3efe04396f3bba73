"""The one door from the UI to the services for a scan: (code, client id) → answer.

The station's mode and product are fixed at start-up, so what a scan does —
check in, redeem the meal line's product, a picker's chosen line, admit at a
door, or list what a meal line's attendee can still redeem — is decided here,
once, not in the UI. The UI has one scan worker and no rule of its own.
"""

from __future__ import annotations

import uuid

from station.domain import Mode
from station.rulebook.event_rules import Direction
from station.services.checkin import CheckInService
from station.services.errors import StationError
from station.services.redemption import RedemptionService
from station.services.results import ProductChoice, ScanAnswer, StationContext, StationInfo

EXIT_SUFFIX = " out"
"""A door exit's target: its product and this (a product has no spaces)."""


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

    @property
    def checkin(self) -> CheckInService:
        return self._checkin

    @property
    def redemption(self) -> RedemptionService:
        return self._redemption

    def action(self, line_item_id: int | None = None) -> str:
        """What a scan does here: checkin, redeem, door, or products (the picker's list)."""
        if line_item_id is not None:
            return "redeem"
        if self._mode is Mode.CHECKIN:
            return "checkin"
        if self._mode is Mode.DOOR:
            return "door"
        return "redeem" if self._product else "products"

    def target(self, line_item_id: int | None = None, *, direction: Direction = "in") -> str:
        """What the write is of, so a rescan is matched to the same write (a door's exit
        is another write than its entry: ``<product> out``)."""
        if line_item_id is not None:
            return f"line:{line_item_id}"
        if self._mode is Mode.CHECKIN:
            return ""
        if self._mode is Mode.DOOR and direction == "out":
            return f"{self._product or ''}{EXIT_SUFFIX}"
        return self._product or ""

    def scan(
        self,
        ctx: StationContext,
        code: str,
        *,
        client_id: uuid.UUID,
        line_item_id: int | None = None,
        direction: Direction = "in",
    ) -> ScanAnswer:
        """Act on one scan; a refusal or the database being away raises StationError.
        ``direction`` concerns a door: "out" records an exit."""
        action = self.action(line_item_id)
        if action == "checkin":
            return self._checkin.check_in(ctx, code, client_id=client_id)
        if action == "door":
            return self._checkin.record_door_check(
                ctx, code, product=self._product or "", client_id=client_id, direction=direction
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
            product = target.removesuffix(EXIT_SUFFIX)
            return self._checkin.find_door_check(ctx, client_id, product=product)
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
