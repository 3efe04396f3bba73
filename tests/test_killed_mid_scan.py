"""A write whose answer was lost stays one write after the station process is killed.

The real ``station run`` runs in a pty on PostgreSQL behind a TCP proxy. The proxy
lets the scan's write commit and swallows its answer: the station shows NOT
RECORDED and keeps the scan in its pending file. Then the process is killed with
SIGKILL (no clean-up at all), a new one starts with the same environment, and the
same code is scanned again: it must show the original verdict, not a second write.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from station.models import Attendee, CheckIn, ProductRedemption
from station.offline.journal import Journal
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase as Database
from tests.ssh.harness import PtyStation, screen_text, station_argv, station_env
from tests.tui.proxy import TcpProxy

pytestmark = pytest.mark.postgres

STEP_TIMEOUT_S = 60.0
"""Generous: a station process starts, signs in and connects in about a second."""
READY = ("op: Ana", "PyCon Test · Lunch 1", "● DB OK")
"""Signed in, the station's info loaded, the database reached: scans count from then on."""
LOST = "✔ OK — recorded earlier, answer was lost"
"""The rescan's headline (the start-up notice "Recorded after all: …" has no tick)."""


@dataclass(frozen=True)
class Case:
    mode: str
    product: str | None
    record: type[Any]
    original: str
    """Words of the original verdict, shown again by the rescan."""


CASES = {
    "meal": Case("meal", "lunch", ProductRedemption, "LUNCH OK"),
    "checkin": Case("checkin", None, CheckIn, "CHECKED IN"),
}


@pytest.fixture
def proxy(postgres_database: Database) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the test database, started by the test."""
    upstream = urlsplit(postgres_database.settings.url)
    tcp = TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 5432)
    tcp.start()
    yield tcp
    tcp.stop()


class Run:
    """One ``station run`` process in its own pty; the screen is read as raw text."""

    def __init__(self, env: dict[str, str]) -> None:
        self.station = PtyStation.start(station_argv(), env)

    def text_since(self, start: int) -> str:
        return screen_text(bytes(self.station.output[start:]))

    def wait_for(self, needle: str, start: int = 0, what: str = "") -> str:
        """Read the pty until ``needle`` shows after byte ``start``; returns that text."""
        station = self.station
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while needle not in self.text_since(start):
            station.pump(0.05)
            if station.poll():
                station.pump(0)
                if needle in self.text_since(start):
                    break
                raise AssertionError(
                    f"station ended (exit {station.status}) before {what or needle!r}: "
                    f"{self.text_since(start)[-1500:]!r}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {what or needle!r} within {STEP_TIMEOUT_S}s (output kept in "
                    f"{station.dump()}): {self.text_since(start)[-1500:]!r}"
                )
        station.pump(0.2)  # the rest of that frame
        return self.text_since(start)

    def ready(self) -> None:
        for needle in READY:
            self.wait_for(needle, what=f"{needle!r} in the header")

    def scan(self, code: str, needle: str) -> str:
        """Type a code and Enter in one write, as a scanner's burst arrives."""
        start = len(self.station.output)
        self.station.write(code + "\r")
        return self.wait_for(needle, start, f"{needle!r} after scanning {code}")

    def kill(self) -> None:
        """SIGKILL the process group: no handler, no clean-up, no flush."""
        station = self.station
        os.killpg(station.pid, signal.SIGKILL)
        assert station.wait_ended(STEP_TIMEOUT_S) is not None, "SIGKILL did not end it"
        assert station.status == -signal.SIGKILL

    def close(self) -> None:
        self.station.close()  # kills the process group if it still runs


def _records(db: Database, model: type[Any]) -> list[str]:
    with db.sessions() as session:
        return [str(i) for i in session.scalars(select(model.client_id)).all()]


def _pending_ids(data_dir: Path) -> list[str]:
    files = list((data_dir / "pending").glob("*.json"))
    assert len(files) == 1, files
    return [entry["client_id"] for entry in json.loads(files[0].read_text())["pending"]]


@pytest.mark.parametrize("name", list(CASES))
def test_killed_station_on_postgres_replays_a_lost_write_after_restart(
    postgres_database: Database, proxy: TcpProxy, tmp_path: Path, name: str
) -> None:
    """Lost answer, SIGKILL, new process, rescan: the original verdict, one record."""
    case = CASES[name]
    db = postgres_database
    conf = ConferenceBuilder(db.sessions)
    conf.staff("Ana")
    conf.addon("lunch", "Lunch")
    code = conf.attendee(addons={"lunch": 1}).access_code

    upstream = urlsplit(db.settings.url)
    url = db.settings.url.replace(f"{upstream.hostname}:{upstream.port}", f"127.0.0.1:{proxy.port}")
    assert url != db.settings.url, "the station must go through the proxy"
    data_dir, log_dir = tmp_path / "data", tmp_path / "logs"
    extra = {
        "STATION_MODE": case.mode,
        "STATION_DATA_DIR": str(data_dir),
        "STATION_LOG_DIR": str(log_dir),
        "STATION_CONNECT_TIMEOUT": "2",
        # Without offline mode: this is about NOT RECORDED and the rescan (tests/offline
        # covers a lost answer with offline mode on).
        "STATION_OFFLINE": "false",
    }
    if case.product:
        extra["STATION_PRODUCT"] = case.product
    env = station_env(
        replace(db.settings, url=url), conference=conf.slug, station="Lunch 1", extra=extra
    )

    first = Run(env)
    try:
        first.ready()
        lost = proxy.lose_answer_to(code.encode(), skip=1)  # 1st: the facts; 2nd: the write
        shown = first.scan(code, "✖ NOT RECORDED")
        assert lost.is_set(), "the proxy never saw the write"
        assert case.original not in shown, shown
        first.kill()
    finally:
        first.close()

    [client_id] = _pending_ids(data_dir)  # fsynced before NOT RECORDED showed
    assert _records(db, case.record) == [client_id]  # the write did commit

    second = Run(env)
    try:
        second.ready()
        shown = second.scan(code, LOST)
        assert case.original in shown, shown
        assert "ALREADY" not in shown and "RE-ENTRY" not in shown, shown
    finally:
        second.close()
    assert _records(db, case.record) == [client_id]


def _redemptions_of(db: Database, code: str) -> list[str]:
    with db.sessions() as session:
        found = session.scalars(
            select(ProductRedemption.client_id)
            .join(Attendee, Attendee.id == ProductRedemption.attendee_id)
            .where(Attendee.access_code == code)
        )
        return [str(client_id) for client_id in found]


def _journaled_ids(data_dir: Path) -> list[str]:
    """Client ids in the station's offline journal, read from its file as it was left."""
    [path] = (data_dir / "offline").glob("*.journal.sqlite3")
    return [str(entry.client_id) for entry in Journal(path).entries()]


def test_killed_station_deciding_on_its_snapshot_records_a_lost_write_once(
    postgres_database: Database, proxy: TcpProxy, tmp_path: Path
) -> None:
    """Offline mode on, so a meal is decided on the station's snapshot and only the guarded
    write goes out (one round trip). That write commits and its answer is lost: the station
    decides the same scan offline under the same client id and journals it. SIGKILL, new
    process: the journal's replay finds the record, and a rescan is refused as used up."""
    db = postgres_database
    conf = ConferenceBuilder(db.sessions)
    conf.staff("Ana")
    conf.addon("lunch", "Lunch")
    warm = [conf.attendee(addons={"lunch": 1}).access_code for _ in range(5)]
    code = conf.attendee(addons={"lunch": 1}).access_code

    upstream = urlsplit(db.settings.url)
    url = db.settings.url.replace(f"{upstream.hostname}:{upstream.port}", f"127.0.0.1:{proxy.port}")
    data_dir, log_dir = tmp_path / "data", tmp_path / "logs"
    extra = {
        "STATION_MODE": "meal",
        "STATION_PRODUCT": "lunch",
        "STATION_DATA_DIR": str(data_dir),
        "STATION_LOG_DIR": str(log_dir),
        "STATION_CONNECT_TIMEOUT": "2",
        "STATION_OFFLINE": "true",
    }
    env = station_env(
        replace(db.settings, url=url), conference=conf.slug, station="Lunch 1", extra=extra
    )

    first = Run(env)
    try:
        first.ready()
        # The first scans after start read first (the server's clock is not known yet, the
        # snapshot may still be filling); from then on a meal is one request on the wire.
        for warm_code in warm:
            proxy.watch(warm_code.encode())
            first.scan(warm_code, "LUNCH OK")
            if proxy.requests_with(warm_code.encode()) == 1:
                break
        else:
            raise AssertionError("no scan was decided on the snapshot")
        proxy.watch(code.encode())
        lost = proxy.lose_answer_to(code.encode())  # its one request: the guarded write
        shown = first.scan(code, "LUNCH OK")  # decided again offline, same client id
        assert lost.is_set(), "the proxy never saw the write"
        assert proxy.requests_with(code.encode()) == 1, "the scan did not go snapshot first"
        first.kill()
    finally:
        first.close()

    [client_id] = _redemptions_of(db, code)  # the write did commit, once
    assert client_id in _journaled_ids(data_dir), "the offline decision took another id"

    second = Run(env)
    try:
        second.ready()
        shown = second.scan(code, "ALREADY REDEEMED")
        assert "LUNCH OK" not in shown, shown
    finally:
        second.close()
    assert _redemptions_of(db, code) == [client_id]
