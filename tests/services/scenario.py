"""One busy day at a conference, scripted: every kind of scan, refusal and retry.

The hot-path test runs it through the one-statement PostgreSQL paths and
through the general path (on PostgreSQL and SQLite) and compares every
answer and every row written; the station-role test runs it as that role.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import tests.builders
from station.domain import OrderStatus
from station.models import (
    Attendee,
    CheckIn,
    DoorCheck,
    OrderLineItem,
    ProductRedemption,
    ScanLog,
    ScanVoid,
)
from station.services import CheckInService, RedemptionService
from station.services.errors import StationError
from station.services.results import StationContext
from tests.builders import ConferenceBuilder

# Every clock of a test run starts at the same instant, today: PostgreSQL records the
# server's time, and "today" at a station must be the server's today.
_START = datetime.now(UTC).replace(microsecond=0)


@dataclass
class FixedClock:
    """Time stands still within a step, so every path stamps the same instants."""

    now: datetime = _START

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(seconds=7)


def build_conference(sessions: sessionmaker[Session]) -> dict[str, int]:
    """The same data, with the same ids, on every fresh database."""
    tests.builders._counter = itertools.count(1)
    conf = ConferenceBuilder(sessions, slug="equal-con", timezone="Europe/Berlin")
    ids = {"ana": conf.staff("Ana")}
    conf.ticket_type("general", "Conference pass")
    conf.ticket_type("speaker", "Speaker\x1b[2J pass", attention="Speaker:\x1b]0;x\x07 green room")
    conf.addon("lunch", "Lunch\u202e Day 1", attention="Vegan\nmeal")
    conf.addon("voucher", "Meal\tvoucher, " + "good for one meal " * 6)  # cut at 80
    conf.addon("tutorial", "Tutorial: [b]SQL[/b]")
    ada = conf.attendee(
        "ADA1",
        first_name="Ada",
        last_name="Lovelace",
        addons={"lunch": 1, "voucher": 3},
        attention="VIP — call the host",
    )
    zoe = conf.attendee(
        "ZOE1",
        first_name="Zoë",
        last_name="",
        ticket="speaker",
        status=OrderStatus.PARTIALLY_REFUNDED,
        addons={"tutorial": 1},
    )
    guido = conf.attendee(
        "GVR1", first_name="", last_name="", username="guido", ticket=None, addons={"lunch": 1}
    )
    with sessions.begin() as s:
        s.add(
            OrderLineItem(
                order_id=guido.order_id,
                description="Lunch again",
                quantity=1,
                addon_id=conf.addon("lunch"),
            )
        )
    conf.attendee("CAN1", status=OrderStatus.CANCELLED, addons={"lunch": 1})
    conf.attendee("PEN1", status=OrderStatus.PENDING)
    conf.attendee("NOO1", status=None)
    ConferenceBuilder(sessions, slug="other-con").attendee("OTH1")
    ids.update(
        ada=ada.attendee_id,
        ada_lunch=ada.line_items["lunch"],
        zoe_tutorial=zoe.line_items["tutorial"],
    )
    return ids


@dataclass(frozen=True)
class Refused:
    kind: str
    reason: str
    message: str
    attributes: tuple[tuple[str, Any], ...]


RECORDED = "<recorded time>"


def timeless(value: Any) -> Any:
    """The value with every recorded time replaced by a marker.

    PostgreSQL stamps records with the server's time (the station's clock goes
    to client_at), SQLite with the station's: the paths agree on everything
    but those instants, which the rows' client_at columns compare instead.
    """
    if isinstance(value, datetime):
        return RECORDED
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value,
            **{f.name: timeless(getattr(value, f.name)) for f in dataclasses.fields(value)},
        )
    if isinstance(value, tuple):
        return tuple(timeless(item) for item in value)
    return value


def outcome(call: Callable[[], object]) -> object:
    """A result (recorded times marked), or the refusal with everything it carries."""
    try:
        return timeless(call())
    except StationError as error:
        return Refused(type(error).__name__, str(error.reason), error.message,
                       timeless(tuple(sorted(vars(error).items()))))  # fmt: skip


def run_day(
    sessions: sessionmaker[Session], *, hot_paths: bool | None, ids: dict[str, int]
) -> list[object]:
    clock = FixedClock()
    checkin = CheckInService(sessions, clock=clock, hot_paths=hot_paths)
    redemption = RedemptionService(sessions, clock=clock, hot_paths=hot_paths)
    desk = StationContext("equal-con", "Desk\x07 1", ids["ana"])
    door_b = StationContext("equal-con", "Door B", None)
    nowhere = StationContext("no-such-con", "Desk 1", None)
    numbers = itertools.count(1)

    def cid() -> uuid.UUID:
        return uuid.UUID(int=next(numbers))

    steps: list[Callable[[], object]] = []
    for code in ("ADA1", "zoe1", "GVR1", "NOSUCH", "bad\x1bcode", "OTH1"):
        steps.append(lambda code=code: checkin.lookup_attendee(desk, code))
    first_ada = uuid.UUID(int=1000)
    steps += [
        lambda: checkin.check_in(desk, "ada1", client_id=first_ada),
        lambda: checkin.check_in(door_b, "ADA1", client_id=cid(), note="again"),
        lambda: checkin.check_in(desk, "ADA1", client_id=first_ada),
    ]
    for code in ("ZOE1", "GVR1", "CAN1", "PEN1", "NOO1", "OTH1", "NOSUCH", "bad\x1bcode", " "):
        steps.append(lambda code=code: checkin.check_in(desk, code, client_id=cid()))
    steps.append(lambda: checkin.check_in(nowhere, "ADA1", client_id=cid()))
    first_door = uuid.UUID(int=2000)
    steps += [
        lambda: checkin.record_door_check(
            desk, "ADA1", product="ticket:general", client_id=first_door
        ),
        lambda: checkin.record_door_check(
            desk, "ADA1", product="ticket:general", client_id=first_door
        ),
    ]
    for code, product in [
        ("ADA1", "addon:tutorial"),
        ("ZOE1", "addon:tutorial"),
        ("ZOE1", "ticket:speaker"),
        ("CAN1", "addon:lunch"),
        ("NOO1", "ticket:general"),
        ("NOSUCH", "ticket:general"),
        ("ADA1", "ticket:nope"),
        ("ADA1", "lunch"),
        ("bad\x1bcode", "ticket:general"),
    ]:
        steps.append(
            lambda code=code, product=product: checkin.record_door_check(
                desk, code, product=product, client_id=cid()
            )
        )
    first_voucher = uuid.UUID(int=3000)
    steps.append(
        lambda: redemption.redeem_product(desk, "ADA1", product="voucher", client_id=first_voucher)
    )
    for code, product in [
        ("ADA1", "lunch"),
        ("ADA1", "lunch"),
        ("ADA1", "voucher"),
        ("ADA1", "voucher"),
        ("ADA1", "voucher"),
        ("GVR1", "lunch"),
        ("GVR1", "addon:lunch"),
        ("GVR1", "lunch"),
        ("CAN1", "lunch"),
        ("NOO1", "lunch"),
        ("NOSUCH", "lunch"),
        ("ADA1", "tutorial"),
        ("ADA1", "caviar"),
        ("bad\x1bcode", "lunch"),
    ]:
        steps.append(
            lambda code=code, product=product: redemption.redeem_product(
                door_b, code, product=product, client_id=cid(), note="n"
            )
        )
    steps += [
        lambda: redemption.redeem_product(desk, "ADA1", product="voucher", client_id=first_voucher),
        lambda: redemption.redeem_product(
            desk, "ZOE1", line_item_id=ids["zoe_tutorial"], client_id=cid()
        ),
        lambda: redemption.redeem_product(
            desk, "ZOE1", line_item_id=ids["zoe_tutorial"], client_id=cid()
        ),
        lambda: redemption.redeem_product(
            desk, "GVR1", line_item_id=ids["ada_lunch"], client_id=cid()
        ),
        lambda: redemption.redeem_product(nowhere, "ADA1", product="lunch", client_id=cid()),
    ]
    for code in ("ADA1", "ZOE1", "NOO1", "NOSUCH"):
        steps.append(lambda code=code: redemption.get_redeemable_products(desk, code))
    for code in ("ADA1", "ZOE1", "GVR1"):
        steps.append(lambda code=code: checkin.get_badge_data(door_b, code))
    steps.append(lambda: checkin.counts(desk))

    outcomes = []
    for step in steps:
        outcomes.append(outcome(step))
        clock.tick()
    return outcomes


def rows_written(sessions: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the day wrote, without the surrogate ids; the station's times (client_at)."""

    def dump(model: type, *columns: Any) -> list[tuple[Any, ...]]:
        with sessions() as s:
            return [tuple(r) for r in s.execute(select(*columns).order_by(model.id))]  # type: ignore[attr-defined]

    return {
        "check_in": dump(
            CheckIn,
            CheckIn.client_id,
            CheckIn.attendee_id,
            CheckIn.client_at,
            CheckIn.staff_id,
            CheckIn.station,
            CheckIn.note,
        ),
        "door_check": dump(
            DoorCheck,
            DoorCheck.client_id,
            DoorCheck.attendee_id,
            DoorCheck.ticket_type_id,
            DoorCheck.addon_id,
            DoorCheck.client_at,
            DoorCheck.station,
            DoorCheck.direction,
        ),
        "product_redemption": dump(
            ProductRedemption,
            ProductRedemption.client_id,
            ProductRedemption.attendee_id,
            ProductRedemption.order_line_item_id,
            ProductRedemption.client_at,
            ProductRedemption.station,
            ProductRedemption.note,
        ),
        "scan_log": dump(
            ScanLog,
            ScanLog.conference_id,
            ScanLog.attendee_id,
            ScanLog.client_at,
            ScanLog.station,
            ScanLog.staff_id,
            ScanLog.action,
            ScanLog.code,
            ScanLog.outcome,
            ScanLog.reason,
            ScanLog.message,
        ),
        "attendee": dump(Attendee, Attendee.id, Attendee.checked_in_at.is_not(None)),
        "scan_void": dump(
            ScanVoid,
            ScanVoid.client_id,
            ScanVoid.attendee_id,
            ScanVoid.record_kind,
            ScanVoid.record_id,
            ScanVoid.staff_id,
            ScanVoid.station,
            ScanVoid.reason,
            ScanVoid.client_at,
        ),
    }
