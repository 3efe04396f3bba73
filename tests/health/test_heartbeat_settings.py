"""heartbeat_s: how often a station beats; 1–300 seconds, 5 unless set."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config import load_settings
from station.services.errors import ConfigurationError


def test_five_seconds_unless_set() -> None:
    assert load_settings(None, {"STATION_CONFERENCE": "c"}, {}).heartbeat_s == 5.0


def test_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text('conference = "c"\nheartbeat_s = 2\n', encoding="utf-8")
    assert load_settings(path, {}, {}).heartbeat_s == 2.0
    assert load_settings(path, {"STATION_HEARTBEAT_S": "30"}, {}).heartbeat_s == 30.0
    only_env = {"STATION_CONFERENCE": "c", "STATION_HEARTBEAT_S": "1"}
    assert load_settings(None, only_env, {}).heartbeat_s == 1.0


@pytest.mark.parametrize("value", ["0", "0.5", "301", "-5", "soon"])
def test_out_of_range_is_one_line_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(None, {"STATION_CONFERENCE": "c", "STATION_HEARTBEAT_S": value}, {})
    message = refused.value.message
    assert message.startswith("STATION_HEARTBEAT_S") and "\n" not in message


@pytest.mark.parametrize("value", ["1", "300", "2.5"])
def test_the_bounds_are_allowed(value: str) -> None:
    env = {"STATION_CONFERENCE": "c", "STATION_HEARTBEAT_S": value}
    assert load_settings(None, env, {}).heartbeat_s == float(value)
