"""kill -9 of an offline station, 20 times at random points: every verdict it showed
reaches the database exactly once after the link is back, and nothing else does."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from station.bench.faulty_link import faulty_link
from station.models import CheckIn
from station.offline.journal import Journal
from station.offline.parts import file_stem
from station.offline.snapshot import Snapshot
from station.offline.sync import SnapshotSync
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase as Database

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20


def test_kill_9_while_offline_loses_and_doubles_nothing(
    postgres_database: Database, tmp_path: Path
) -> None:
    db = postgres_database
    conf = ConferenceBuilder(db.sessions)
    codes = [conf.attendee(f"KILL{n}").access_code for n in range(5)]
    station = "Desk 9"
    directory = tmp_path / "offline"
    stem = file_stem(conf.slug, station)
    SnapshotSync(db.engine, Snapshot(directory / f"{stem}.snapshot.sqlite3"), conf.slug).fill()
    url = make_url(db.settings.url)
    shown: set[str] = set()
    rng = random.Random(1717)
    with faulty_link(url.host or "127.0.0.1", url.port or 5432) as link:
        link.cut()
        args = {
            "url": url.set(host="127.0.0.1", port=link.port).render_as_string(hide_password=False),
            "schema": db.settings.schema, "conference": conf.slug, "station": station,
            "directory": str(directory), "codes": codes,
        }  # fmt: skip
        for _ in range(KILLS):
            child = subprocess.Popen(
                [sys.executable, "-m", "tests.offline.scan_child", json.dumps(args)],
                cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ},
            )  # fmt: skip
            assert child.stdout is not None
            lines: list[str] = []
            ready = threading.Event()

            def read(
                out: object = child.stdout, into: list[str] = lines, flag: threading.Event = ready
            ) -> None:
                for line in out:  # type: ignore[attr-defined]
                    into.append(line)
                    if line.startswith("READY"):
                        flag.set()

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            assert ready.wait(30), "the station process never started"
            time.sleep(rng.uniform(0.0, 0.6))
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            reader.join(5)
            shown |= {line.split()[1] for line in lines if line.startswith("SHOWN ")}
        assert len(shown) > KILLS  # the station did show verdicts between kills
        journal = Journal(directory / f"{stem}.journal.sqlite3")
        journaled = {str(e.client_id) for e in journal.entries()}
        assert shown <= journaled  # every verdict shown was on disk first

        link.restore()  # the station restarts with the network back and catches up
        drained = subprocess.run(
            [sys.executable, "-m", "tests.offline.scan_child", json.dumps({**args, "drain": True})],
            cwd=ROOT, capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        assert "DRAINED" in drained.stdout, drained.stderr[-2000:]
    assert journal.results() == {"recorded": len(journaled)}
    with db.sessions() as s:
        rows = s.execute(select(CheckIn.client_id, func.count()).group_by(CheckIn.client_id)).all()
    assert all(n == 1 for _, n in rows)
    assert {str(c) for c, _ in rows} == journaled
