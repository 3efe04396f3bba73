"""A throwaway PostgreSQL cluster of our own, to stop and restart without disturbing anyone.

initdb refuses to run as root, so as root the cluster belongs to the
``postgres`` OS user (``runuser``); otherwise it is the current user's.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    bin: Path
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 30) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, *args], check=True, timeout=timeout, capture_output=True, text=True
        )

    def _ctl(self, *args: str) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "20", *args)

    def init(self) -> Cluster:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "--no-instructions",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.data}'\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\nshared_buffers = 16MB\n"
            )
        return self

    def enable_tls(self, cert: Path, key: Path, *, also_listen: str = "") -> None:
        """Serve TLS with this certificate and refuse TCP clients that do not use it.

        ``also_listen`` adds another loopback address (``127.0.0.2``), for clients
        that reach the server by an address its certificate does not name.
        """
        for source, name in ((cert, "server.crt"), (key, "server.key")):
            shutil.copyfile(source, self.data / name)
            os.chmod(self.data / name, 0o600)
            if os.geteuid() == 0:
                shutil.chown(self.data / name, "postgres")
        listen = ",".join(filter(None, ("127.0.0.1", also_listen)))
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '{listen}'\nssl = on\n"
                "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
            )
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.0/8 trust\n"
        )

    def start(self) -> None:
        self._ctl("-l", str(self.data / "server.log"), "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._ctl("-m", "fast", "-l", str(self.data / "server.log"), "restart")


def make_cluster(base: Path) -> Cluster | None:
    """An initialised (not started) cluster under ``base``, or None if there is no PostgreSQL."""
    binaries = postgres_bin()
    if binaries is None:
        return None
    data = base / "pgdata"
    data.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
    return Cluster(binaries, data, free_port()).init()
