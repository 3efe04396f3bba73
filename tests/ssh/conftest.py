"""One sshd for the module's tests, serving a seeded SQLite station database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.db import DatabaseSettings, make_engine, make_session_factory
from tests.builders import ConferenceBuilder
from tests.ssh.rig import SshRig, start_rig

# Badge codes seeded for the SSH tests, one per scan so tests do not meet.
CODES = {
    "ada": ("ADA00001", "Ada", "Lovelace"),
    "grace": ("GRACE0002", "Grace", "Hopper"),
    "edsger": ("EDSGER003", "Edsger", "Dijkstra"),
    "barbara": ("BARBARA04", "Barbara", "Liskov"),
    "margaret": ("MARGARET5", "Margaret", "Hamilton"),
}


@pytest.fixture(scope="module")
def ssh_rig(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshRig]:
    seeded = tmp_path_factory.mktemp("ssh-seed") / "station.sqlite3"
    shutil.copyfile(sqlite_template, seeded)
    engine = make_engine(DatabaseSettings(url=f"sqlite:///{seeded}"))
    conf = ConferenceBuilder(make_session_factory(engine))
    conf.staff("Ana")
    for code, first, last in CODES.values():
        conf.attendee(code, first_name=first, last_name=last)
    engine.dispose()
    rig = start_rig(seeded, conf.slug)
    try:
        yield rig
    finally:
        rig.stop()
