"""Redeeming purchased products (meals, vouchers, tutorials) one unit per scan.

A line item can be redeemed at most ``quantity`` times by its attendee, under
any interleaving of any number of stations: the attendee row is locked
(``SELECT … FOR NO KEY UPDATE`` on PostgreSQL; SQLite takes its write lock at
BEGIN) and only then are existing redemptions counted, in a separate
statement, so the count sees every redemption committed before the lock was
granted. Locking the attendee rather than the line items keeps the station's
database role away from UPDATE rights on orders. The client id is looked for
again under the lock, so a retry that raced its original is answered as a
replay, not refused as fully redeemed.

On PostgreSQL the same steps run inside one function call (migration 0002,
made leaner in 0004, logging its own refusals since 0006), one round trip per
scan.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from station.codes import normalise_access_code
from station.models import AddOn, Attendee, OrderLineItem, ProductRedemption
from station.services import hot_paths, hot_sql, queries
from station.services.base import ConferenceRef, DuplicateClientId, ServiceBase
from station.services.checkin import (
    CheckInService,
    _attention,
    resolve_product,
    unknown_product,
)
from station.services.errors import (
    ConfigurationError,
    FullyRedeemed,
    Reason,
    Refusal,
    fully_redeemed_words,
    not_on_order,
    not_purchased,
)
from station.services.results import ProductLine, RedemptionResult, StationContext
from station.text import display_safe

# The refusals station_redeem() decides and logs itself, in the words made here.
_NAME, _REDEEMED, _QUANTITY = hot_paths.HOLES
_WORDS_FOR_SQL = (
    ("#not_purchased", not_purchased(_NAME)),
    ("#not_on_order", not_on_order()),
    (
        "#fully_redeemed",
        FullyRedeemed(
            fully_redeemed_words(_NAME, _REDEEMED, _QUANTITY),
            product=_NAME,
            redeemed=0,
            quantity=0,
            last_redeemed_at=None,
            last_station="",
        ),
    ),
)


class RedemptionService(ServiceBase):
    """Tracks which purchased add-ons an attendee has used, and refuses overuse."""

    def get_redeemable_products(
        self, ctx: StationContext, access_code: str
    ) -> tuple[ProductLine, ...]:
        """Add-on lines with something left to redeem, in order; empty without an order."""
        code = normalise_access_code(access_code)
        if self._hot is not None:
            row = self._hot_row(hot_sql.LOOKUP, conference=ctx.conference, code=code, refusals="{}")
            if row.conference_id is None:
                raise hot_paths.unknown_conference(ctx.conference)
            if row.attendee_id is None:
                raise queries.not_found(code)
            products = hot_paths.badge(row).products
            return tuple(p for p in products if p.remaining > 0)
        with self._transaction() as session:
            conference = self._conference(session, ctx.conference)
            attendee = queries.find_attendee(session, conference, code)
            return tuple(p for p in queries.product_lines(session, attendee) if p.remaining > 0)

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
        client_id = client_id or uuid.uuid4()
        if self._hot is not None:
            return self._hot_redeem(ctx, access_code, line_item_id, product, client_id, note)
        return self._exactly_once(
            ctx,
            "redeem",
            access_code,
            replayed=lambda session: self._replayed(session, ctx, client_id),
            attempt=lambda session, code: self._redeem(
                session, ctx, code, line_item_id, product, client_id, note
            ),
        )

    def find_redemption(self, ctx: StationContext, client_id: uuid.UUID) -> RedemptionResult | None:
        """The redemption written under ``client_id``, if any; writes nothing."""
        with self._transaction() as session:
            return self._replayed(session, ctx, client_id)

    def _hot_redeem(
        self,
        ctx: StationContext,
        access_code: str,
        line_item_id: int | None,
        product: str | None,
        client_id: uuid.UUID,
        note: str,
    ) -> RedemptionResult:
        """One call of station_redeem(): look up, lock, count, write, log."""
        code = self._normalise(ctx, "redeem", access_code)
        addon = product.removeprefix("addon:") if product is not None else None
        now = self._clock()
        row = self._hot_row(
            hot_sql.REDEEM,
            conference=ctx.conference,
            code=code,
            refused_code=display_safe(access_code, limit=256),
            addon=addon,
            line_item_id=line_item_id,
            client_id=client_id,
            now=now,
            station=ctx.station[:100],
            staff_id=ctx.staff_id,
            note=note,
            refusals=hot_paths.refusals_json(
                "redemption", CheckInService.validate_order_status, _WORDS_FOR_SQL
            ),
            not_found_message=queries.not_found(code).message,
        )
        outcome = row.r_outcome
        if outcome == "replay" and row.r_conference_id is not None:
            return RedemptionResult(
                client_id=client_id,
                attendee_name=queries.person_name(
                    row.r_first_name, row.r_last_name, row.r_username
                ),
                access_code=row.r_access_code,
                line_item_id=row.r_line_item_id,
                product=display_safe(row.r_product_name or "Product", limit=80),
                redeemed=int(row.r_redeemed),
                quantity=int(row.r_quantity),
                redeemed_at=hot_paths.utc(row.r_redeemed_at),
                timezone=row.r_timezone,
                attention=_attention(hot_paths.order_status(row.r_order_status)),
                replayed=True,
            )
        if outcome == "replay":  # of an attendee outside this conference: the general way
            with self._transaction() as session:
                replay = self._replayed(session, ctx, client_id)
            assert replay is not None
            return replay
        if outcome == "no_conference":
            raise hot_paths.unknown_conference(ctx.conference)
        if outcome == "no_product":
            raise unknown_product("addon", addon or "", ctx.conference)
        if outcome == "not_found":  # logged by the function, as is "refused"
            raise queries.not_found(code)
        status = hot_paths.order_status(row.r_order_status)
        who = queries.person_name(row.r_first_name, row.r_last_name, row.r_username)
        if outcome == "refused":
            refusal = CheckInService.validate_order_status(status, action="redemption")
            assert refusal is not None
            raise refusal.concerning(row.r_attendee_id, who)
        name = display_safe(row.r_product_name or "Product", limit=80)
        error: Refusal
        if outcome == "not_purchased":  # logged by the function, as is "fully_redeemed"
            error = not_on_order() if line_item_id is not None else not_purchased(name)
            raise error.concerning(row.r_attendee_id, who)
        if outcome == "fully_redeemed":
            error = FullyRedeemed(
                fully_redeemed_words(name, row.r_redeemed, row.r_quantity),
                product=name,
                redeemed=int(row.r_redeemed),
                quantity=int(row.r_quantity),
                last_redeemed_at=(
                    hot_paths.utc(row.r_last_redeemed_at) if row.r_last_redeemed_at else None
                ),
                last_station=display_safe(row.r_last_station or "", limit=60),
            )
            raise error.concerning(row.r_attendee_id, who)
        assert outcome == "ok", outcome
        return RedemptionResult(
            client_id=client_id,
            attendee_name=who,
            access_code=row.r_access_code,
            line_item_id=row.r_line_item_id,
            product=name,
            redeemed=int(row.r_redeemed),
            quantity=int(row.r_quantity),
            redeemed_at=hot_paths.utc(row.r_redeemed_at),
            timezone=row.r_timezone,
            attention=_attention(status),
        )

    def _redeem(
        self,
        session: Session,
        ctx: StationContext,
        code: str,
        line_item_id: int | None,
        product: str | None,
        client_id: uuid.UUID,
        note: str,
    ) -> RedemptionResult:
        conference = self._conference(session, ctx.conference)
        addon_id: int | None = None
        if product is not None:
            _kind, addon_id, product_name = resolve_product(
                session, conference, "addon:" + product.removeprefix("addon:")
            )
        attendee = queries.find_attendee(session, conference, code)
        refusal = CheckInService.validate_order_status(attendee.order_status, action="redemption")
        if refusal is not None:
            raise refusal.concerning(attendee.id, attendee.name)
        # Lock the attendee first; count only once the lock is ours.
        session.execute(
            select(Attendee.id).where(Attendee.id == attendee.id).with_for_update(key_share=True)
        )
        if self._replayed(session, ctx, client_id) is not None:
            raise DuplicateClientId  # a retry of this scan committed while we waited
        candidates = select(
            OrderLineItem.id, OrderLineItem.quantity, OrderLineItem.description
        ).where(OrderLineItem.order_id == attendee.order_id, OrderLineItem.addon_id.is_not(None))
        if line_item_id is not None:
            candidates = candidates.where(OrderLineItem.id == line_item_id)
        else:
            candidates = candidates.where(OrderLineItem.addon_id == addon_id)
        locked = session.execute(candidates.order_by(OrderLineItem.id)).all()
        if not locked:
            error = not_on_order() if line_item_id is not None else not_purchased(product_name)
            raise error.concerning(attendee.id, attendee.name)
        chosen = None
        total_redeemed = total_quantity = 0
        for line in locked:
            redeemed = self._redeemed_count(session, attendee.id, line.id)
            total_redeemed += redeemed
            total_quantity += line.quantity
            if chosen is None and redeemed < line.quantity:
                chosen = (line, redeemed)
        name = self._product_name(session, locked[0].id)
        if chosen is None:
            raise self._fully_redeemed(session, attendee.id, [line.id for line in locked], name,
                                       total_redeemed, total_quantity,
                                       ).concerning(attendee.id, attendee.name)  # fmt: skip
        line, redeemed = chosen
        now = self._clock()
        session.execute(
            insert(ProductRedemption).values(
                client_id=client_id,
                attendee_id=attendee.id,
                order_line_item_id=line.id,
                conference_id=conference.id,
                redeemed_at=now,
                staff_id=ctx.staff_id,
                station=ctx.station[:100],
                note=note,
            )
        )
        self._log_scan(
            session,
            ctx,
            action="redeem",
            code=code,
            reason=Reason.OK,
            accepted=True,
            message=name,
            conference_id=conference.id,
            attendee_id=attendee.id,
        )
        # For a product spread over several lines, report the totals of all of them.
        return RedemptionResult(
            client_id=client_id,
            attendee_name=attendee.name,
            access_code=attendee.access_code,
            line_item_id=line.id,
            product=name,
            redeemed=(total_redeemed if product is not None else redeemed) + 1,
            quantity=total_quantity if product is not None else line.quantity,
            redeemed_at=now,
            timezone=conference.timezone,
            attention=_attention(attendee.order_status),
        )

    @staticmethod
    def _redeemed_count(session: Session, attendee_id: int, line_item_id: int) -> int:
        return int(
            session.scalar(
                select(func.count(ProductRedemption.id)).where(
                    ProductRedemption.attendee_id == attendee_id,
                    ProductRedemption.order_line_item_id == line_item_id,
                )
            )
            or 0
        )

    @staticmethod
    def _product_name(session: Session, line_item_id: int) -> str:
        name = session.scalar(
            select(AddOn.name)
            .join(OrderLineItem, OrderLineItem.addon_id == AddOn.id)
            .where(OrderLineItem.id == line_item_id)
        )
        return display_safe(name or "Product", limit=80)

    def _fully_redeemed(
        self,
        session: Session,
        attendee_id: int,
        line_ids: list[int],
        name: str,
        redeemed: int,
        quantity: int,
    ) -> FullyRedeemed:
        last = session.execute(
            select(ProductRedemption.redeemed_at, ProductRedemption.station)
            .where(
                ProductRedemption.attendee_id == attendee_id,
                ProductRedemption.order_line_item_id.in_(line_ids),
            )
            .order_by(ProductRedemption.redeemed_at.desc(), ProductRedemption.id.desc())
            .limit(1)
        ).one_or_none()
        error = FullyRedeemed(
            fully_redeemed_words(name, redeemed, quantity),
            product=name,
            redeemed=redeemed,
            quantity=quantity,
            last_redeemed_at=last.redeemed_at if last else None,
            last_station=display_safe(last.station, limit=60) if last else "",
        )
        error.attendee_id = attendee_id
        return error

    def _replayed(
        self, session: Session, ctx: StationContext, client_id: uuid.UUID
    ) -> RedemptionResult | None:
        original = session.execute(
            select(
                ProductRedemption.id,
                ProductRedemption.attendee_id,
                ProductRedemption.order_line_item_id,
                ProductRedemption.redeemed_at,
            ).where(ProductRedemption.client_id == client_id)
        ).one_or_none()
        if original is None:
            return None
        conference: ConferenceRef = self._conference(session, ctx.conference)
        line = session.execute(
            select(OrderLineItem.quantity).where(OrderLineItem.id == original.order_line_item_id)
        ).one()
        redeemed_then = session.scalar(
            select(func.count(ProductRedemption.id)).where(
                ProductRedemption.attendee_id == original.attendee_id,
                ProductRedemption.order_line_item_id == original.order_line_item_id,
                ProductRedemption.id <= original.id,
            )
        )
        code = session.scalar(
            select(Attendee.access_code).where(Attendee.id == original.attendee_id)
        )
        attendee = queries.find_attendee(session, conference, code or "")
        return RedemptionResult(
            client_id=client_id,
            attendee_name=attendee.name,
            access_code=attendee.access_code,
            line_item_id=original.order_line_item_id,
            product=self._product_name(session, original.order_line_item_id),
            redeemed=int(redeemed_then or 0),
            quantity=line.quantity,
            redeemed_at=original.redeemed_at,
            timezone=conference.timezone,
            attention=_attention(attendee.order_status),
            replayed=True,
        )
