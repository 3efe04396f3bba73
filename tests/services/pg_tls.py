"""Test certificates made with the ``openssl`` command: a CA, a server cert it signs, a stranger CA.

The server certificate names ``localhost`` and ``127.0.0.1`` (CN and subjectAltName),
so ``sslmode=verify-full`` passes for those and fails for any other name or address.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class TestCertificates:
    __test__ = False  # not a test class, though its name starts with Test

    ca: Path  # the CA that signed the server's certificate
    other_ca: Path  # a CA with nothing to do with the server
    server_cert: Path
    server_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_ca(directory: Path, name: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.crt",
        cwd=directory,
    )  # fmt: skip


def make_certificates(directory: Path) -> TestCertificates | None:
    """Make the certificates under ``directory``; None when there is no ``openssl``."""
    if shutil.which("openssl") is None:
        return None
    _make_ca(directory, "station-test-ca")
    _make_ca(directory, "stranger-ca")
    (directory / "san.ext").write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", "server.csr", "-days", "2",
        "-CA", "station-test-ca.crt", "-CAkey", "station-test-ca.key", "-CAcreateserial",
        "-extfile", "san.ext", "-out", "server.crt",
        cwd=directory,
    )  # fmt: skip
    os.chmod(directory / "server.key", 0o600)
    return TestCertificates(
        ca=directory / "station-test-ca.crt",
        other_ca=directory / "stranger-ca.crt",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
    )
