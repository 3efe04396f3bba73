"""The station's log file: where it goes, what is in it, and that it never touches the screen."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from station import cli as cli_module
from station.config import load_settings
from station.demo import DEMO_SLUG, seed_demo
from station.oplog import (
    log_database,
    log_file_name,
    log_scan,
    log_worker_error,
    safe_for_log,
    setup_logging,
    shutdown_logging,
)
from station.services import CheckInService
from station.services.errors import ConfigurationError, StationError
from station.services.results import StationContext
from tests.test_cli import assert_one_line_failure, station

if TYPE_CHECKING:
    from station.config import Settings
    from tests.conftest import TestDatabase

REPO = Path(__file__).resolve().parent.parent
# 2026-05-14T09:12:03.123+02:00 INFO station.scan scan seq=...
LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"station(\.[a-z_.]+)? "
)


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    yield
    shutdown_logging()


def scan(code: str = "AB12-CD34", seq: int = 1, **changes: object) -> None:
    fields: dict[str, object] = {
        "seq": seq,
        "mode": "checkin",
        "code": code,
        "client_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "outcome": "accepted",
        "reason": "checked_in",
        "ms": 12.34,
    }
    log_scan(**(fields | changes))  # type: ignore[arg-type]


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# --- where the file goes ---------------------------------------------------------------


def test_the_file_is_created_in_the_configured_directory_named_after_the_station(
    tmp_path: Path,
) -> None:
    path = setup_logging(station="Door A", level="info", log_dir=tmp_path / "logs" / "deep")
    assert path == tmp_path / "logs" / "deep" / "Door_A.log"
    scan()
    [line] = lines_of(path)
    assert LINE.match(line), line
    assert " INFO station.scan scan seq=1 mode=checkin outcome=accepted reason=checked_in" in line
    assert 'ms=12.3 replayed=no code="AB12-CD34" client_id=0f8fad5b-' in line


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("Door A", "Door_A.log"),
        ("../../etc/passwd", "_.._etc_passwd.log"),
        ("Tür 3", "Tür_3.log"),
        ("", "station.log"),
        ("NUL", "station-NUL.log"),
    ],
)
def test_any_station_name_makes_a_file_name_in_the_directory(name: str, file: str) -> None:
    assert log_file_name(name) == file


def test_the_file_rotates_keeping_the_configured_number(tmp_path: Path) -> None:
    path = setup_logging(station="desk", log_dir=tmp_path, max_bytes=2000, backup_count=2)
    assert path is not None
    for seq in range(200):
        scan(seq=seq)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["desk.log", "desk.log.1", "desk.log.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
    assert "seq=199 " in path.read_text(encoding="utf-8")  # the newest is in the live file


def test_the_level_decides_what_is_written(tmp_path: Path) -> None:
    path = setup_logging(station="desk", level="warning", log_dir=tmp_path)
    assert path is not None
    scan()
    log_database(False, "connection refused")
    assert [line.split(" ", 3)[1:3] for line in lines_of(path)] == [["WARNING", "station.database"]]


# --- what is in it ---------------------------------------------------------------------


def test_a_hostile_code_stays_on_one_line_and_is_escaped(tmp_path: Path) -> None:
    path = setup_logging(station="desk", log_dir=tmp_path)
    assert path is not None
    scan(code='AB\nC\x1b[31mD\u202eE"F\\n', outcome="rejected", reason="not_a_badge")
    scan(code="X" * 5000, seq=2)
    first, second = lines_of(path)
    assert first.endswith(
        r'code="AB\nC\x1b[31mD\u202eE\"F\\n" client_id=0f8fad5b-d9cb-469f-a165-70867728950e'
    )
    assert "outcome=rejected reason=not_a_badge" in first
    assert "X" * 300 + "…(+4700 characters)" in second and "X" * 301 not in second


def test_safe_for_log_is_a_readable_one_line_escape() -> None:
    assert safe_for_log("PL-0001") == "PL-0001"
    assert safe_for_log("a\tb\r\n\x00\x85\U000e0041\\") == r"a\tb\r\n\x00\x85\U000e0041\\"
    assert safe_for_log("Zoë 山田") == "Zoë 山田"


def test_scan_lines_carry_the_code_and_never_a_name(
    tmp_path: Path, sqlite_database: TestDatabase
) -> None:
    """The services' own logging too, at debug, while the demo's sample badges are scanned."""
    samples = seed_demo(sqlite_database.engine, attendees=40).samples
    path = setup_logging(station="desk", level="debug", log_dir=tmp_path)
    assert path is not None
    desk = CheckInService(sqlite_database.sessions)
    ctx = StationContext(conference=DEMO_SLUG, station="desk", staff_id=None)
    for seq, sample in enumerate(samples):
        try:
            desk.check_in(ctx, sample.code)
            outcome, reason = "accepted", "checked_in"
        except StationError as exc:
            outcome, reason = "refused", exc.reason
        scan(code=sample.code, seq=seq, outcome=outcome, reason=reason)
    text = path.read_text(encoding="utf-8")
    assert len(samples) >= 10
    for sample in samples:
        assert f'code="{sample.code}"' in text
        for part in sample.name.split():
            if len(part) > 3:  # names, not "de"
                assert part not in text, (part, sample.case)


def test_a_worker_error_has_its_traceback(tmp_path: Path) -> None:
    path = setup_logging(station="desk", log_dir=tmp_path)
    assert path is not None

    def redeem_for_the_volunteer() -> None:
        raise RuntimeError("lost the connection\nand a second line \x1b[2J")

    try:
        redeem_for_the_volunteer()
    except RuntimeError as exc:
        log_worker_error("scan worker", exc)
    first, *trace = lines_of(path)
    assert LINE.match(first)
    assert " ERROR station.worker worker failed: scan worker: RuntimeError: " in first
    assert first.endswith(r"lost the connection\nand a second line \x1b[2J")
    assert trace[0] == "Traceback (most recent call last):"
    assert any("in redeem_for_the_volunteer" in line for line in trace)
    assert "\x1b" not in path.read_text(encoding="utf-8")  # not even in the traceback


def test_database_outages_and_recoveries(tmp_path: Path) -> None:
    path = setup_logging(station="desk", level="info", log_dir=tmp_path)
    assert path is not None
    log_database(True)  # all well: nothing to say at info
    log_database(False, "connection refused\n(port 5432)")
    log_database(False, "still refused")  # the same outage
    log_database(True)
    log_database(True)
    messages = [line.split(" ", 3)[1:] for line in lines_of(path)]
    assert messages[0] == [
        "WARNING",
        "station.database",
        r"database unreachable: connection refused\n(port 5432)",
    ]
    assert messages[1][:2] == ["INFO", "station.database"]
    assert re.fullmatch(r"database back after \d+\.\d s", messages[1][2])
    assert len(messages) == 2


# --- never on the screen ---------------------------------------------------------------


def test_nothing_reaches_stdout_or_stderr_after_setup(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = setup_logging(station="desk", level="debug", log_dir=tmp_path)
    assert path is not None
    scan(code="A\x1bB")
    log_worker_error("scan worker", ValueError("boom"))
    log_database(False, "refused")
    logging.getLogger("station.services").warning("database unavailable: %s", "OperationalError")
    logging.getLogger("sqlalchemy.pool").error("Exception during reset or similar")
    logging.getLogger("asyncio").error("Task exception was never retrieved")
    logging.getLogger("station.cli").info("bad %d format", "args")  # a broken record
    assert capfd.readouterr() == ("", "")
    text = path.read_text(encoding="utf-8")
    assert "database unavailable: OperationalError" in text
    assert "WARNING station.services" in text
    assert "ERROR sqlalchemy.pool Exception during reset or similar" in text
    assert "ERROR asyncio Task exception was never retrieved" in text


def test_an_unwritable_directory_is_one_line_and_the_station_goes_on(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    assert setup_logging(station="Door A", log_dir=blocker / "logs") is None
    out, err = capfd.readouterr()
    assert out == ""
    assert err == (
        f"station: cannot write the log file {blocker / 'logs' / 'Door_A.log'}: "
        "Not a directory; logging off\n"
    )
    scan()
    log_worker_error("scan worker", ValueError("boom"))
    log_database(False, "refused")
    logging.getLogger("sqlalchemy.pool").error("Exception during reset or similar")
    assert capfd.readouterr() == ("", "")


def test_an_unwritable_directory_in_a_real_process(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from station import oplog
        oplog.setup_logging(station="desk", log_dir=Path({str(blocker / "logs")!r}))
        oplog.log_scan(seq=1, mode="meal", code="AB", client_id="c", outcome="accepted",
                       reason="redeemed", ms=3.0)
        oplog.log_worker_error("scan worker", ValueError("boom"))
        print("the station went on")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "the station went on\n"
    [line] = result.stderr.splitlines()
    assert line.startswith("station: cannot write the log file ") and line.endswith("logging off")


def test_the_module_needs_neither_textual_nor_sqlalchemy() -> None:
    code = (
        "import sys, station.oplog;"
        "assert not {'textual', 'sqlalchemy'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# --- settings and the command line -----------------------------------------------------


def test_log_settings_from_file_environment_and_flag(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text('conference = "c"\nlog_level = "WARNING"\nlog_dir = "~/station-logs"\n')
    from_file = load_settings(config, {}, {})
    assert from_file.log_level == "warning"
    assert from_file.log_dir == Path.home() / "station-logs"
    env = {"STATION_LOG_LEVEL": "error", "STATION_LOG_DIR": str(tmp_path)}
    from_env = load_settings(config, env, {})
    assert (from_env.log_level, from_env.log_dir) == ("error", tmp_path)
    assert load_settings(config, env, {"log_level": "debug"}).log_level == "debug"
    defaults = load_settings(None, {"STATION_CONFERENCE": "c"}, {})
    assert (defaults.log_level, defaults.log_dir) == ("info", None)


def test_a_bad_log_level_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text('conference = "c"\nlog_level = "verbose"\n')
    with pytest.raises(ConfigurationError) as caught:
        load_settings(config, {}, {})
    assert caught.value.message == (
        f"{config}: \"log_level\" must be one of debug, info, warning, error (got 'verbose')"
    )


def test_a_bad_log_level_stops_the_station_with_one_line(tmp_path: Path) -> None:
    result = station(tmp_path, "demo", "--no-run", env={"STATION_LOG_LEVEL": "loud"})
    line = assert_one_line_failure(result, 2)
    assert "STATION_LOG_LEVEL" in line and "debug, info, warning, error" in line


def test_help_shows_the_log_file(tmp_path: Path) -> None:
    default = station(tmp_path, "--help")
    assert default.returncode == 0
    assert "--log-level LEVEL" in default.stdout
    assert "Log file: ~/.local/state/station/log/<station>.log" in default.stdout or (
        sys.platform != "linux" and "Log file: " in default.stdout
    )
    moved = station(tmp_path, "--help", env={"STATION_LOG_DIR": str(tmp_path / "logs")})
    assert f"Log file: {tmp_path / 'logs' / '<station>.log'}" in moved.stdout


def test_log_level_flag_is_taken_and_the_log_is_open_before_the_ui_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`station --log-level debug demo` on real demo data, with the UI replaced by a stand-in."""
    for variable in [v for v in os.environ if v.startswith("STATION_")]:
        monkeypatch.delenv(variable)
    logs = tmp_path / "logs"
    seen: list[Settings] = []

    def stand_in_ui(settings: Settings, **_options: object) -> int:
        seen.append(settings)
        assert (logs / "Demo_desk.log").exists()  # opened before the screen is taken
        logging.getLogger("station.tui").debug("a debug line from the UI")
        scan(code="DEMO-1")
        return 0

    monkeypatch.setattr(cli_module, "_station_ui", lambda: stand_in_ui)
    result = CliRunner().invoke(
        cli_module.cli,
        ["--log-level", "debug", "demo", "--attendees", "20"],
        env={"STATION_DATA_DIR": str(tmp_path / "data"), "STATION_LOG_DIR": str(logs)},
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert [s.log_level for s in seen] == ["debug"]
    lines = lines_of(logs / "Demo_desk.log")
    assert all(LINE.match(line) for line in lines), lines
    assert "INFO station.cli station Demo desk starting: version " in lines[0]
    assert "conference demo-con, mode checkin" in lines[0] and "log level debug" in lines[0]
    assert lines[1].endswith("DEBUG station.tui a debug line from the UI")
    assert 'code="DEMO-1"' in lines[2]
    assert lines[3].endswith("INFO station.cli station stopped (exit code 0)")


def test_a_crash_of_the_ui_is_in_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [v for v in os.environ if v.startswith("STATION_")]:
        monkeypatch.delenv(variable)

    def crashing_ui(settings: Settings, **_options: object) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli_module, "_station_ui", lambda: crashing_ui)
    result = CliRunner().invoke(
        cli_module.cli,
        ["demo", "--attendees", "20", "--station", "Desk 2"],
        env={"STATION_DATA_DIR": str(tmp_path / "data"), "STATION_LOG_DIR": str(tmp_path)},
    )
    assert isinstance(result.exception, ZeroDivisionError)
    text = (tmp_path / "Desk_2.log").read_text(encoding="utf-8")
    assert "CRITICAL station.cli station crashed\nTraceback (most recent call last):" in text
    assert "ZeroDivisionError: a bug" in text
