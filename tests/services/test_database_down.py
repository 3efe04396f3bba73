"""A database that cannot be reached is a plain 'not recorded', never a traceback."""

from __future__ import annotations

import time

import pytest

from station.db import DatabaseSettings, make_engine, make_session_factory
from station.services import CheckInService, RedemptionService
from station.services.errors import DatabaseUnavailable, Reason
from station.services.results import StationContext


def test_unreachable_postgres_fails_fast_with_one_line() -> None:
    engine = make_engine(
        DatabaseSettings(url="postgresql://postgres@127.0.0.1:1/test", connect_timeout_s=2)
    )
    ctx = StationContext("pycon-test", "Door A")
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as failed:
        CheckInService(make_session_factory(engine)).check_in(ctx, "ABCD1234")
    assert time.monotonic() - started < 5
    assert failed.value.reason is Reason.DATABASE_UNAVAILABLE
    assert failed.value.message == "Database not reachable — scan NOT recorded, try again."
    with pytest.raises(DatabaseUnavailable):
        RedemptionService(make_session_factory(engine)).redeem_product(ctx, "X1", product="lunch")
    engine.dispose()
