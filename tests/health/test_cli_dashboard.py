"""`station dashboard` as people run it: real processes, one-line refusals."""

from __future__ import annotations

from pathlib import Path

from station.terminal import NO_TERMINAL_MESSAGE
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase
from tests.test_cli import station, station_in_terminal


def _env(db: TestDatabase) -> dict[str, str]:
    env = {"STATION_DATABASE_URL": db.settings.url}
    if db.settings.schema:
        env["STATION_DATABASE_SCHEMA"] = db.settings.schema
    return env


def test_without_a_terminal_it_refuses_in_one_line(
    tmp_path: Path, sqlite_database: TestDatabase
) -> None:
    ConferenceBuilder(sqlite_database.sessions)
    result = station(tmp_path, "dashboard", env=_env(sqlite_database))
    assert result.returncode == 2
    assert result.stderr == NO_TERMINAL_MESSAGE + "\n"
    assert result.stdout == ""


def test_an_unknown_conference_is_one_line_naming_it(
    tmp_path: Path, database: TestDatabase
) -> None:
    ConferenceBuilder(database.sessions)
    result = station_in_terminal(
        tmp_path, "dashboard", "--conference", "nope", env=_env(database), timeout=30
    )
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr  # set-up, as the other commands say it
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("station: ")
    assert "'nope'" in lines[0] and "does not exist" in lines[0]


def test_a_database_with_two_conferences_asks_which(
    tmp_path: Path, sqlite_database: TestDatabase
) -> None:
    ConferenceBuilder(sqlite_database.sessions)
    ConferenceBuilder(sqlite_database.sessions, slug="other-con", name="Other")
    result = station_in_terminal(tmp_path, "dashboard", env=_env(sqlite_database), timeout=30)
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert result.returncode == 2
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("station: ")
    assert "--conference" in lines[0] and "other-con" in lines[0] and "pycon-test" in lines[0]
