"""Many stations at once: never more redemptions than bought, never a double write.

Each worker is its own 'station' with its own engine and connection, all
released together by a barrier, and the round is repeated so an unlucky
interleaving has many chances to show up.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import Engine

from station.db import make_session_factory
from station.models import CheckIn, ProductRedemption
from station.services import CheckInService, RedemptionService
from station.services.errors import FullyRedeemed, Reason
from station.services.results import StationContext
from tests.services.conftest import World

WORKERS = 8
ROUNDS = 10
T = TypeVar("T")


def race(engines: list[Engine], job: Callable[[int, Engine], T]) -> list[T | Exception]:
    """Run ``job`` on every engine at the same instant; collect results or errors."""
    barrier = threading.Barrier(len(engines))

    def run(index: int) -> T | Exception:
        barrier.wait()
        try:
            return job(index, engines[index])
        except Exception as exc:  # the outcome under test, compared below
            return exc

    with ThreadPoolExecutor(len(engines)) as pool:
        return list(pool.map(run, range(len(engines))))


@pytest.fixture
def stations(world: World) -> list[Engine]:
    engines = [world.db.new_engine() for _ in range(WORKERS)]
    yield engines  # type: ignore[misc]
    for engine in engines:
        engine.dispose()


def test_contended_redemption_never_exceeds_quantity(world: World, stations: list[Engine]) -> None:
    for round_number in range(ROUNDS):
        built = world.conf.attendee(addons={"voucher": 3})

        def redeem(index: int, engine: Engine, code: str = built.access_code) -> str:
            service = RedemptionService(make_session_factory(engine))
            ctx = StationContext(world.ctx.conference, f"Station {index}")
            service.redeem_product(ctx, code, product="voucher")
            return "ok"

        outcomes = race(stations, redeem)
        kinds = Counter(o if isinstance(o, str) else type(o).__name__ for o in outcomes)
        assert kinds == {"ok": 3, "FullyRedeemed": WORKERS - 3}, f"round {round_number}: {kinds}"
        assert world.count(ProductRedemption, attendee_id=built.attendee_id) == 3
        refusals = [o for o in outcomes if isinstance(o, FullyRedeemed)]
        assert all((r.redeemed, r.quantity) == (3, 3) for r in refusals)


def test_concurrent_retries_of_one_write_record_it_once(
    world: World, stations: list[Engine]
) -> None:
    for _ in range(ROUNDS // 2):
        built = world.conf.attendee(addons={"voucher": 3})
        client_id = uuid.uuid4()

        def redeem(
            index: int,
            engine: Engine,
            code: str = built.access_code,
            client_id: uuid.UUID = client_id,
        ) -> int:
            service = RedemptionService(make_session_factory(engine))
            ctx = StationContext(world.ctx.conference, "Meal line")
            return service.redeem_product(
                ctx, code, product="voucher", client_id=client_id
            ).redeemed

        outcomes = race(stations, redeem)
        assert outcomes == [1] * WORKERS
        assert world.count(ProductRedemption, attendee_id=built.attendee_id) == 1


def test_simultaneous_first_check_ins_agree_on_who_was_first(
    world: World, stations: list[Engine]
) -> None:
    for _ in range(ROUNDS // 2):
        built = world.conf.attendee()

        def check_in(index: int, engine: Engine, code: str = built.access_code) -> Reason:
            service = CheckInService(make_session_factory(engine))
            ctx = StationContext(world.ctx.conference, f"Desk {index}")
            return service.check_in(ctx, code).reason

        outcomes = race(stations, check_in)
        assert Counter(outcomes) == {Reason.OK: 1, Reason.REENTRY: WORKERS - 1}
        assert world.count(CheckIn, attendee_id=built.attendee_id) == WORKERS


@pytest.mark.parametrize("hot_paths", [None, False], ids=["hot", "general"])
def test_retries_racing_for_the_last_unit_replay_instead_of_refusing(
    world: World, stations: list[Engine], hot_paths: bool | None
) -> None:
    """The retries queue behind the original's lock, then must see it as theirs."""
    for _ in range(ROUNDS // 2):
        built = world.conf.attendee(addons={"voucher": 1})
        client_id = uuid.uuid4()

        def redeem(
            index: int,
            engine: Engine,
            code: str = built.access_code,
            client_id: uuid.UUID = client_id,
        ) -> tuple[int, int]:
            service = RedemptionService(make_session_factory(engine), hot_paths=hot_paths)
            ctx = StationContext(world.ctx.conference, f"Meal line {index}")
            result = service.redeem_product(ctx, code, product="voucher", client_id=client_id)
            return result.redeemed, result.quantity

        outcomes = race(stations, redeem)
        assert outcomes == [(1, 1)] * WORKERS
        assert world.count(ProductRedemption, attendee_id=built.attendee_id) == 1


@pytest.mark.parametrize("hot_paths", [None, False], ids=["hot", "general"])
def test_stations_on_both_paths_at_once_never_oversell(
    world: World, stations: list[Engine], hot_paths: bool | None
) -> None:
    """Half the stations on the one-statement path, half on the general one, same line."""
    for round_number in range(ROUNDS // 2):
        built = world.conf.attendee(addons={"voucher": 2})

        def redeem(index: int, engine: Engine, code: str = built.access_code) -> str:
            mixed = hot_paths if index % 2 else (None if hot_paths is False else False)
            service = RedemptionService(make_session_factory(engine), hot_paths=mixed)
            service.redeem_product(StationContext(world.ctx.conference, f"S{index}"), code,
                                   product="voucher")  # fmt: skip
            return "ok"

        outcomes = race(stations, redeem)
        kinds = Counter(o if isinstance(o, str) else type(o).__name__ for o in outcomes)
        assert kinds == {"ok": 2, "FullyRedeemed": WORKERS - 2}, f"round {round_number}: {kinds}"
        assert world.count(ProductRedemption, attendee_id=built.attendee_id) == 2
