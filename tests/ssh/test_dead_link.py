"""A silently dead link ends the remote station within the README's bound, end to end.

Real sshd with the shipped drop-in and wrapper, real ssh in tmux, the link killed
by an nftables rule on the loopback (see ``tests/ssh/dead_link.py``). One login per
condition, side by side, each cut at a random point of sshd's probe cycle:

- idle: the real station on its scan screen, drawing nothing;
- scan: the real station, its link cut 30 ms after a scan's Enter (the database
  write in flight, the verdict drawn into the dead link);
- drawing: a stand-in redrawing a clock every second (a live dashboard);
- flooding: a stand-in drawing 80 KB/s (output queued behind the dead link).

The test waits until each station is gone. As a benchmark, several rounds, also
timing sshd's own process for the connection (a dead link's sshd outlives the
station: it waits for the client to close the channel), with the figures printed:

    STATION_DEAD_LINK_RUNS=5 STATION_DEAD_LINK_SSHD=1 STATION_DEAD_LINK_CAP_S=1200 \\
        .venv/bin/pytest tests/ssh/test_dead_link.py -n0 -s -p no:cacheprovider
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator

import pytest

from tests.ssh.dead_link import CONDITIONS, Outcome, measure_all
from tests.ssh.harness import Tmux, require_tools, tmux_server
from tests.ssh.rig import SshRig

# What the README promises: a silently dead link ends the station within this.
PROMISED_S = 45.0
RUNS = int(os.environ.get("STATION_DEAD_LINK_RUNS", "1"))
CAP_S = float(os.environ.get("STATION_DEAD_LINK_CAP_S", "60"))
FOLLOW_SSHD = os.environ.get("STATION_DEAD_LINK_SSHD") == "1"


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    with tmux_server() as server:
        yield server


def summary(outcomes: list[Outcome]) -> str:
    lines = [outcome.line() for outcome in sorted(outcomes, key=lambda o: o.condition)]
    for condition in CONDITIONS:
        gone = [o.station_gone_s for o in outcomes if o.condition == condition]
        known = sorted(s for s in gone if s is not None)
        if not gone:
            continue
        capped = len(gone) - len(known)
        figures = (
            f"min {known[0]:.1f} median {statistics.median(known):.1f} max {known[-1]:.1f} s"
            if known
            else "no figures"
        )
        lines.append(
            f"{condition}: {len(gone)} runs, station gone {figures}"
            + (f", {capped} still running after {CAP_S:.0f} s" if capped else "")
        )
    return "\n".join(lines)


def test_a_silently_dead_link_ends_the_station_within_the_promised_time(
    ssh_rig: SshRig, tmux: Tmux
) -> None:
    require_tools("nft", "ss")
    settings = ssh_rig.effective(ssh_rig.user.pw_name)
    interval = int(settings["clientaliveinterval"][0])
    outcomes: list[Outcome] = []
    for _ in range(RUNS):
        # Cut anywhere in sshd's probe cycle (OpenSSH 9.2 probes every 2 intervals).
        outcomes += measure_all(
            ssh_rig,
            tmux,
            list(CONDITIONS),
            max_wait_s=2 * interval,
            cap_s=CAP_S,
            follow_sshd=FOLLOW_SSHD,
        )
    report = summary(outcomes)
    print(f"\n{report}")
    late = [o for o in outcomes if o.station_gone_s is None or o.station_gone_s > PROMISED_S]
    assert not late, f"stations outlived a dead link by more than {PROMISED_S} s:\n{report}"
    # Of the station's side nothing is left (sshd's own process may still be waiting).
    deadline = time.monotonic() + 5
    while left := [line for line in ssh_rig.live() if "sshd" not in line]:
        assert time.monotonic() < deadline, f"left running: {left}"
        time.sleep(0.1)
