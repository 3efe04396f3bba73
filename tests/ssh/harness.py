"""Run the real ``station`` command in real terminals: a pty, tmux, or tmux + ssh.

The tests here check what Pilot cannot: start-up without a terminal, signals
from the kernel, what a terminal actually shows. So the station runs as its own
process, exactly as ``station run`` (``python -m station run``), configured by
a TOML file and environment variables, never by test hooks.

Missing tools (tmux, sshd, ssh) skip a test with the reason, unless ``CI`` or
``STATION_REQUIRE_SSH=1`` is set (``.ci/run`` sets it): then they fail, because
CI must prove these paths work.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from station.db import DatabaseSettings

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

# CSI / OSC / two-character escape sequences, for reading a raw pty stream as text.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")


def must_not_skip() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("STATION_REQUIRE_SSH") == "1"


def require_tools(*names: str) -> None:
    """Skip without the tools, or fail in CI: CI must not skip these paths."""
    missing = [name for name in names if shutil.which(name) is None and not Path(name).exists()]
    if not missing:
        return
    message = f"needs {', '.join(missing)} (apt-get install openssh-server openssh-client tmux)"
    if must_not_skip():
        pytest.fail(f"{message}; CI must run this test")
    pytest.skip(message)


def station_env(
    database: DatabaseSettings,
    *,
    conference: str,
    station: str,
    operator: str | None = "Ana",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for ``python -m station run`` on this database (nothing inherited but PATH)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TERM": "xterm-256color",
        "STATION_DATABASE_URL": database.url,
        "STATION_CONFERENCE": conference,
        "STATION_NAME": station,
    }
    if database.schema:
        env["STATION_DATABASE_SCHEMA"] = database.schema
    if operator:
        env["STATION_OPERATOR"] = operator
    env.update(extra or {})
    return env


def station_argv(*args: str) -> list[str]:
    return [PYTHON, "-m", "station", "run", *args]


def screen_text(raw: bytes) -> str:
    """A raw terminal stream as plain text: escapes dropped, rows run together."""
    return _ESCAPES.sub("", raw.decode("utf-8", errors="replace"))


# --- a station in a pty -----------------------------------------------------------------

_SESSION_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGPIPE)


@dataclass
class PtyStation:
    """``station run`` on the slave side of a fresh pty; the test holds the master."""

    pid: int
    fd: int
    output: bytearray = field(default_factory=bytearray)
    status: int | None = None
    ended_at: float | None = None

    @classmethod
    def start(
        cls, argv: list[str], env: Mapping[str, str], *, cols: int = 80, rows: int = 24
    ) -> PtyStation:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal
            try:
                # Signals as sshd hands them to a session, whatever this process inherited
                # (under nohup SIGHUP is ignored, and an ignored signal stays ignored
                # across exec: a shell could not even trap it). Python ignores SIGPIPE.
                for signum in _SESSION_SIGNALS:
                    signal.signal(signum, signal.SIG_DFL)
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.chdir(REPO)
                os.execve(argv[0], argv, dict(env))
            finally:
                os._exit(127)
        return cls(pid=pid, fd=fd)

    def pump(self, timeout: float = 0.02) -> None:
        """Read whatever the station drew so far (it blocks when nobody reads)."""
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], timeout)
            except (OSError, ValueError):
                return
            if not ready:
                return
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the slave side is closed
                return
            if not chunk:
                return
            self.output.extend(chunk)
            timeout = 0

    @property
    def text(self) -> str:
        return screen_text(bytes(self.output))

    def poll(self) -> bool:
        """True once the process has ended (and records how)."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                self.ended_at = time.monotonic()
        return self.status is not None

    def wait_for_text(self, needle: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            self.pump(0.05)
            if self.poll():
                self.pump(0)
                if needle in self.text:
                    return
                raise AssertionError(
                    f"station ended (exit {self.status}) before showing {needle!r}: "
                    f"{self.text[-800:]!r}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {needle!r} within {timeout}s (whole output: {self.dump()}): "
                    f"{self.text[-800:]!r}"
                )

    def dump(self) -> str:
        """Keep what the station wrote, for a failure message; returns the file's path."""
        handle, path = tempfile.mkstemp(prefix="station-pty-", suffix=".bin")
        with os.fdopen(handle, "wb") as out:
            out.write(bytes(self.output))
        return path

    def write(self, data: str) -> None:
        os.write(self.fd, data.encode())

    def wait_ended(self, timeout: float) -> float | None:
        """Seconds until the process ended, reading its output meanwhile; None if it did not."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            self.pump(0.01)
            if self.poll():
                assert self.ended_at is not None
                return self.ended_at - started
        return None

    def close(self) -> None:
        if not self.poll():
            # It leads its own session and process group: take whatever it started along.
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.status = -9
        with suppress(OSError):
            os.close(self.fd)


@contextmanager
def pty_station(
    env: Mapping[str, str], *args: str, cols: int = 80, rows: int = 24
) -> Iterator[PtyStation]:
    station = PtyStation.start(station_argv(*args), env, cols=cols, rows=rows)
    try:
        yield station
    finally:
        station.close()


# --- a station in tmux ------------------------------------------------------------------


@dataclass
class Tmux:
    """One tmux server on a private socket: a real terminal emulator with a screen to read."""

    socket: str = field(default_factory=lambda: f"station-test-{uuid.uuid4().hex[:10]}")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=10,
        )

    def start(
        self,
        command: list[str],
        *,
        env: Mapping[str, str],
        cols: int = 80,
        rows: int = 24,
        name: str = "main",
        status_file: Path | None = None,
    ) -> None:
        """Run ``command`` in a new session; the pane keeps its last screen after it ends.

        Without ``status_file`` the pane's process is the command itself (its pid is the
        pane's); with it, a shell runs the command and writes its exit status there (tmux
        itself does not always collect it: its pane can stay a zombie).
        """
        quoted = " ".join(_sh_quote(part) for part in command)
        if status_file is None:
            wrapped = "exec " + quoted
        else:
            wrapped = f"{quoted}; echo $? > {_sh_quote(str(status_file))}"
        assignments = [f"{key}={value}" for key, value in env.items()]
        self.run(
            "new-session", "-d", "-s", name, "-x", str(cols), "-y", str(rows),
            "env", "-i", *assignments, "sh", "-c", wrapped,
        )  # fmt: skip
        self.run("set-option", "-t", name, "remain-on-exit", "on")

    def screen(self, name: str = "main") -> str:
        return self.run("capture-pane", "-p", "-t", name).stdout

    def send_text(self, text: str, name: str = "main") -> None:
        self.run("send-keys", "-t", name, "-l", text)

    def send_keys(self, *keys: str, name: str = "main") -> None:
        self.run("send-keys", "-t", name, *keys)

    def resize(self, cols: int, rows: int, name: str = "main") -> None:
        self.run("resize-window", "-t", name, "-x", str(cols), "-y", str(rows))

    def pane_pid(self, name: str = "main") -> int:
        return int(self.run("list-panes", "-t", name, "-F", "#{pane_pid}").stdout.split()[0])

    def kill_pane(self, name: str = "main") -> None:
        """SIGKILL the pane's process (its ssh), unless it has ended already: a session
        whose link died may see its ssh exit on its own before the test gets to it."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pane_pid(name), signal.SIGKILL)

    def pane_dead(self, name: str = "main") -> bool:
        out = self.run("list-panes", "-t", name, "-F", "#{pane_dead}", check=False).stdout
        return out.strip() == "1"

    def wait_exit_status(self, status_file: Path, timeout: float = 10.0, name: str = "main") -> int:
        """The exit status of a command started with ``status_file``, once it has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            written = status_file.read_text() if status_file.exists() else ""
            if written.endswith("\n"):
                return int(written)
            time.sleep(0.05)
        raise AssertionError(f"still running after {timeout}s:\n{self.screen(name)}")

    def wait_for(
        self, ready: Callable[[str], bool], what: str, timeout: float = 30.0, name: str = "main"
    ) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(name)
            if ready(screen):
                return screen
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; screen:\n{screen}")

    def kill(self) -> None:
        self.run("kill-server", check=False)


@contextmanager
def tmux_server() -> Iterator[Tmux]:
    require_tools("tmux")
    tmux = Tmux()
    try:
        yield tmux
    finally:
        tmux.kill()


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
