"""The station and its terminal: no tty, hangups, TERM detection.

The process tests run the real ``station run`` (``python -m station run``) in
a real pty, on SQLite and PostgreSQL, and send it the signals the kernel and
sshd send. They check what the issue promises: a one-line refusal without a
terminal; SIGHUP/SIGTERM end the process within a second with status 0 and no
traceback; a database write in flight when the hangup comes either commits
or rolls back, never half.
"""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from station import terminal
from station.models import Attendee, CheckIn, ScanLog
from tests.builders import Built, ConferenceBuilder
from tests.conftest import TestDatabase as Database
from tests.ssh.harness import PtyStation, pty_station, station_argv, station_env

EXIT_WITHIN_S = 1.0


# --- pure parts ------------------------------------------------------------------------


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        super().isatty()  # raises once closed, like a real stream
        return self.tty


def test_has_terminal_needs_all_three_streams() -> None:
    assert terminal.has_terminal([_Stream(True), _Stream(True), _Stream(True)])
    assert not terminal.has_terminal([_Stream(True), _Stream(False), _Stream(True)])
    assert not terminal.has_terminal([None, _Stream(True), _Stream(True)])
    closed = _Stream(True)
    closed.close()
    assert not terminal.has_terminal([closed])


@pytest.mark.parametrize(
    ("term", "tty_path", "ascii_borders", "linux"),
    [
        ("xterm-256color", "/dev/pts/3", False, False),
        ("xterm", "/dev/pts/3", False, False),
        ("tmux-256color", "/dev/pts/3", False, False),
        ("linux", "/dev/pts/3", True, True),  # over ssh from a Linux console
        ("linux-16color", None, True, True),
        ("", "/dev/tty2", True, True),  # the console itself, whatever TERM says
        ("xterm", "/dev/console", True, True),
        ("vt100", "/dev/pts/1", True, False),
        ("vt220", None, True, False),
        ("dumb", None, True, False),
        ("screen", "/dev/tty", False, False),  # /dev/tty is "my terminal", not the console
    ],
)
def test_detect_terminal(term: str, tty_path: str | None, ascii_borders: bool, linux: bool) -> None:
    traits = terminal.detect_terminal({"TERM": term}, tty_path=tty_path or "")
    assert traits.ascii_borders is ascii_borders
    assert traits.linux_console is linux
    assert traits.no_color is False


def test_settings_override_the_border_choice_and_no_color_is_seen() -> None:
    env = {"TERM": "linux", "NO_COLOR": "1"}
    assert terminal.detect_terminal(env, tty_path="", ascii_borders=False).ascii_borders is False
    assert terminal.detect_terminal(
        {"TERM": "xterm"}, tty_path="", ascii_borders=True
    ).ascii_borders
    assert terminal.detect_terminal(env, tty_path="").no_color


@dataclass
class _FakeApp:
    exits: int = 0

    def exit(self, result: Any = None, return_code: int = 0, message: Any = None) -> None:
        self.exits += 1


def test_first_signal_exits_the_app_and_later_ones_do_nothing() -> None:
    app = _FakeApp()
    ended: list[int] = []
    handler = terminal.ExitOnSignal(app, grace_s=60, hard_exit=ended.append)
    handler(signal.SIGHUP)
    handler(signal.SIGTERM)
    handler(signal.SIGHUP)
    assert app.exits == 1
    assert handler.received == signal.SIGHUP
    handler.cancel()
    assert ended == []


def test_the_watchdog_ends_a_process_whose_exit_stalls() -> None:
    ended: list[int] = []
    done = threading.Event()

    def hard_exit(code: int) -> None:
        ended.append(code)
        done.set()

    handler = terminal.ExitOnSignal(_FakeApp(), grace_s=0.05, hard_exit=hard_exit)
    handler(signal.SIGTERM)
    assert done.wait(5)
    assert ended == [128 + signal.SIGTERM]


def test_without_a_signal_the_process_is_not_ended_early() -> None:
    terminal.end_after_signal(None, 0)
    terminal.end_after_signal(terminal.ExitOnSignal(_FakeApp(), grace_s=60), 0)
    # Still here: only a station that was signalled skips the interpreter's teardown,
    # which the pty tests below go through (status 0, no traceback).


# --- a real station process ------------------------------------------------------------


@dataclass
class Seeded:
    db: Database
    conference: str
    ada: Built

    def env(self, **extra: str) -> dict[str, str]:
        return station_env(
            self.db.settings, conference=self.conference, station="Desk 1", extra=extra
        )

    def checkin_state(self) -> tuple[int, bool, int]:
        """(check-ins, checked_in_at set, scan-log rows) for Ada."""
        with self.db.sessions() as s:
            checkins = s.scalar(
                select(func.count())
                .select_from(CheckIn)
                .where(CheckIn.attendee_id == self.ada.attendee_id)
            )
            logs = s.scalar(
                select(func.count())
                .select_from(ScanLog)
                .where(ScanLog.code == self.ada.access_code)
            )
            attendee = s.get(Attendee, self.ada.attendee_id)
            assert attendee is not None
            return int(checkins or 0), attendee.checked_in_at is not None, int(logs or 0)


@pytest.fixture
def seeded(database: Database) -> Iterator[Seeded]:
    conf = ConferenceBuilder(database.sessions)
    conf.staff("Ana")
    ada = conf.attendee("ADA00001", first_name="Ada", last_name="Lovelace")
    yield Seeded(database, conf.slug, ada)


@pytest.fixture
def seeded_sqlite(sqlite_database: Database) -> Iterator[Seeded]:
    conf = ConferenceBuilder(sqlite_database.sessions)
    conf.staff("Ana")
    ada = conf.attendee("ADA00001", first_name="Ada", last_name="Lovelace")
    yield Seeded(sqlite_database, conf.slug, ada)


def _session_members(sid: int) -> list[int]:
    """Processes still in the station's session (it leads one: pty.fork called setsid)."""
    members: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


@pytest.mark.parametrize(
    "stdin_is_tty", [False, True], ids=["nothing-a-tty", "stdout-and-stderr-piped"]
)
def test_without_a_terminal_it_refuses_in_one_line(
    seeded_sqlite: Seeded, stdin_is_tty: bool
) -> None:
    stdin: int | None = subprocess.DEVNULL
    master = slave = -1
    if stdin_is_tty:
        master, slave = os.openpty()
        stdin = slave
    started = time.monotonic()
    try:
        result = subprocess.run(
            station_argv(),
            env=seeded_sqlite.env(),
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=30,
            cwd=Path(__file__).parents[1],
        )
    finally:
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)
    print(f"refused after {time.monotonic() - started:.2f}s")
    assert result.returncode == 2
    assert result.stderr == "station: needs a terminal — connect with ssh -t\n"
    assert result.stdout == ""
    assert seeded_sqlite.checkin_state() == (0, False, 0)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_hangup_and_term_end_the_station_cleanly(seeded: Seeded, signum: int) -> None:
    with pty_station(seeded.env()) as station:
        station.wait_for_text("op: Ana")
        os.kill(station.pid, signum)
        seconds = station.wait_ended(10)
        print(f"{signal.Signals(signum).name}: ended after {seconds}s")
        assert seconds is not None, "the station is still running"
        assert station.status == 0
        assert "Traceback" not in station.text
        assert seconds < EXIT_WITHIN_S
        assert _session_members(station.pid) == []


def test_a_closed_terminal_ends_the_station(seeded_sqlite: Seeded) -> None:
    """What sshd does when the link drops: the pty goes away under the station."""
    with pty_station(seeded_sqlite.env()) as station:
        station.wait_for_text("op: Ana")
        os.close(station.fd)
        station.fd = os.open("/dev/null", os.O_RDONLY)  # for close() at the end
        seconds = station.wait_ended(10)
        print(f"pty closed: ended after {seconds}s")
        assert seconds is not None, "the station is still running"
        assert station.status == 0
        assert seconds < EXIT_WITHIN_S
        assert _session_members(station.pid) == []


# --- a hangup while a write waits for a lock -------------------------------------------


class _WriteBlocker:
    """Holds the lock the station's check-in needs, from another connection."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    def __enter__(self) -> _WriteBlocker:
        return self

    def hold(self) -> None:
        if self.db.kind == "sqlite":
            path = self.db.settings.url.removeprefix("sqlite:///")
            self._sqlite = sqlite3.connect(path, isolation_level=None)
            self._sqlite.execute("BEGIN IMMEDIATE")
        else:
            self._pg = self.db.engine.connect()
            self._pg.execute(text("LOCK TABLE check_in IN ACCESS EXCLUSIVE MODE"))

    def release(self) -> None:
        if self._sqlite is not None:
            self._sqlite.rollback()
            self._sqlite.close()
            self._sqlite = None
        if self._pg is not None:
            self._pg.rollback()
            self._pg.close()
            self._pg = None

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _scan_then_hang_up(station: PtyStation, blocker: _WriteBlocker, code: str) -> None:
    station.wait_for_text("op: Ana")  # signed in: scans count from now on
    blocker.hold()
    station.write(code + "\r")
    station.wait_for_text("working")  # the check-in is waiting for the lock
    os.kill(station.pid, signal.SIGHUP)


def test_a_write_in_flight_at_hangup_commits(seeded: Seeded) -> None:
    env = seeded.env(STATION_LOCK_TIMEOUT_MS="10000")
    with _WriteBlocker(seeded.db) as blocker, pty_station(env) as station:
        _scan_then_hang_up(station, blocker, seeded.ada.access_code)
        # The station waits for its write instead of dying in the middle of it...
        assert station.wait_ended(0.5) is None
        blocker.release()
        # ...which then commits, and the station ends.
        seconds = station.wait_ended(10)
        assert seconds is not None, "the station is still running"
        assert station.status == 0
        assert "Traceback" not in station.text
    assert seeded.checkin_state() == (1, True, 1)


def test_a_write_in_flight_at_hangup_rolls_back_when_the_lock_never_comes(
    seeded: Seeded,
) -> None:
    env = seeded.env(STATION_LOCK_TIMEOUT_MS="1000")
    with _WriteBlocker(seeded.db) as blocker, pty_station(env) as station:
        _scan_then_hang_up(station, blocker, seeded.ada.access_code)
        # The lock timeout ends the wait; the worker rolls back and the station ends.
        seconds = station.wait_ended(10)
        print(f"ended {seconds}s after the hangup")
        assert seconds is not None, "the station is still running"
        assert station.status == 0
        assert "Traceback" not in station.text
    checkins, checked_in, _logs = seeded.checkin_state()
    assert (checkins, checked_in) == (0, False)
