"""A write that committed but whose answer never came back is one write, however often
the volunteer scans again — also after the station restarts.

A TCP proxy lets the request through, reads the server's complete answer (up to
ReadyForQuery), throws it away and cuts the connection: the Wi-Fi dropped at the
worst moment. The station says NOT RECORDED; the rescan sends the same client id
and shows the original verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import select

from station.domain import Mode
from station.models import CheckIn, DoorCheck, ProductRedemption, ScanLog
from station.tui.app import StationApp
from tests.tui.conftest import Station, scan, started, wait_for
from tests.tui.proxy import TcpProxy

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Case:
    mode: Mode
    product: str | None
    addons: dict[str, int]
    record: type[Any]
    original: str
    """The first line the original verdict would have had."""


CASES = {
    "checkin": Case(Mode.CHECKIN, None, {}, CheckIn, "OK — CHECKED IN"),
    "meal-quantity-1": Case(Mode.MEAL, "lunch", {"lunch": 1}, ProductRedemption, "LUNCH OK"),
    "meal-quantity-3": Case(Mode.MEAL, "lunch", {"lunch": 3}, ProductRedemption, "LUNCH OK"),
    "door": Case(Mode.DOOR, "addon:lunch", {"lunch": 1}, DoorCheck, "ADMITTED — Lunch"),
}


def _set_up(station: Station, case: Case) -> str:
    station.conf.addon("lunch", "Lunch")
    built = station.conf.attendee(first_name="Ada", last_name="Lovelace", addons=case.addons)
    station.settings = replace(station.settings, mode=case.mode, product=case.product)
    return built.access_code


async def _lose_the_answer(app: StationApp, pilot: Any, proxy: TcpProxy, code: str) -> None:
    lost = proxy.lose_answer_to(code.encode(), skip=1)  # 1st: the facts; 2nd: the write
    shown = await scan(pilot, code)
    assert lost.is_set(), "the proxy never saw the write"
    assert shown.startswith("✖ NOT RECORDED"), shown
    assert "same scan is sent again" in shown


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("restart", [False, True], ids=["same-process", "restarted"])
async def test_a_rescan_after_an_answer_lost_on_postgres_shows_the_original(
    pg_station: Station, proxy: TcpProxy, name: str, restart: bool
) -> None:
    case = CASES[name]
    code = _set_up(pg_station, case)
    app = pg_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        await _lose_the_answer(app, pilot, proxy, code)
        assert pg_station.count(case.record) == 1  # it did commit
        if not restart:
            shown = await scan(pilot, code)
    if restart:
        app = pg_station.app()  # a new process would read the same pending file
        async with app.run_test() as pilot:
            await started(pilot)
            shown = await scan(pilot, code)
    first = shown.splitlines()[0]
    assert first.endswith("— recorded earlier, answer was lost"), shown
    assert case.original in shown, shown
    assert pg_station.count(case.record) == 1
    if case.addons.get("lunch") == 3:
        assert "2 left" in shown and "Used 1 of 3" in shown


async def test_the_station_learns_by_itself_that_a_lost_write_on_postgres_was_recorded(
    pg_station: Station, proxy: TcpProxy
) -> None:
    """When the database answers again, pending scans are looked up — never written —
    and a recorded one is said in the history; a rescan moments later still replays."""
    code = _set_up(pg_station, CASES["meal-quantity-1"])
    app = pg_station.app()
    app.probe_every = 0.2
    async with app.run_test() as pilot:
        await started(pilot)
        await _lose_the_answer(app, pilot, proxy, code)
        await wait_for(
            pilot,
            lambda: (
                bool(app.flow.pending.entries())
                and all(e.recorded_at for e in app.flow.pending.entries())
            ),
            "the pending scan to be confirmed",
        )
        history = str(app.scan_screen.history.render())
        assert "Ada Lovelace (OK)" in history, history
        shown = await scan(pilot, code)
        assert shown.splitlines()[0].endswith("recorded earlier, answer was lost"), shown
        assert len(app.flow.pending) == 0
        # A scan after that is a new scan: lunch was bought once, so it is refused now.
        pg_station.clock = None
        app.recent.window_s = 0
        shown = await scan(pilot, code)
        assert "ALREADY REDEEMED 1/1" in shown, shown
    assert pg_station.count(ProductRedemption) == 1


async def test_an_unrecorded_write_on_postgres_is_written_once_by_the_rescan(
    pg_station: Station, proxy: TcpProxy
) -> None:
    """The network was down before the write left: nothing committed. The rescan sends
    the same id and writes it now, once; the pending scan is then gone."""
    code = _set_up(pg_station, CASES["meal-quantity-3"])
    app = pg_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        proxy.stop()
        shown = await scan(pilot, code)
        assert shown.startswith("✖ NOT RECORDED"), shown
        [pending] = app.flow.pending.entries()
        proxy.start()
        shown = await scan(pilot, code)
        assert shown.startswith("✔ LUNCH OK — 2 left"), shown
        assert "recorded earlier" not in shown
        assert len(app.flow.pending) == 0
    with pg_station.db.sessions() as session:
        ids = session.scalars(select(ProductRedemption.client_id)).all()
        logged = session.scalars(select(ScanLog.outcome)).all()
    assert [str(i) for i in ids] == [pending.client_id]
    assert logged == ["accepted"]
