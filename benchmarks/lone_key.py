"""What the lone-key wait costs a person: key to action on a screen with choices.

Not a test: it prints figures. On a screen without a text field (the badge
preview, the picker, the quit question) a key that the screen binds waits up to
``LONE_KEY_WAIT_S`` for more keys, because an SSH link can deliver a scan's
first key alone and the rest 20–45 ms later. This drives the real app headless
on a SQLite demo conference: a check-in shows a badge preview, then a lone
``r`` (a person asking for the picker) goes in as one key event from Textual's
terminal parser; the time runs from that key's timestamp to the picker being
the screen. The same run with the wait set to the burst gap (what a lone key
waited before) gives the difference. A key whose action writes or ends the
station (the picker's digits, the quit question's y and n) waits longer,
``DECISIVE_KEY_WAIT_S``: the second part times a lone ``n`` on the quit question
to the question closing, the same way.

    python benchmarks/lone_key.py [--presses 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual._xterm_parser import XTermParser
from textual.events import Key

from station.bootstrap import build_services
from station.config import Settings
from station.db import DatabaseSettings, make_engine, upgrade
from station.demo import DEMO_SLUG, seed_demo
from station.scanflow.keys import DECISIVE_KEY_WAIT_S, LONE_KEY_WAIT_S
from station.tui.app import StationApp, make_app
from station.tui.screens.badge import BadgeScreen
from station.tui.screens.confirm import ConfirmScreen
from station.tui.screens.picker import PickerScreen


async def _until(check: object, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit("the app did not get there within 10 s")
        await asyncio.sleep(0.0005)


async def _lone_key(app: StationApp, character: str, acted: Callable[[], bool]) -> float:
    """One key as the terminal's parser makes it; milliseconds from its stamp to ``acted``."""
    driver = app._driver
    assert driver is not None
    [key] = list(XTermParser().feed(character))
    assert isinstance(key, Key)
    driver.send_message(key)
    await _until(acted)
    return (time.monotonic() - key.time) * 1000


async def presses(app: StationApp, code: str, count: int) -> list[float]:
    """Milliseconds from each lone ``r`` to the picker on screen."""
    delays: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(lambda: app.ready and app.info is not None)
        driver = app._driver
        assert driver is not None
        for event in XTermParser().feed(code + "\r"):
            driver.send_message(event)
        await _until(lambda: isinstance(app.screen, BadgeScreen) and app.screen.badge)
        for _ in range(count):
            picker = await _lone_key(app, "r", lambda: isinstance(app.screen, PickerScreen))
            delays.append(picker)
            await pilot.press("escape")
            await _until(lambda: isinstance(app.screen, BadgeScreen))
            await pilot.pause(0.05)
    return delays


async def answers(app: StationApp, count: int) -> list[float]:
    """Milliseconds from each lone ``n`` on the quit question to the question closing."""
    delays: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(lambda: app.ready and app.info is not None)
        for _ in range(count):
            await pilot.press("ctrl+q")
            await _until(lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.pause(0.05)
            closed = await _lone_key(app, "n", lambda: not isinstance(app.screen, ConfirmScreen))
            delays.append(closed)
            await pilot.pause(0.05)
    return delays


def run(
    url: str, code: str, count: int, *, lone_wait: float | None, question: bool = False
) -> list[float]:
    settings = Settings(
        database=DatabaseSettings(url=url),
        conference=DEMO_SLUG,
        station="Bench",
        operator="Ana",
        badge_seconds=600,
    )
    services = build_services(settings)
    try:
        app = make_app(services, settings=settings)
        if lone_wait is not None:
            app.router.lone_wait = app.router.decisive_wait = lone_wait
        return asyncio.run(answers(app, count) if question else presses(app, code, count))
    finally:
        services.dispose()


def describe(label: str, delays: list[float]) -> None:
    ordered = sorted(delays)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"  {label:<38} n={len(delays):<3} median {statistics.median(delays):5.1f} ms  "
        f"p95 {p95:5.1f} ms  max {max(delays):5.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["STATION_DATA_DIR"] = scratch
        url = f"sqlite:///{Path(scratch) / 'bench.sqlite3'}"
        engine = make_engine(DatabaseSettings(url=url))
        upgrade(engine)
        seed_demo(engine, attendees=200, reset=True)
        with engine.connect() as conn:
            code = conn.exec_driver_sql(
                'SELECT access_code FROM attendee JOIN "order" o ON o.id = attendee.order_id '
                "WHERE o.status = 'paid' ORDER BY attendee.id LIMIT 1"
            ).scalar_one()
        engine.dispose()
        print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print("lone 'r' on the badge preview -> picker on screen:")
        gap = Settings(database=DatabaseSettings(url=url), conference="x", station="x")
        gap_s = gap.scanner.burst_gap_ms / 1000
        before = run(url, code, args.presses, lone_wait=gap_s)
        after = run(url, code, args.presses, lone_wait=None)
        describe(f"waiting the burst gap ({gap_s * 1000:.0f} ms)", before)
        describe(f"waiting LONE_KEY_WAIT_S ({LONE_KEY_WAIT_S * 1000:.0f} ms)", after)
        added = statistics.median(after) - statistics.median(before)
        print(f"  added by the longer wait: {added:.1f} ms (median)")
        print("lone 'n' on the quit question -> question closed:")
        before = run(url, code, args.presses, lone_wait=gap_s, question=True)
        after = run(url, code, args.presses, lone_wait=None, question=True)
        describe(f"waiting the burst gap ({gap_s * 1000:.0f} ms)", before)
        describe(f"waiting DECISIVE_KEY_WAIT_S ({DECISIVE_KEY_WAIT_S * 1000:.0f} ms)", after)
        added = statistics.median(after) - statistics.median(before)
        print(f"  added by the longer wait: {added:.1f} ms (median)")


if __name__ == "__main__":
    main()
