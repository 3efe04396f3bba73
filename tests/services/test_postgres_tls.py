"""TLS to PostgreSQL with sslmode=verify-full, against a throwaway cluster with a test CA.

The cluster serves TLS with a certificate for ``localhost`` and ``127.0.0.1``
signed by a CA the test makes, and its pg_hba.conf accepts TCP clients only
over TLS. It also listens on 127.0.0.2, an address the certificate does not
name. A second cluster has TLS off. The failures go through the real command
line and must each come out as one line that says what is wrong.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from station.db import DatabaseSettings, make_engine, make_session_factory
from station.services import CheckInService, RedemptionService
from station.services.errors import FullyRedeemed
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.conftest import REQUIRE_PG
from tests.services.pg_cluster import Cluster, make_cluster
from tests.services.pg_tls import TestCertificates, make_certificates
from tests.test_cli import station, station_in_terminal

pytestmark = pytest.mark.postgres


@dataclass(frozen=True, slots=True)
class Servers:
    tls: Cluster  # TLS on, TCP only over TLS
    plain: Cluster  # TLS off
    certs: TestCertificates

    def url(self, host: str = "127.0.0.1", *, plain: bool = False) -> str:
        port = (self.plain if plain else self.tls).port
        return f"postgresql://postgres@{host}:{port}/postgres"


def _unavailable(message: str) -> None:
    if REQUIRE_PG:
        pytest.fail(message + " (STATION_REQUIRE_POSTGRES=1)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    base = Path(tempfile.mkdtemp(prefix="station-tls-"))
    base.chmod(0o755)  # the CA files are read by the station's user, the cluster by postgres
    started: list[Cluster] = []
    try:
        (base / "certs").mkdir(mode=0o755)
        certs = make_certificates(base / "certs")
        if certs is None:
            _unavailable("TLS tests need the openssl command to make their certificates")
        assert certs is not None
        clusters = []
        for name in ("tls", "plain"):
            (base / name).mkdir()
            made = make_cluster(base / name)
            if made is None:
                _unavailable("TLS tests need the PostgreSQL server binaries (initdb, pg_ctl)")
            assert made is not None
            clusters.append(made)
        tls, plain = clusters
        tls.enable_tls(certs.server_cert, certs.server_key, also_listen="127.0.0.2")
        for cluster in clusters:
            cluster.start()
            started.append(cluster)
        yield Servers(tls, plain, certs)
    finally:
        try:
            for cluster in started:
                cluster.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


def config(tmp_path: Path, url: str, *lines: str) -> Path:
    path = tmp_path / "station.toml"
    body = "\n".join((f'url = "{url}"', *lines))
    path.write_text(f'conference = "pycon-test"\n[database]\n{body}\n')
    return path


def verify_full(ca: Path) -> tuple[str, str]:
    return ('sslmode = "verify-full"', f'sslrootcert = "{ca}"')


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """The whole of stderr, which must be one line (no traceback)."""
    assert result.returncode == 1, result  # a runtime failure, not a setup one (2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in lines[0]
    return lines[0]


def test_postgres_verify_full_upgrades_and_scans_over_tls(servers: Servers, tmp_path: Path) -> None:
    ca = servers.certs.ca
    upgraded = station(
        tmp_path,
        "--config",
        str(config(tmp_path, servers.url(), *verify_full(ca))),
        "db",
        "upgrade",
    )
    assert upgraded.returncode == 0, upgraded.stderr
    # The same settings given in the URL's query, and by the name "localhost".
    query = f"{servers.url('localhost')}?sslmode=verify-full&sslrootcert={ca}"
    current = station(tmp_path, "--config", str(config(tmp_path, query)), "db", "current")
    assert current.returncode == 0, current.stderr  # 0: the database is at head

    settings = DatabaseSettings(url=servers.url(), sslmode="verify-full", sslrootcert=str(ca))
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            tls = conn.execute(
                text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            ).one()
        assert tls.ssl is True and tls.version.startswith("TLS")
        conf = ConferenceBuilder(make_session_factory(engine), slug="pycon-tls")
        ctx = StationContext(conf.slug, "Desk TLS")
        first, second = conf.attendee(), conf.attendee(addons={"lunch": 1})
        checkins = CheckInService(make_session_factory(engine))
        assert checkins.check_in(ctx, first.access_code).badge.access_code == first.access_code
        assert checkins.check_in(ctx, second.access_code).badge.access_code == second.access_code
        meals = RedemptionService(make_session_factory(engine))
        meals.redeem_product(ctx, second.access_code, product="lunch")
        with pytest.raises(FullyRedeemed):
            meals.redeem_product(ctx, second.access_code, product="lunch")
    finally:
        engine.dispose()


def test_postgres_tls_wrong_ca_is_one_line(servers: Servers, tmp_path: Path) -> None:
    other = servers.certs.other_ca
    path = config(tmp_path, servers.url(), *verify_full(other))
    line = one_line_failure(station(tmp_path, "--config", str(path), "db", "current"))
    assert line == (
        f"station: Cannot use the database {servers.url()}: the server's TLS certificate is not "
        f"signed by the CA in sslrootcert {other} (certificate verify failed): "
        "set sslrootcert to the CA that signed it"
    )


def test_postgres_tls_wrong_host_name_is_one_line(servers: Servers, tmp_path: Path) -> None:
    url = servers.url("127.0.0.2")
    path = config(tmp_path, url, *verify_full(servers.certs.ca))
    line = one_line_failure(station(tmp_path, "--config", str(path), "db", "current"))
    assert line == (
        f'station: Cannot use the database {url}: the server\'s TLS certificate is for "localhost" '
        '(and 1 other name), not "127.0.0.2" (sslmode=verify-full): connect by a name the '
        "certificate holds, or give the server a certificate for this name"
    )


def test_postgres_without_tls_under_verify_full_is_one_line(
    servers: Servers, tmp_path: Path
) -> None:
    url = servers.url(plain=True)
    path = config(tmp_path, url, *verify_full(servers.certs.ca))
    line = one_line_failure(station(tmp_path, "--config", str(path), "db", "upgrade"))
    assert line == (
        f"station: Cannot use the database {url}: the server does not offer TLS and "
        "sslmode=verify-full requires it: turn ssl on in the server's postgresql.conf, "
        "or lower sslmode"
    )


def test_postgres_tls_settings_from_the_environment(servers: Servers, tmp_path: Path) -> None:
    env = {
        "STATION_DATABASE_URL": servers.url("127.0.0.2"),
        "STATION_DATABASE_SSLMODE": "verify-ca",  # the CA is checked, not the name
        "STATION_DATABASE_SSLROOTCERT": str(servers.certs.ca),
    }
    current = station(tmp_path, "db", "current", env=env)
    assert current.stderr == "" and "current:  " in current.stdout, current
    wrong = env | {"STATION_DATABASE_SSLROOTCERT": str(servers.certs.other_ca)}
    line = one_line_failure(station(tmp_path, "db", "current", env=wrong))
    assert "(certificate verify failed)" in line


def test_postgres_tls_failure_stops_station_run_in_one_line(
    servers: Servers, tmp_path: Path
) -> None:
    path = config(tmp_path, servers.url(), *verify_full(servers.certs.other_ca))
    result = station_in_terminal(tmp_path, "--config", str(path), "run")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0], result.stderr
    assert lines[0].startswith("station: Cannot use the database ")
    assert "(certificate verify failed): set sslrootcert to the CA that signed it" in lines[0]


def test_postgres_verify_full_without_a_ca_file_is_one_line(
    servers: Servers, tmp_path: Path
) -> None:
    """sslmode in the URL and no sslrootcert: libpq's ~/.postgresql/root.crt is missing."""
    url = f"{servers.url()}?sslmode=verify-full"
    path = config(tmp_path, url)
    result = station(tmp_path, "--config", str(path), "db", "current", env={"HOME": str(tmp_path)})
    assert one_line_failure(result) == (
        f"station: Cannot use the database {url}: sslmode=verify-full checks the server's "
        f"certificate against a CA file, and {tmp_path}/.postgresql/root.crt does not exist: "
        "set sslrootcert to the CA's file"
    )


def test_postgres_tls_missing_ca_file_is_a_setup_error(servers: Servers, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.crt"
    path = config(tmp_path, servers.url(), *verify_full(missing))
    result = station(tmp_path, "--config", str(path), "db", "current")
    assert result.returncode == 2, result
    assert result.stderr.strip() == (
        f'station: {path}: "database.sslrootcert": file {missing} not found'
    )
