"""Redeeming purchased products (meals, vouchers, tutorials) one unit per scan.

A line item can be redeemed at most ``quantity`` times by its attendee, under
any interleaving of any number of stations. The rule book picks the line and
words every refusal; the store records the redemption only while the line's
used count is still the one the decision was made on, counted under the
attendee's row lock (SQLite: the write lock taken at BEGIN; PostgreSQL:
``station_redeem_line()``, migration 0008, which also refuses any write past
the quantity whoever sends it). A decision another station overtook is taken
again on fresh facts; a retry (same client id) gets its original's answer.
"""

from __future__ import annotations

import uuid

from station.codes import normalise_access_code
from station.rulebook import ScanRequest
from station.services.base import ServiceBase
from station.services.errors import ConfigurationError
from station.services.results import ProductLine, RedemptionResult, StationContext


class RedemptionService(ServiceBase):
    """Tracks which purchased add-ons an attendee has used, and refuses overuse."""

    def get_redeemable_products(
        self, ctx: StationContext, access_code: str
    ) -> tuple[ProductLine, ...]:
        """Add-on lines with something left to redeem, in order; empty without an order."""
        from station.rulebook import rules, words

        facts = self._facts(ctx, access_code)
        if facts.holder is None:
            raise words.not_found(normalise_access_code(access_code))
        products = rules.badge(facts.holder, facts.timezone).products
        return tuple(p for p in products if p.remaining > 0)

    def redeem_product(
        self,
        ctx: StationContext,
        access_code: str,
        *,
        line_item_id: int | None = None,
        product: str | None = None,
        client_id: uuid.UUID | None = None,
        note: str = "",
    ) -> RedemptionResult:
        """Redeem one unit of a line item, or of the first unused line of an add-on.

        Exactly one of ``line_item_id`` (the picker) or ``product`` (an add-on slug,
        a meal line's fixed product) says what to redeem.
        """
        if (line_item_id is None) == (product is None):
            raise ConfigurationError("Say exactly one of line_item_id or product to redeem.")
        request = ScanRequest(
            "redeem",
            "",
            client_id or uuid.uuid4(),
            product=product,
            line_item_id=line_item_id,
            note=note,
        )
        answer = self._scan(ctx, request, access_code)
        assert isinstance(answer, RedemptionResult)
        return answer

    def find_redemption(self, ctx: StationContext, client_id: uuid.UUID) -> RedemptionResult | None:
        """The redemption written under ``client_id``, if any; writes nothing."""
        answer = self._replay(ctx, ScanRequest("redeem", "", client_id))
        assert answer is None or isinstance(answer, RedemptionResult)
        return answer
