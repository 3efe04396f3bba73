"""Every refusal shown is a refusal logged: the decision and its log row are one write.

The one-statement PostgreSQL paths are counted on the wire in test_round_trips;
here the general path: a refused scan is one transaction, which commits its
scan-log row, and a refusal whose row could not be written says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy import event, select

from station.db import DatabaseSettings, make_engine, make_session_factory
from station.domain import OrderStatus
from station.models import ScanLog
from station.services import CheckInService, RedemptionService
from station.services.errors import InvalidInput, Refusal
from station.services.results import StationContext
from tests.services.conftest import World


def test_a_refused_scan_commits_its_log_row_in_the_transaction_that_refused_it(
    world: World,
) -> None:
    conf = world.conf
    conf.ticket_type("general")
    conf.addon("tutorial")
    lunch_eaten = conf.attendee(addons={"lunch": 1})
    cancelled = conf.attendee(status=OrderStatus.CANCELLED)
    checkin = CheckInService(world.sessions, hot_paths=False)
    redemption = RedemptionService(world.sessions, hot_paths=False)
    ctx = world.ctx
    redemption.redeem_product(ctx, lunch_eaten.access_code, product="lunch")
    code = lunch_eaten.access_code
    refused: dict[str, Callable[[], object]] = {
        "unknown badge": lambda: checkin.check_in(ctx, "NO-SUCH"),
        "cancelled order": lambda: checkin.check_in(ctx, cancelled.access_code),
        "door, not purchased": lambda: checkin.record_door_check(
            ctx, code, product="addon:tutorial"
        ),
        "meal, not purchased": lambda: redemption.redeem_product(ctx, code, product="tutorial"),
        "meal, fully redeemed": lambda: redemption.redeem_product(ctx, code, product="lunch"),
        "picker, fully redeemed": lambda: redemption.redeem_product(
            ctx, code, line_item_id=lunch_eaten.line_items["lunch"]
        ),
    }
    transactions: list[str] = []
    for what in ("begin", "commit", "rollback"):
        event.listen(world.db.engine, what, lambda _conn, what=what: transactions.append(what))

    for name, scan in refused.items():
        transactions.clear()
        with pytest.raises(Refusal) as error:
            scan()
        assert transactions == ["begin", "commit"], name
        assert error.value.logged, name
        with world.sessions() as s:
            last = s.execute(
                select(ScanLog.outcome, ScanLog.reason, ScanLog.message, ScanLog.attendee_id)
                .order_by(ScanLog.id.desc())
                .limit(1)
            ).one()
        assert tuple(last) == (
            "refused",
            str(error.value.reason),
            error.value.message,
            error.value.attendee_id,
        ), name


@pytest.mark.postgres
@pytest.mark.parametrize("hot_paths", [None, False], ids=["postgres-hot", "postgres-general"])
def test_a_bad_scan_that_could_not_be_logged_says_so(
    postgres_schema: DatabaseSettings, hot_paths: bool | None
) -> None:
    """Refused before any query, so it is shown even with the database gone; marked unlogged."""
    gone = replace(
        postgres_schema, url="postgresql://postgres@127.0.0.1:1/test", connect_timeout_s=1
    )
    engine = make_engine(gone)
    try:
        service = CheckInService(make_session_factory(engine), hot_paths=hot_paths)
        with pytest.raises(InvalidInput) as error:
            service.check_in(StationContext("pycon-test", "Desk 1"), "bad code")
        assert not error.value.logged
    finally:
        engine.dispose()
