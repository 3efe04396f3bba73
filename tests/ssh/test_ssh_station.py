"""A remote station over real OpenSSH: the drop-in, the wrapper, the app, the database.

sshd runs on a loopback port with the station's drop-in; the real ``ssh``
client runs inside tmux (a real terminal emulator at 80×24) and the tests read
its screen. Logins are the ``station-test`` system user, key-only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import func, select

from station.db import DatabaseSettings, make_engine, make_session_factory
from station.models import Attendee, CheckIn, ScanLog
from tests.ssh.conftest import CODES
from tests.ssh.harness import REPO, Tmux, require_tools, tmux_server
from tests.ssh.rig import SUPERVISOR_PIN, WRAPPER, SshRig

GONE_WITHIN_S = 5.0
CLIENT_SNIPPET = REPO / "config" / "ssh" / "ssh_config.example"


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    with tmux_server() as server:
        yield server


def connect(
    tmux: Tmux,
    rig: SshRig,
    key: str,
    command: str | None = None,
    status_file: Path | None = None,
    *,
    client: Literal["readme", "snippet"] = "readme",
) -> None:
    """The station's client in an 80×24 terminal, set up as the README says.

    ``readme``: ``ssh -tt -e none station@host``. ``snippet``: plain ``ssh station``
    with the shipped ``ssh_config.example``, only the address and key overridden.
    Either way a scan starting with ``~.`` must reach the station, not end the session.
    """
    if client == "readme":
        argv = rig.ssh_argv(key, "-tt", "-e", "none", command=command)
    else:
        # Command-line options win over the file, and the file's "Host station" block
        # applies because the destination's host is "station".
        argv = rig.ssh_argv(key, "-F", str(CLIENT_SNIPPET), "-o", "HostName=127.0.0.1")
        argv[-1] = f"{rig.user.pw_name}@station"
    env = {"PATH": os.environ["PATH"], "TERM": "xterm-256color"}
    tmux.start(argv, env=env, status_file=status_file)


def type_like_a_person(tmux: Tmux, digits: str) -> None:
    """Key by key, then Enter: typed as fast as a scanner, the app would take it for a scan."""
    for key in [*digits, "Enter"]:
        tmux.send_keys(key)
        time.sleep(0.15)


def signed_in(screen: str) -> bool:
    """The scan screen with the operator signed in (the first frame shows it before sign-in)."""
    return "op: Ana" in screen and "Scan a badge" in screen


def wait_until_gone(rig: SshRig, timeout: float = GONE_WITHIN_S) -> float:
    started = time.monotonic()
    while rig.live():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"still running {timeout}s after the drop: {rig.live()}")
        time.sleep(0.02)
    return time.monotonic() - started


def db_snapshot(rig: SshRig, code: str) -> tuple[int, bool, int]:
    """(check-ins, checked_in_at set, scan-log rows) for one badge, read as root."""
    engine = make_engine(DatabaseSettings(url=rig.database_url, lock_timeout_ms=1000))
    try:
        sessions = make_session_factory(engine)
        with sessions() as s:
            attendee = s.scalar(select(Attendee).where(Attendee.access_code == code))
            assert attendee is not None
            checkins = s.scalar(
                select(func.count()).select_from(CheckIn).where(CheckIn.attendee_id == attendee.id)
            )
            logs = s.scalar(select(func.count()).select_from(ScanLog).where(ScanLog.code == code))
            return int(checkins or 0), attendee.checked_in_at is not None, int(logs or 0)
    finally:
        engine.dispose()
        _give_back(rig)


def _give_back(rig: SshRig) -> None:
    """A root connection may leave WAL side files; the station user must keep writing them."""
    database = Path(rig.database_url.removeprefix("sqlite:///"))
    for side in (
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ):
        if side.exists():
            os.chown(side, rig.user.pw_uid, rig.user.pw_gid)


def stations_of(rig: SshRig, code: str) -> list[str]:
    engine = make_engine(DatabaseSettings(url=rig.database_url))
    try:
        with make_session_factory(engine)() as s:
            query = (
                select(CheckIn.station)
                .join(Attendee, Attendee.id == CheckIn.attendee_id)
                .where(Attendee.access_code == code)
            )
            return list(s.scalars(query))
    finally:
        engine.dispose()
        _give_back(rig)


# --- what the client snippet sets ---------------------------------------------------------


def test_client_snippet_has_no_escape_character_and_asks_for_a_terminal() -> None:
    require_tools("ssh")
    shown = subprocess.run(
        ["ssh", "-G", "-F", str(CLIENT_SNIPPET), "station"],
        capture_output=True, text=True, timeout=30, check=True, stdin=subprocess.DEVNULL,
    ).stdout  # fmt: skip
    settings = dict(line.partition(" ")[::2] for line in shown.splitlines())
    assert settings["escapechar"] == "none"
    assert settings["requesttty"] == "force"
    assert settings["user"] == "station"


# --- what the drop-in grants -------------------------------------------------------------


def test_drop_in_gives_the_station_user_a_kiosk_and_nothing_else(ssh_rig: SshRig) -> None:
    mine = ssh_rig.effective(ssh_rig.user.pw_name)
    assert mine["forcecommand"] == [str(WRAPPER)]
    assert mine["permittty"] == ["yes"]
    for name in ("disableforwarding", "permituserrc", "passwordauthentication"):
        assert mine[name] == ["yes" if name == "disableforwarding" else "no"], name
    for name in ("allowtcpforwarding", "allowagentforwarding", "allowstreamlocalforwarding"):
        assert mine[name] == ["no"], name
    assert mine["x11forwarding"] == ["no"]
    assert mine["permittunnel"] == ["no"]
    assert mine["authenticationmethods"] == ["publickey"]
    assert mine["permituserenvironment"] == ["STATION_NAME"]
    # A dead link must become a hangup within a minute.
    interval = int(mine["clientaliveinterval"][0])
    assert 0 < interval * int(mine["clientalivecountmax"][0]) <= 60
    # The Match block ends with the drop-in: other users keep the server's own settings.
    other = ssh_rig.effective("root")
    assert other["forcecommand"] == ["none"]
    assert other["clientaliveinterval"] == ["0"]


def test_without_a_terminal_the_login_is_refused_in_one_line(ssh_rig: SshRig) -> None:
    result = subprocess.run(
        ssh_rig.ssh_argv("named", "-T", command="id"),
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2, result
    assert result.stderr.strip() == "station: needs a terminal — connect with ssh -t"
    assert "uid=" not in result.stdout


def test_asking_for_a_shell_gets_no_shell(ssh_rig: SshRig) -> None:
    # With a terminal the wrapper reads the command as a station name, and refuses this one.
    result = subprocess.run(
        ssh_rig.ssh_argv("unnamed", "-tt", command="/bin/sh -c id"),
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2, result
    output = result.stdout + result.stderr
    assert "station name may only use letters" in output
    assert "uid=" not in output


def test_no_forwarding_and_no_file_transfer(ssh_rig: SshRig) -> None:
    forward = subprocess.run(
        ssh_rig.ssh_argv("named", "-W", f"127.0.0.1:{ssh_rig.port}"),
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert forward.returncode != 0
    assert "forwarding failed" in forward.stderr, forward.stderr
    assert "refused local port forward: originator 127.0.0.1" in ssh_rig.log()
    assert "SSH-2.0" not in forward.stdout  # the forwarded port never answered
    sftp = subprocess.run(
        ssh_rig.ssh_argv("named", "-s", command="sftp"),
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    # sshd ran the wrapper instead of sftp-server (a subsystem's stderr is not sent back).
    assert sftp.returncode == 2


# --- a station over ssh ------------------------------------------------------------------


def test_scan_over_ssh_then_the_link_drops(ssh_rig: SshRig, tmux: Tmux) -> None:
    wait_until_gone(ssh_rig)  # the previous test's logins are closing
    connect(tmux, ssh_rig, "named")
    screen = tmux.wait_for(signed_in, "the scan screen over ssh")
    assert "Door SSH-1" in screen  # the name the key gave this terminal
    assert "CHECK-IN" in screen

    code, first, last = CODES["ada"]
    tmux.send_text(code)
    tmux.send_keys("Enter")
    screen = tmux.wait_for(lambda s: "CHECKED IN" in s, "the check-in verdict")
    assert f"{first} {last}" in screen
    assert db_snapshot(ssh_rig, code) == (1, True, 1)
    assert stations_of(ssh_rig, code) == ["Door SSH-1"]
    assert ssh_rig.live(), "the station should still be running"

    # Drop the link in the middle of the next scan: kill the client outright.
    code, _first, _last = CODES["grace"]
    tmux.send_text(code)
    tmux.send_keys("Enter")
    time.sleep(0.03)
    tmux.kill_pane()
    seconds = wait_until_gone(ssh_rig)
    print(f"server side gone {seconds:.2f}s after the client was killed")

    # The interrupted scan happened completely or not at all.
    checkins, checked_in, logs = db_snapshot(ssh_rig, code)
    assert (checkins, checked_in, logs) in ((0, False, 0), (1, True, 1))
    engine = make_engine(DatabaseSettings(url=ssh_rig.database_url, lock_timeout_ms=1000))
    try:
        with engine.begin() as conn:  # BEGIN IMMEDIATE: nobody still holds the write lock
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        engine.dispose()
        _give_back(ssh_rig)


@pytest.mark.parametrize("client", ["readme", "snippet"])
def test_a_scan_starting_with_tilde_dot_after_an_enter_reaches_the_station(
    ssh_rig: SshRig, tmux: Tmux, tmp_path: Path, client: Literal["readme", "snippet"]
) -> None:
    # Each scan ends in Enter, so the next one starts a line, where ssh's default escape
    # character acts: "~." would drop the station mid-queue. The documented client has none.
    wait_until_gone(ssh_rig)  # the previous test's logins are closing
    ssh_status = tmp_path / "ssh-status"
    connect(tmux, ssh_rig, "named", status_file=ssh_status, client=client)
    tmux.wait_for(signed_in, "the scan screen over ssh")
    code, first, last = CODES["barbara" if client == "readme" else "margaret"]
    tmux.send_text(code)
    tmux.send_keys("Enter")
    tmux.wait_for(lambda s: f"{first} {last}" in s and "CHECKED IN" in s, "the verdict")

    tmux.send_text("~.B4RB4R4")
    tmux.send_keys("Enter")
    # The station's own refusal names the "~": the scan reached it.
    tmux.wait_for(lambda s: "'~'" in s, "the station's refusal of the ~. scan")
    time.sleep(0.5)  # a disconnect would show now
    assert not ssh_status.exists(), "ssh took the scan for an escape and disconnected"
    assert ssh_rig.live()


def test_client_named_station_quits_only_with_the_supervisor_pin(
    ssh_rig: SshRig, tmux: Tmux, tmp_path: Path
) -> None:
    wait_until_gone(ssh_rig)  # the previous test's logins are closing
    ssh_status = tmp_path / "ssh-status"
    connect(tmux, ssh_rig, "unnamed", command="Door B", status_file=ssh_status)
    screen = tmux.wait_for(signed_in, "the scan screen over ssh")
    assert "Door B" in screen

    code, first, last = CODES["edsger"]
    tmux.send_text(code)
    tmux.send_keys("Enter")
    tmux.wait_for(lambda s: f"{first} {last}" in s and "CHECKED IN" in s, "the verdict")
    assert stations_of(ssh_rig, code) == ["Door B"]
    tmux.send_keys("Escape")
    tmux.wait_for(lambda s: "Scan a badge" in s, "the scan screen again")

    # The keys that end or suspend programs elsewhere do nothing here. (Pressed by a person:
    # one by one. Control keys inside a scanner-fast burst make a refused scan instead.)
    for key in ("C-c", "C-z", "C-\\"):
        tmux.send_keys(key)
        time.sleep(0.3)
    assert not ssh_status.exists()
    assert ssh_rig.live()
    assert "Scan a badge" in tmux.screen()

    tmux.send_keys("C-q")
    tmux.wait_for(lambda s: "Supervisor PIN" in s, "the supervisor PIN prompt")
    type_like_a_person(tmux, "0000")
    tmux.wait_for(lambda s: "Wrong PIN" in s, "the wrong PIN message")
    assert ssh_rig.live()
    time.sleep(1.1)  # a wrong PIN locks the field for a second
    type_like_a_person(tmux, SUPERVISOR_PIN)
    try:
        status = tmux.wait_exit_status(ssh_status, timeout=10)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nstill running on the server: {ssh_rig.live()}") from None
    assert status == 0  # the session ended normally: no shell to fall into
    wait_until_gone(ssh_rig)


def station_pids(rig: SshRig) -> list[int]:
    """The running stations (``python -m station run``) of this rig's logins."""
    return [int(line.split()[0]) for line in rig.live() if "-m station run" in line]


def test_keys_pressed_while_the_wrapper_restarts_the_station_do_not_end_the_session(
    ssh_rig: SshRig, tmux: Tmux, tmp_path: Path
) -> None:
    """After a crash the wrapper waits 2 s and starts the station again; until the new
    station takes the terminal, it is in cooked mode, where Ctrl+\\, Ctrl+C and Ctrl+Z are
    signals to the whole foreground process group: the wrapper, and the login shell that
    sshd started it with (dash, which does not exec the forced command), which would die
    of them and end the session."""
    wait_until_gone(ssh_rig)  # the previous test's logins are closing
    ssh_status = tmp_path / "ssh-status"
    connect(tmux, ssh_rig, "named", status_file=ssh_status)
    tmux.wait_for(signed_in, "the scan screen over ssh")
    (first,) = station_pids(ssh_rig)

    for round_ in range(2):
        os.kill(station_pids(ssh_rig)[0], signal.SIGSEGV)  # a crash, as far as the wrapper knows
        tmux.wait_for(lambda s: "restarting in" in s, "the wrapper's restart message")
        for key in ("C-\\", "C-c", "C-z"):
            tmux.send_keys(key)
            time.sleep(0.05)
        time.sleep(0.3)
        assert not ssh_status.exists(), f"round {round_}: the session ended:\n{tmux.screen()}"
        tmux.wait_for(signed_in, "the station back after the crash")
        (again,) = station_pids(ssh_rig)
        assert again != first
        first = again

    # The restarted station still scans, and nothing is left after the client goes.
    code, name, _last = CODES["margaret"]
    tmux.send_text(code)
    tmux.send_keys("Enter")
    tmux.wait_for(lambda s: name in s, "a verdict from the restarted station")
    assert not ssh_status.exists()
    tmux.kill_pane()
    wait_until_gone(ssh_rig)
