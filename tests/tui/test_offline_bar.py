"""The link to PostgreSQL fails mid-session with offline mode on: the station says OFFLINE,
keeps giving verdicts from its snapshot, counts what waits, and catches up by itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from station.bench.faulty_link import FaultyLink, faulty_link
from station.domain import Mode
from station.models import CheckIn, OfflineConflict, ProductRedemption
from station.offline.settings import OfflineSettings
from station.services import RedemptionService
from station.services.errors import InvalidInput
from station.services.results import StationContext
from station.tui.app import StationApp
from tests.tui.conftest import Station, light_text, scan, started, wait_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def offline_link(pg_station: Station, tmp_path: Path) -> Iterator[FaultyLink]:
    url = make_url(pg_station.db.settings.url)
    with faulty_link(url.host or "127.0.0.1", url.port or 5432) as link:
        through = url.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False)
        pg_station.settings = replace(
            pg_station.settings,
            database=replace(pg_station.settings.database, url=through, connect_timeout_s=2),
            offline=OfflineSettings(
                enabled=True, threshold_s=1.0, sync_s=1.0, probe_s=0.2, directory=tmp_path / "off"
            ),
        )
        yield link


def bar_text(app: StationApp) -> str:
    bar = app.scan_screen.offline_bar
    return str(bar.render()) if bar.display else ""


def caught_up(app: StationApp) -> bool:
    return bar_text(app) in ("", "ONLINE — every offline scan sent, 0 waiting")


@pytest.mark.parametrize("fault", ["cut", "blackhole"])
async def test_offline_bar_counts_waiting_scans_and_clears_when_replayed(
    pg_station: Station, offline_link: FaultyLink, fault: str
) -> None:
    codes = [pg_station.conf.attendee(first_name=f"P{n}").access_code for n in range(4)]
    app = pg_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        offline = app.services.offline
        assert offline is not None
        await wait_for(pilot, lambda: offline.keeper.synced.is_set(), "the snapshot's first fill")
        # Online, nothing waiting: no bar (or, if a loaded machine made an answer miss the
        # 1 s threshold meanwhile, the bar's own "caught up" line once the probe is back).
        await wait_for(pilot, lambda: offline.link.online and caught_up(app), "online")
        shown = await scan(pilot, codes[0])
        assert shown.startswith("✔ OK — CHECKED IN")

        getattr(offline_link, fault)()
        for code in codes[1:]:
            shown = await scan(pilot, code)
            assert shown.startswith("✔ OK — CHECKED IN"), shown  # from the snapshot
        await wait_for(pilot, lambda: "3 scans waiting" in bar_text(app), "the OFFLINE bar")
        assert bar_text(app).startswith("OFFLINE since ")
        assert light_text(app) == "● DB OFFLINE"
        assert pg_station.count(CheckIn) == 1

        offline_link.restore()
        sent = "ONLINE — every offline scan sent, 0 waiting"
        await wait_for(pilot, lambda: bar_text(app) == sent, "the journal to be replayed", 20)
        assert light_text(app) == "● DB OK"
    assert pg_station.count(CheckIn) == 4


async def test_offline_lunches_are_counted_against_the_snapshot(
    pg_station: Station, offline_link: FaultyLink
) -> None:
    pg_station.conf.addon("lunch", "Lunch")
    ada = pg_station.conf.attendee(first_name="Ada", addons={"lunch": 1}).access_code
    bob = pg_station.conf.attendee(first_name="Bob", addons={"lunch": 1}).access_code
    pg_station.settings = replace(pg_station.settings, mode=Mode.MEAL, product="lunch")
    app = pg_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        offline = app.services.offline
        assert offline is not None
        await wait_for(pilot, lambda: offline.keeper.synced.is_set(), "the snapshot's first fill")
        other = pg_station.services()  # another meal line, online, gives Bob his lunch
        other.redemption.redeem_product(
            StationContext(pg_station.conf.slug, "Lunch 2"), bob, product="lunch"
        )
        synced = offline.keeper.last_sync
        await wait_for(pilot, lambda: offline.keeper.last_sync > synced, "a sync after it")

        offline_link.cut()
        shown = await scan(pilot, ada)
        assert shown.startswith("✔ LUNCH OK"), shown
        shown = await scan(pilot, bob)  # the snapshot knows Bob had his
        assert "fully redeemed (1/1)" in shown, shown
        await wait_for(pilot, lambda: "2 scans waiting" in bar_text(app), "the OFFLINE bar")
        offline_link.restore()
        await wait_for(pilot, lambda: caught_up(app), "the journal to be replayed", 20)
    assert pg_station.count(ProductRedemption) == 2


async def test_the_station_that_gave_an_overspend_is_told(
    pg_station: Station, offline_link: FaultyLink
) -> None:
    pg_station.conf.addon("lunch", "Lunch")
    ada = pg_station.conf.attendee(first_name="Ada", addons={"lunch": 1}).access_code
    pg_station.settings = replace(pg_station.settings, mode=Mode.MEAL, product="lunch")
    app = pg_station.app()
    async with app.run_test() as pilot:
        await started(pilot)
        offline = app.services.offline
        assert offline is not None
        await wait_for(pilot, lambda: offline.keeper.synced.is_set(), "the snapshot's first fill")
        offline_link.cut()
        assert (await scan(pilot, ada)).startswith("✔ LUNCH OK")
        # Meanwhile a meal line that is still online gives Ada her lunch too.
        RedemptionService(pg_station.db.sessions).redeem_product(
            StationContext(pg_station.conf.slug, "Lunch 2"), ada, product="lunch"
        )
        await wait_for(pilot, lambda: "1 scan waiting" in bar_text(app), "the OFFLINE bar")
        offline_link.restore()
        await wait_for(pilot, lambda: caught_up(app), "the journal to be replayed", 20)
        await wait_for(pilot, lambda: bool(app._notifications), "the notice")
        [notice] = list(app._notifications)
        assert notice.title == "Offline scan refused on replay"
        assert f"Offline scan of {ada} refused on replay" in notice.message
        assert "fully redeemed (1/1)" in notice.message
    assert pg_station.count(ProductRedemption) == 1
    assert pg_station.count(OfflineConflict) == 1


async def test_a_station_restarted_during_an_outage_signs_in_and_scans_from_its_snapshot(
    pg_station: Station, offline_link: FaultyLink
) -> None:
    code = pg_station.conf.attendee(first_name="Ada").access_code
    pg_station.conf.staff("Pia", pin="2468")
    first = pg_station.app()
    async with first.run_test() as pilot:
        await started(pilot)
        offline = first.services.offline
        assert offline is not None
        await wait_for(pilot, lambda: offline.keeper.synced.is_set(), "the snapshot's first fill")

    offline_link.cut()
    again = pg_station.app()
    async with again.run_test() as pilot:
        await started(pilot)  # Ana (no PIN) signs in from the snapshot's operator list
        assert again.operator is not None and again.operator.name == "Ana"
        shown = await scan(pilot, code)
        assert shown.startswith("✔ OK — CHECKED IN"), shown
        await wait_for(pilot, lambda: "1 scan waiting" in bar_text(again), "the OFFLINE bar")
        with pytest.raises(InvalidInput, match="signing in with a PIN needs it"):
            again.services.operators.sign_in("Pia", "2468")
    assert pg_station.count(CheckIn) == 0
