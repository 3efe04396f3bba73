"""A real OpenSSH server on a loopback port, set up the way the README tells a sysadmin.

Its own host key, config file, authorized keys and pid file live in a temp
directory; the station's drop-in (``config/ssh/station.conf``) is included
unchanged except for four site paths and the user name, which the rig checks
are still there, so a change to the drop-in reaches this test. Logins are for
the dedicated system user ``station-test`` (created when missing, like the
README's ``station`` user), key-only.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from station.pins import hash_pin
from tests.ssh.harness import REPO, must_not_skip, require_tools

SSHD = "/usr/sbin/sshd"
USER = "station-test"
DROP_IN = REPO / "config" / "ssh" / "station.conf"
WRAPPER = REPO / "config" / "ssh" / "station-ssh"
SUPERVISOR_PIN = "2468"
# What the drop-in says on a real server, and what the rig puts there instead.
SITE_PATHS = {
    "Match User station\n": f"Match User {USER}\n",
    "/usr/local/lib/station/station-ssh": str(WRAPPER),
    "/etc/station/authorized_keys": "{tmp}/authorized_keys",
    "SetEnv STATION_CONFIG=/etc/station/station.toml STATION_BIN=/opt/station/bin/station": (
        "SetEnv STATION_CONFIG={tmp}/station.toml STATION_BIN={tmp}/bin/station"
    ),
}


def require_root_and_openssh() -> None:
    require_tools(SSHD, "ssh", "ssh-keygen", "tmux")
    if os.geteuid() != 0:
        message = "the SSH end-to-end test runs sshd, which must start as root"
        if must_not_skip():
            pytest.fail(message)
        pytest.skip(message)


def ensure_user() -> pwd.struct_passwd:
    """The login user, as in production: a system user with a shell sshd can run the wrapper
    with, and a password field of ``*`` (no password, but not "locked", which sshd refuses)."""
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        pass
    subprocess.run(
        ["useradd", "--system", "--create-home", "--home-dir", f"/var/lib/{USER}",
         "--shell", "/bin/sh", USER],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(["usermod", "-p", "*", USER], check=True, capture_output=True)
    return pwd.getpwnam(USER)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def live_processes(uid: int, marker: str | None = None, ancestor: int | None = None) -> list[str]:
    """The user's processes that still run (zombies waiting for init's reaping do not).

    With ``marker`` or ``ancestor``, only one rig's: a process whose environment holds
    ``marker`` (every process a login starts gets the rig's ``SetEnv`` paths, and keeps
    them when orphaned), or that descends from ``ancestor`` (sshd's session processes).
    Rigs of other test workers log in as the same user at the same time.
    """
    found: list[str] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            environ = (entry / "environ").read_bytes() if marker is not None else b""
        except OSError:
            continue
        state = stat[stat.rindex(")") + 2]
        if state in "ZX":
            continue
        anyones = marker is None and ancestor is None
        marked = marker is not None and marker.encode() in environ
        descends = ancestor is not None and _descends_from(int(entry.name), ancestor)
        if anyones or marked or descends:
            found.append(f"{entry.name} {cmdline}")
    return found


def _descends_from(pid: int, ancestor: int) -> bool:
    for _ in range(64):
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat[stat.rindex(")") + 2 :].split()[1])
    return False


def interpreter_for(user: pwd.struct_passwd) -> tuple[str, str]:
    """A Python the login user may run that imports the station: (executable, PYTHONPATH).

    The test's own interpreter may live where the user cannot reach (``/root/.pyenv``);
    then the system Python of the same version with this environment's packages.
    """
    packages = sysconfig.get_paths()["purelib"]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        (sys.executable, str(REPO)),
        (sys.executable, f"{REPO}:{packages}"),
        (f"/usr/bin/{version}", f"{REPO}:{packages}"),
    ]
    for executable, path in candidates:
        probe = subprocess.run(
            ["runuser", "-u", user.pw_name, "--", "env", f"PYTHONPATH={path}", executable,
             "-c", "import textual, sqlalchemy, station.cli"],
            capture_output=True, cwd="/", timeout=30,
        )  # fmt: skip
        if probe.returncode == 0:
            return executable, path
    raise AssertionError(f"no Python that {user.pw_name} can run imports the station")


@dataclass
class SshRig:
    tmp: Path
    user: pwd.struct_passwd
    port: int
    database_url: str
    conference: str
    process: subprocess.Popen[bytes] | None = None
    keys: dict[str, Path] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.tmp / "sshd_config"

    def ssh_argv(self, key: str, *options: str, command: str | None = None) -> list[str]:
        argv = [
            "ssh", "-i", str(self.keys[key]), "-p", str(self.port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
            *options, f"{self.user.pw_name}@127.0.0.1",
        ]  # fmt: skip
        if command is not None:
            argv.append(command)
        return argv

    def effective(self, user: str) -> dict[str, list[str]]:
        """``sshd -T``: the settings a login of ``user`` from 127.0.0.1 gets."""
        connection = f"user={user},host=localhost,addr=127.0.0.1"
        out = subprocess.run(
            [SSHD, "-T", "-f", str(self.config), "-C", connection],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        settings: dict[str, list[str]] = {}
        for line in out.splitlines():
            name, _, value = line.partition(" ")
            settings.setdefault(name, []).append(value)
        return settings

    def add_key(self, key: str) -> str:
        """A new terminal: a key of its own, without a name, in authorized_keys (sshd reads
        it at each login). One key is one terminal: the wrapper runs one station per key."""
        path = _keygen(self.tmp / f"{key}_key")
        with (self.tmp / "authorized_keys").open("a") as keys:
            keys.write(f"restrict,pty {path.with_suffix('.pub').read_text().strip()}\n")
        self.keys[key] = path
        return key

    def stand_in(self, name: str, script: str) -> None:
        """Logins whose station name is ``name`` run ``script`` instead of the station."""
        path = self.tmp / "stand-ins" / name
        path.write_text(script)
        path.chmod(0o755)

    def live(self) -> list[str]:
        """This rig's login processes that still run (sshd's session side, wrapper, station)."""
        ancestor = self.process.pid if self.process is not None else None
        return live_processes(self.user.pw_uid, marker=str(self.tmp), ancestor=ancestor)

    def log(self) -> str:
        path = self.tmp / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        # Sessions outlive the listener; end what this rig's logins left (there should be
        # none). Listed while the listener runs: sshd's session processes are known as its
        # descendants only until it exits.
        left = self.live()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for line in {*left, *self.live()}:
            with suppress(ProcessLookupError):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_rig(database_file: Path, conference: str) -> SshRig:
    """sshd listening on 127.0.0.1 with the station drop-in; ``database_file`` is moved in."""
    require_root_and_openssh()
    user = ensure_user()
    tmp = Path(tempfile.mkdtemp(prefix="station-ssh-"))
    tmp.chmod(0o755)  # the login user reads its config and wrapper shim here
    data = tmp / "data"
    data.mkdir()
    target = data / "station.sqlite3"
    shutil.move(database_file, target)
    for path in (data, target):
        os.chown(path, user.pw_uid, user.pw_gid)
    rig = SshRig(
        tmp=tmp,
        user=user,
        port=free_port(),
        database_url=f"sqlite:///{target}",
        conference=conference,
    )
    try:
        _write_files(rig)
        _start_sshd(rig)
    except BaseException:
        rig.stop()
        raise
    return rig


def _keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


def _write_files(rig: SshRig) -> None:
    tmp = rig.tmp
    host_key = _keygen(tmp / "host_key")
    # "named": the key names its terminal (README's recommended way);
    # "unnamed": the client may ask for a name with its command.
    rig.keys["named"] = _keygen(tmp / "named_key")
    rig.keys["unnamed"] = _keygen(tmp / "unnamed_key")
    named_pub = (tmp / "named_key.pub").read_text().strip()
    unnamed_pub = (tmp / "unnamed_key.pub").read_text().strip()
    authorized = tmp / "authorized_keys"
    authorized.write_text(
        f'restrict,pty,environment="STATION_NAME=Door SSH-1" {named_pub}\n'
        f"restrict,pty {unnamed_pub}\n"
    )
    authorized.chmod(0o644)

    python, pythonpath = interpreter_for(rig.user)
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "station"
    # A test may put a stand-in for one station name in stand-ins/ (a program that
    # draws like a dashboard, say); every other name runs the real station.
    (tmp / "stand-ins").mkdir()
    shim.write_text(
        "#!/bin/sh\n"
        f'stand_in="{tmp}/stand-ins/$STATION_NAME"\n'
        '[ -x "$stand_in" ] && exec "$stand_in" "$@"\n'
        f'PYTHONPATH="{pythonpath}" exec "{python}" -m station "$@"\n'
    )
    shim.chmod(0o755)

    config = tmp / "station.toml"
    config.write_text(
        f'conference = "{rig.conference}"\n'
        'operator = "Ana"\n'
        f'supervisor_pin_hash = "{hash_pin(SUPERVISOR_PIN)}"\n'
        "badge_seconds = 30\n"
        "[database]\n"
        f'url = "{rig.database_url}"\n'
    )
    config.chmod(0o644)

    drop_in = DROP_IN.read_text()
    for shipped, local in SITE_PATHS.items():
        assert shipped in drop_in, f"{DROP_IN} no longer contains {shipped!r}; update the rig"
        drop_in = drop_in.replace(shipped, local.format(tmp=tmp))
    (tmp / "station.conf").write_text(drop_in)
    # The server's own part, as Debian's sshd_config: the drop-in directory comes first.
    rig.config.write_text(
        f"Include {tmp}/station.conf\n"
        f"ListenAddress 127.0.0.1\n"
        f"Port {rig.port}\n"
        f"HostKey {host_key}\n"
        f"PidFile {tmp}/sshd.pid\n"
        "StrictModes no\n"  # the temp dir is not root-only like /etc/station
        "UsePAM no\n"
        f"AllowUsers {rig.user.pw_name}\n"
        "PasswordAuthentication no\n"
        "Subsystem sftp /usr/lib/openssh/sftp-server\n"
        "LogLevel VERBOSE\n"
    )


def _start_sshd(rig: SshRig) -> None:
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    check = subprocess.run([SSHD, "-t", "-f", str(rig.config)], capture_output=True, text=True)
    assert check.returncode == 0, f"sshd rejects the config: {check.stderr}"
    log = (rig.tmp / "sshd.log").open("wb")
    rig.process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(rig.config)], stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if rig.process.poll() is not None:
            raise AssertionError(f"sshd exited: {rig.log()}")
        if re.search(r"Server listening on 127\.0\.0\.1 port", rig.log()):
            return
        time.sleep(0.02)
    raise AssertionError(f"sshd did not listen within 10 s: {rig.log()}")
