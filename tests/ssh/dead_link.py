"""Measure how long a station outlives a silently dead SSH link.

A link dies silently when the terminal loses power or the Wi-Fi drops it: no
FIN, no RST, nothing comes back. Here that is an nftables rule on the loopback
that drops every packet of one SSH connection in both directions (its own
table, removed afterwards; other connections are untouched). From that moment
the clock runs until the station process on the server is gone, and until
sshd's own process for the connection is gone.

Each login runs in its own tmux session: the real ``ssh`` client, through the
real sshd and the station's wrapper, to the real station, or to a stand-in that
draws (a live clock, like a dashboard) or floods (output queued behind a dead
link), put in place with :meth:`SshRig.stand_in`.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.ssh.harness import Tmux
from tests.ssh.rig import SshRig

# A stand-in that redraws a clock every second, like a live dashboard: sshd never
# sits idle for a whole ClientAliveInterval, so it never sends a probe.
CLOCK = r"""#!/bin/sh
printf '\033[2J' >&2
while :; do
    printf '\033[HCLOCK %s\r\n' "$(date +%T)" >&2
    sleep 1
done
"""

# A stand-in that draws 16 KB frames five times a second (a big screen redrawn often):
# when the link dies, its output piles up in sshd and in the kernel's send buffer.
FLOOD = r"""#!/bin/sh
printf '\033[2JFLOOD\r\n' >&2
frame=$(head -c 16384 /dev/zero | tr '\0' 'x')
while :; do
    printf '\033[2;1H%s\033[HFLOOD\r\n' "$frame" >&2
    sleep 0.2
done
"""

STAND_INS = {"drawing": CLOCK, "flooding": FLOOD}
CONDITIONS = ("idle", "scan", "drawing", "flooding")


@dataclass
class Outcome:
    condition: str
    waited_s: float  # how long the session ran before the link died
    station_gone_s: float | None  # None: still running when the measurement gave up
    sshd_gone_s: float | None

    def line(self) -> str:
        def show(value: float | None) -> str:
            return f"{value:6.1f}" if value is not None else "     -"

        return (
            f"{self.condition:9} cut after {self.waited_s:5.1f} s: "
            f"station gone {show(self.station_gone_s)} s, sshd gone {show(self.sshd_gone_s)} s"
        )


@contextmanager
def dead_link(client_port: int) -> Iterator[None]:
    """Every packet of the loopback TCP connection from ``client_port`` dropped, both ways."""
    table = f"station_dead_link_{uuid.uuid4().hex[:8]}"
    script = (
        f"add table inet {table}\n"
        f"add chain inet {table} input {{ type filter hook input priority -300; policy accept; }}\n"
        f"add rule inet {table} input iif lo tcp sport {client_port} drop\n"
        f"add rule inet {table} input iif lo tcp dport {client_port} drop\n"
    )
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True, timeout=10)
    try:
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], check=False, timeout=10)


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, _, value in pairs}


def station_of(rig: SshRig, name: str) -> tuple[int, int] | None:
    """(pid, client port) of the station (or stand-in) a login named ``name`` runs."""
    for line in rig.live():
        pid_text, _, cmdline = line.partition(" ")
        if "-m station run" not in cmdline and "/stand-ins/" not in cmdline:
            continue
        env = _environ(int(pid_text))
        if env.get("STATION_NAME") == name and "SSH_CONNECTION" in env:
            return int(pid_text), int(env["SSH_CONNECTION"].split()[1])
    return None


def sshd_holds(rig: SshRig, client_port: int) -> bool:
    """Whether a process (sshd) still holds the server side of this connection."""
    shown = subprocess.run(
        ["ss", "-tnpH", "state", "all", f"( sport = :{rig.port} and dport = :{client_port} )"],
        capture_output=True, text=True, check=True, timeout=10,
    ).stdout  # fmt: skip
    return "users:" in shown


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def measure(
    rig: SshRig,
    tmux: Tmux,
    condition: str,
    *,
    wait_s: float,
    cap_s: float,
    follow_sshd: bool = True,
    scan_code: str = "ADA00001",
) -> Outcome:
    """One login under ``condition``; after ``wait_s`` its link dies; time until it is gone
    (the station, and with ``follow_sshd`` sshd's process for the connection too)."""
    assert condition in CONDITIONS, condition
    name = f"{condition} {uuid.uuid4().hex[:6]}"
    session = re.sub(r"\W", "-", name)
    if condition in STAND_INS:
        rig.stand_in(name, STAND_INS[condition])
    # A terminal of its own: logins with one key are one station (the wrapper's limit).
    key = rig.add_key(session)
    argv = rig.ssh_argv(key, "-tt", "-e", "none", command=name)
    tmux.start(argv, env={"PATH": os.environ["PATH"], "TERM": "xterm-256color"}, name=session)
    try:
        ready: Callable[[str], bool]
        if condition in STAND_INS:
            marker = "CLOCK" if condition == "drawing" else "FLOOD"

            def ready(screen: str) -> bool:
                return marker in screen
        else:

            def ready(screen: str) -> bool:
                return "op: Ana" in screen and "Scan a badge" in screen

        tmux.wait_for(ready, f"{condition} station on screen", timeout=60, name=session)
        found = station_of(rig, name)
        assert found is not None, f"no station process for {name!r}: {rig.live()}"
        pid, client_port = found
        time.sleep(wait_s)
        if condition == "scan":
            # The link dies while the station answers a scan: its database write is in
            # flight and its verdict is drawn into the dead link.
            tmux.send_text(scan_code, name=session)
            tmux.send_keys("Enter", name=session)
            time.sleep(0.03)
        with dead_link(client_port):
            cut = time.monotonic()
            station_gone = sshd_gone = None
            while time.monotonic() - cut < cap_s and (
                station_gone is None or (follow_sshd and sshd_gone is None)
            ):
                now = time.monotonic() - cut
                if station_gone is None and not alive(pid):
                    station_gone = now
                if sshd_gone is None and not sshd_holds(rig, client_port):
                    sshd_gone = now
                time.sleep(0.1)
        return Outcome(condition, wait_s, station_gone, sshd_gone)
    finally:
        tmux.run("kill-session", "-t", session, check=False)


def measure_all(
    rig: SshRig,
    tmux: Tmux,
    conditions: list[str],
    *,
    max_wait_s: float,
    cap_s: float,
    follow_sshd: bool = True,
) -> list[Outcome]:
    """Every condition in ``conditions`` at once, each in its own login; the link of each
    dies after a random wait in [0, max_wait_s) (where in sshd's probe cycle it dies)."""
    outcomes: list[Outcome] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one(condition: str, wait_s: float) -> None:
        try:
            outcome = measure(
                rig, tmux, condition, wait_s=wait_s, cap_s=cap_s, follow_sshd=follow_sshd
            )
        except BaseException as error:  # reported by the caller
            with lock:
                errors.append(error)
        else:
            with lock:
                outcomes.append(outcome)

    threads = [
        threading.Thread(target=one, args=(condition, random.uniform(0, max_wait_s)))
        for condition in conditions
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.5)  # stations do not all import at the same instant
    for thread in threads:
        thread.join()
    if errors:
        shown = "\n".join(outcome.line() for outcome in outcomes)
        raise AssertionError(f"a login failed ({errors[0]!r}); the others:\n{shown}") from errors[0]
    return outcomes
