"""The `station` command as people run it: real processes, real databases, one-line errors."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from station.db import DatabaseSettings, current_revision, head_revision, make_engine
from station.pins import verify_pin
from tests.fresh_schema import empty_postgres_schema, unused_postgres_schema  # noqa: F401

REPO = Path(__file__).resolve().parent.parent


def clean_env(tmp_path: Path, env: dict[str, str] | None) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    clean["STATION_DATA_DIR"] = str(tmp_path / "data")
    # Works whether or not the package is installed into this interpreter.
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), clean.get("PYTHONPATH")]))
    clean.update(env or {})
    return clean


def station_in_terminal(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m station`` on a real pty (``run`` refuses to start without one).

    All three standard streams are the pty, as in a terminal; what the process
    wrote comes back as ``stderr`` (the station writes its errors there).
    """
    leader, follower = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "station", *args],
            cwd=tmp_path,
            env=clean_env(tmp_path, env) | {"TERM": "xterm-256color"},
            stdin=follower,
            stdout=follower,
            stderr=follower,
        )
        os.close(follower)
        output = b""
        deadline = time.monotonic() + timeout
        while True:
            if not select.select([leader], [], [], max(deadline - time.monotonic(), 0))[0]:
                process.kill()
                break
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the process closed its side of the pty
                break
            if not chunk:
                break
            output += chunk
        returncode = process.wait(timeout=timeout)
    finally:
        os.close(leader)
    text = output.decode(errors="replace").replace("\r\n", "\n")
    return subprocess.CompletedProcess(process.args, returncode, "", text)


def station(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str = "",
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m station`` in a clean environment with its data under ``tmp_path``."""
    clean = clean_env(tmp_path, env)
    return subprocess.run(
        [sys.executable, "-m", "station", *args],
        cwd=tmp_path,
        env=clean,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("station: ")
    return lines[0]


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = station(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("db", "demo", "run", "hash-pin", "staff"):
        assert f"  {command} " in result.stdout
    assert "--config" in result.stdout


def test_version(tmp_path: Path) -> None:
    result = station(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == "station, version 0.1.0"


def test_console_script_is_installed_next_to_python() -> None:
    script = shutil.which("station", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the package is not installed into this interpreter (pip install -e .)")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "0.1.0" in result.stdout


def test_db_upgrade_creates_the_default_sqlite_database(tmp_path: Path) -> None:
    database = tmp_path / "data" / "station.sqlite3"
    before = station(tmp_path, "db", "current")
    assert before.returncode == 1 and "no database yet" in before.stdout
    assert not database.exists()  # looking does not create it

    first = station(tmp_path, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert database.exists()
    assert f"upgraded from an empty database to {head_revision()} (head)" in first.stdout

    second = station(tmp_path, "db", "upgrade")
    assert second.returncode == 0 and "nothing to do" in second.stdout
    current = station(tmp_path, "db", "current")
    assert current.returncode == 0
    assert f"current:  {head_revision()}" in current.stdout


@pytest.mark.postgres
def test_db_upgrade_on_postgres_creates_the_schema(
    tmp_path: Path,
    unused_postgres_schema: DatabaseSettings,  # noqa: F811
) -> None:
    env = {
        "STATION_DATABASE_URL": unused_postgres_schema.url,
        "STATION_DATABASE_SCHEMA": str(unused_postgres_schema.schema),
    }
    result = station(tmp_path, "db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr
    assert f"(schema {unused_postgres_schema.schema})" in result.stdout
    engine = make_engine(unused_postgres_schema)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            found = conn.scalar(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                {"s": unused_postgres_schema.schema},
            )
        assert found and found > 5
    finally:
        engine.dispose()
    assert station(tmp_path, "db", "current", env=env).returncode == 0


@pytest.mark.postgres
def test_run_refuses_a_postgres_database_that_is_not_upgraded(
    tmp_path: Path,
    empty_postgres_schema: DatabaseSettings,  # noqa: F811
) -> None:
    env = {
        "STATION_DATABASE_URL": empty_postgres_schema.url,
        "STATION_DATABASE_SCHEMA": str(empty_postgres_schema.schema),
        "STATION_CONFERENCE": "pycon-test",
    }
    line = assert_one_line_failure(station_in_terminal(tmp_path, "run", env=env), 2)
    assert "run `station db upgrade`" in line


def test_unknown_config_key_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text('conference = "c"\n[database]\nulr = "sqlite:///x.sqlite3"\n')
    line = assert_one_line_failure(station(tmp_path, "--config", str(config), "db", "upgrade"), 2)
    assert str(config) in line and '"database.ulr"' in line and '"database.url"' in line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--bogus"], "No such option '--bogus'. (see 'station --help')"),
        (["reprot"], "No such command 'reprot'."),
        (["export", "nope"], "'nope' is not one of 'checkins'"),
        (["export", "checkins", "--format", "xml"], "(see 'station export --help')"),
        (["staff", "add"], "Missing argument 'NAME'. (see 'station staff add --help')"),
        (["report", "--watch", "--json"], "--watch draws a table"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    line = assert_one_line_failure(station(tmp_path, *args), 2)
    assert words in line


def test_a_group_without_a_command_still_shows_its_help(tmp_path: Path) -> None:
    result = station(tmp_path, "db")
    assert "Commands:" in result.stderr + result.stdout and "upgrade" in result.stderr


@pytest.mark.parametrize(
    "args", [["report"], ["report", "--json"], ["export", "checkins"]], ids=" ".join
)
def test_commands_that_only_read_never_create_a_database(tmp_path: Path, args: list[str]) -> None:
    for url, path in (("sqlite:///typo-dir/x.db", "typo-dir/x.db"), ("sqlite:///x.db", "x.db")):
        result = station(tmp_path, *args, env={"STATION_DATABASE_URL": url})
        line = assert_one_line_failure(result, 2)
        assert f"There is no database at {path} ({url})" in line
        assert not (tmp_path / "typo-dir").exists() and not (tmp_path / "x.db").exists()
    default = station(tmp_path, *args)  # nothing configured: the default file is not made either
    assert "There is no database at" in assert_one_line_failure(default, 2)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["db", "upgrade"],
        ["staff", "add", "Ana"],
        ["import", "a.csv", "--conference", "c", "--create"],
    ],
    ids=" ".join,
)
def test_no_command_creates_a_missing_folder(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "a.csv").write_text(
        "access_code,first_name,last_name,email,order_reference,order_status,ticket_type,addons\n"
        "A-1,Ada,L,a@example.org,,,,\n"
    )
    env = {"STATION_DATABASE_URL": "sqlite:///typo-dir/x.db"}
    line = assert_one_line_failure(station(tmp_path, *args, env=env), 2)
    assert "The folder typo-dir of the database sqlite:///typo-dir/x.db does not exist" in line
    assert not (tmp_path / "typo-dir").exists()
    (tmp_path / "typo-dir").mkdir()  # once the folder is there, the file is made in it
    assert station(tmp_path, *args, env=env).returncode == 0
    assert (tmp_path / "typo-dir" / "x.db").exists()


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text('conference = "c"\nmode = meal\n')
    env = {"STATION_CONFIG": str(config)}
    line = assert_one_line_failure(station(tmp_path, "db", "current", env=env), 2)
    assert "line 2" in line


def test_unreachable_database_fails_fast_with_one_line(tmp_path: Path) -> None:
    env = {
        "STATION_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x",
        "STATION_CONNECT_TIMEOUT": "2",
    }
    # The timeout is the assertion: a hang would raise TimeoutExpired and fail the test.
    result = station(tmp_path, "db", "upgrade", env=env, timeout=20)
    line = assert_one_line_failure(result, 1)
    assert "127.0.0.1:1" in line


def test_run_without_a_conference_says_how_to_set_one(tmp_path: Path) -> None:
    line = assert_one_line_failure(station_in_terminal(tmp_path, "run"), 2)
    assert "STATION_CONFERENCE" in line


def test_run_with_an_unknown_conference_names_it(tmp_path: Path) -> None:
    result = station_in_terminal(tmp_path, "run", "--conference", "nope-2026")
    line = assert_one_line_failure(result, 2)
    assert "'nope-2026'" in line and "station demo" in line


def test_hash_pin_from_stdin(tmp_path: Path) -> None:
    result = station(tmp_path, "hash-pin", stdin="2468\n")
    assert result.returncode == 0, result.stderr
    digest = result.stdout.strip()
    assert verify_pin("2468", digest) and not verify_pin("2469", digest)
    assert "2468" not in result.stdout + result.stderr
    assert_one_line_failure(station(tmp_path, "hash-pin", stdin="12\n"), 2)


def test_staff_add_and_list(tmp_path: Path) -> None:
    assert station(tmp_path, "staff", "add", "Ana").returncode == 0
    added = station(tmp_path, "staff", "add", "Zoë", "--pin", stdin="1357\n")
    assert added.returncode == 0 and "with a PIN" in added.stdout
    line = assert_one_line_failure(station(tmp_path, "staff", "add", "Ana"), 2)
    assert "already" in line
    boss = station(tmp_path, "staff", "add", "Sam", "--supervisor", stdin="2468\n")
    assert boss.returncode == 0 and "Added a supervisor Sam with a PIN" in boss.stdout
    listed = station(tmp_path, "staff", "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == ["Ana", "Sam  PIN, supervisor", "Zoë  PIN"]


def test_demo_prepares_data_and_codes_then_reuses_them(tmp_path: Path) -> None:
    first = station(tmp_path, "demo", "--attendees", "40", "--no-run")
    assert first.returncode == 0, first.stderr
    codes_file = tmp_path / "data" / "demo-codes.txt"
    assert (tmp_path / "data" / "demo.sqlite3").exists()
    assert str(codes_file) in first.stdout
    saved = codes_file.read_text(encoding="utf-8")
    assert "40 attendees" in saved and "\x1b" not in first.stdout + saved
    code_lines = [line for line in saved.splitlines() if line.startswith("  ")]
    assert len(code_lines) >= 10

    again = station(tmp_path, "demo", "--attendees", "60", "--no-run")
    assert again.returncode == 0 and "Reusing" in again.stdout
    assert codes_file.read_text(encoding="utf-8") == saved

    reset = station(tmp_path, "demo", "--attendees", "60", "--reset", "--no-run")
    assert reset.returncode == 0 and "60 attendees" in reset.stdout
    # The real station database was never touched.
    assert not (tmp_path / "data" / "station.sqlite3").exists()


def test_demo_meal_mode_needs_a_product(tmp_path: Path) -> None:
    line = assert_one_line_failure(station(tmp_path, "demo", "--mode", "meal", "--no-run"), 2)
    assert "--mode" in line and "product" in line
