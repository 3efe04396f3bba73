"""Settings come from file < environment < flags; every mistake is one line naming its source."""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest

from station.config import ENV_VARIABLES, load_database_settings, load_settings
from station.domain import Mode
from station.scanner import ScannerProfile
from station.services.errors import ConfigurationError

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "station.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path | None, env: dict[str, str] | None = None, **overrides: object) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path, env or {}, overrides)
    message = caught.value.message
    assert "\n" not in message, message
    return message


# --- precedence ------------------------------------------------------------------------


def test_file_values_are_used(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        conference = "pycon-2026"
        station = "Door A"
        mode = "door"
        product = "addon:tutorial"
        operator = "Ana"
        kiosk = true
        supervisor_pin_hash = "scrypt$c2FsdA==$ZGlnZXN0"
        badge_seconds = 4
        ascii_borders = true
        [database]
        url = "postgresql://station@db.example.org/pycon"
        schema = "station"
        connect_timeout_s = 7
        statement_timeout_ms = 1500
        lock_timeout_ms = 900
        [scanner]
        terminator = "tab"
        """,
    )
    settings = load_settings(path, {}, {})
    assert settings.conference == "pycon-2026"
    assert settings.station == "Door A"
    assert settings.mode is Mode.DOOR
    assert settings.product == "addon:tutorial"
    assert settings.operator == "Ana"
    assert settings.kiosk is True
    assert settings.supervisor_pin_hash == "scrypt$c2FsdA==$ZGlnZXN0"
    assert settings.badge_seconds == 4.0
    assert settings.ascii_borders is True
    assert settings.database.url == "postgresql://station@db.example.org/pycon"
    assert settings.database.schema == "station"
    assert settings.database.connect_timeout_s == 7
    assert settings.database.statement_timeout_ms == 1500
    assert settings.database.lock_timeout_ms == 900
    assert settings.database.application_name == "station Door A"
    assert settings.scanner.terminator == "tab"


def test_environment_beats_file_and_flags_beat_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        conference = "from-file"
        station = "File desk"
        mode = "checkin"
        kiosk = false
        [database]
        url = "sqlite:///file.sqlite3"
        connect_timeout_s = 9
        """,
    )
    env = {
        "STATION_CONFERENCE": "from-env",
        "STATION_NAME": "Env desk",
        "STATION_MODE": "meal",
        "STATION_PRODUCT": "lunch-day-1",
        "STATION_KIOSK": "yes",
        "STATION_SUPERVISOR_PIN_HASH": "scrypt$c2FsdA==$ZGlnZXN0",
        "STATION_DATABASE_URL": "sqlite:///env.sqlite3",
        "STATION_CONNECT_TIMEOUT": "3",
        "STATION_BADGE_SECONDS": "2.5",
    }
    from_env = load_settings(path, env, {})
    assert from_env.conference == "from-env"
    assert from_env.station == "Env desk"
    assert from_env.mode is Mode.MEAL
    assert from_env.product == "lunch-day-1"
    assert from_env.kiosk is True
    assert from_env.database.url == "sqlite:///env.sqlite3"
    assert from_env.database.connect_timeout_s == 3
    assert from_env.badge_seconds == 2.5

    flags = {
        "conference": "from-flag",
        "station": "Flag desk",
        "mode": "door",
        "product": "ticket:general",
        "kiosk": False,
        "database.url": "sqlite:///flag.sqlite3",
        "operator": None,  # a flag not given changes nothing
    }
    from_flags = load_settings(path, env, flags)
    assert from_flags.conference == "from-flag"
    assert from_flags.station == "Flag desk"
    assert from_flags.mode is Mode.DOOR
    assert from_flags.product == "ticket:general"
    assert from_flags.kiosk is False
    assert from_flags.database.url == "sqlite:///flag.sqlite3"
    assert from_flags.database.connect_timeout_s == 3


def test_station_config_variable_chooses_the_file_and_the_flag_beats_it(tmp_path: Path) -> None:
    by_env = write(tmp_path, 'conference = "by-env"\n')
    by_flag = tmp_path / "flag.toml"
    by_flag.write_text('conference = "by-flag"\n')
    env = {"STATION_CONFIG": str(by_env)}
    assert load_settings(None, env, {}).conference == "by-env"
    assert load_settings(by_flag, env, {}).conference == "by-flag"


def test_defaults_without_any_file(tmp_path: Path) -> None:
    env = {"STATION_DATA_DIR": str(tmp_path / "data"), "STATION_CONFERENCE": "democon"}
    settings = load_settings(None, env, {})
    assert settings.database.url == f"sqlite:///{tmp_path / 'data' / 'station.sqlite3'}"
    assert settings.mode is Mode.CHECKIN
    assert settings.product is None
    assert settings.operator is None
    assert settings.kiosk is False
    assert settings.badge_seconds == 6.0
    assert settings.ascii_borders is None
    assert settings.station  # the hostname
    assert settings.scanner == ScannerProfile()


def test_database_only_loading_needs_no_conference(tmp_path: Path) -> None:
    env = {"STATION_DATA_DIR": str(tmp_path)}
    database = load_database_settings(None, env, {})
    assert database.url == f"sqlite:///{tmp_path / 'station.sqlite3'}"
    assert "No conference" in refusal(None, env)


def test_checkin_mode_drops_a_leftover_product() -> None:
    env = {"STATION_CONFERENCE": "c", "STATION_PRODUCT": "lunch-day-1"}
    assert load_settings(None, env, {}).product is None


def test_empty_operator_means_pick_at_sign_in(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\noperator = ""\n')
    assert load_settings(path, {}, {}).operator is None


@pytest.mark.parametrize(("raw", "expected"), [("auto", None), ("false", False), ("1", True)])
def test_ascii_borders_from_environment(raw: str, expected: bool | None) -> None:
    env = {"STATION_CONFERENCE": "c", "STATION_ASCII_BORDERS": raw}
    assert load_settings(None, env, {}).ascii_borders is expected


def test_the_example_file_loads_and_documents_every_key() -> None:
    settings = load_settings(EXAMPLE, {}, {})
    assert settings.conference == "pycon-2026"
    text = EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#? ?([a-z_]+) = ", text, flags=re.MULTILINE))
    top = {"conference", "station", "mode", "product", "operator", "kiosk", "badge_seconds"}
    top |= {"supervisor_pin_hash", "ascii_borders", "direction", "clock"}
    database = {"url", "schema", "connect_timeout_s", "statement_timeout_ms", "lock_timeout_ms"}
    database |= {"sslmode", "sslrootcert", "sslcert", "sslkey"}
    database |= {"pooler"}
    scanner = {f.name for f in fields(ScannerProfile)}
    offline = {"enabled", "threshold_s", "sync_s", "directory", "default_policy", "products"}
    offline |= {"cap", "max_minutes", "snapshot_first"}
    assert top | database | scanner | offline <= documented
    missing = [variable for variable in ENV_VARIABLES if variable not in text]
    assert not missing
    assert "[database]" in text and "[scanner]" in text


# --- refusals: one line, naming the key and where it came from -------------------------


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\nkisok = true\n')
    message = refusal(path)
    assert str(path) in message
    assert '"kisok"' in message and 'did you mean "kiosk"' in message


def test_unknown_key_in_a_table_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\n[database]\nulr = "sqlite://"\n')
    message = refusal(path)
    assert str(path) in message
    assert '"database.ulr"' in message and 'did you mean "database.url"' in message


def test_unknown_scanner_key_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\n[scanner]\nterminater = "tab"\n')
    message = refusal(path)
    assert '"scanner.terminater"' in message and '"scanner.terminator"' in message


def test_unknown_key_without_anything_close(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, 'conference = "c"\nzzz = 1\n'))
    assert '"zzz"' in message and "did you mean" not in message


def test_two_typos_are_both_reported(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\nkisok = true\nmdoe = "meal"\n')
    message = refusal(path)
    assert message.startswith("2 problems in the settings: ")
    assert 'did you mean "kiosk"' in message and 'did you mean "mode"' in message


def test_typos_in_keys_tables_and_values_are_all_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'mode = "mael"\nbadge_seconds = "six"\n[database]\nulr = "x"\n[scanner]\nprefx = "#"\n',
    )
    message = refusal(path)
    assert message.startswith("5 problems in the settings: "), message
    for part in ('"mode"', '"badge_seconds"', '"database.ulr"', '"scanner.prefx"', "conference"):
        assert part in message, part
    with pytest.raises(ConfigurationError) as caught:  # the database commands see them too
        load_database_settings(path, {}, {})
    assert caught.value.message.startswith("2 problems in the settings: ")


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ("kiosk = 1", '"kiosk"', "true or false"),
        ('badge_seconds = "six"', '"badge_seconds"', "number of seconds"),
        ("badge_seconds = 0", '"badge_seconds"', "between 0.5 and 600"),
        ("station = 3", '"station"', "text in quotes"),
        ('station = "  "', '"station"', "must not be empty"),
        ('station = "Desk\\u001b[2J"', '"station"', "control characters"),
        ('mode = "lunch"', '"mode"', "checkin, meal, door"),
        ('conference = "PyCon 2026"', '"conference"', "slug"),
        ('ascii_borders = "sometimes"', '"ascii_borders"', '"auto", true or false'),
        ('supervisor_pin_hash = "2468"', '"supervisor_pin_hash"', "station hash-pin"),
        ("database = 5", '"database"', "must be a table"),
        ('[database]\nurl = "mysql://x/y"', '"database.url"', "sqlite:// or postgresql://"),
        ('[database]\nconnect_timeout_s = "5s"', '"database.connect_timeout_s"', "whole number"),
        ("[database]\nlock_timeout_ms = 0", '"database.lock_timeout_ms"', "between 1 and"),
        ('[database]\nschema = "a-b"', '"database.schema"', "schema name"),
        ('[database]\npooler = "pgpool"', '"database.pooler"', '"pgbouncer", "none"'),
        ('[scanner]\nterminator = "space"', "scanner.terminator", "enter, crlf, tab, none"),
        ('direction = "sideways"', '"direction"', '"in" or "out"'),
        ('direction = "out"', '"direction"', "only a door station"),
        ('clock = "noon"', '"clock"', 'such as "2026-06-15 12:00"'),
        ('clock = "2026-06-15"', '"clock"', "the conference's time zone"),
    ],
)
def test_bad_values_in_the_file(tmp_path: Path, line: str, key: str, expected: str) -> None:
    head = "" if line.startswith("conference") else 'conference = "c"\n'
    path = write(tmp_path, head + line + "\n")
    message = refusal(path)
    assert str(path) in message
    assert key in message
    assert expected in message


def test_meal_mode_without_a_product(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, 'conference = "c"\nmode = "meal"\n'))
    assert '"mode"' in message and "needs a product" in message


def test_kiosk_without_a_supervisor_pin_hash(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, 'conference = "c"\n'), {"STATION_KIOSK": "1"})
    assert message.startswith("STATION_KIOSK") and "supervisor_pin_hash" in message


def test_door_product_without_prefix(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\nmode = "door"\nproduct = "tutorial"\n')
    message = refusal(path)
    assert '"product"' in message and '"ticket:<slug>" or "addon:<slug>"' in message


def test_meal_product_with_a_prefix(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\nmode = "meal"\nproduct = "ticket:general"\n')
    assert "add-on slug" in refusal(path)


def test_invalid_toml_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\n\nmode = checkin\n')
    message = refusal(path)
    assert str(path) in message and "not valid TOML" in message and "line 3" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    assert f"{path}: config file not found" in refusal(path)


def test_a_deeply_nested_file_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert f"{path}: not a config file: its values nest too deeply" in refusal(path)


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\n')
    path.write_bytes(b'conference = "\xff"\n')
    assert "not UTF-8" in refusal(path)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("STATION_KIOSK", "maybe", "true or false"),
        ("STATION_MODE", "bar", "checkin, meal, door"),
        ("STATION_BADGE_SECONDS", "soon", "number of seconds"),
        ("STATION_CONNECT_TIMEOUT", "-1", "whole number"),
        ("STATION_STATEMENT_TIMEOUT_MS", "1.5", "whole number"),
        ("STATION_LOCK_TIMEOUT_MS", "x", "whole number"),
        ("STATION_DATABASE_URL", "oracle://db", "sqlite:// or postgresql://"),
        ("STATION_DIRECTION", "up", '"in" or "out"'),
        ("STATION_CLOCK", "2026-13-01 12:00", "a date and time"),
    ],
)
def test_bad_environment_values_name_the_variable(variable: str, value: str, expected: str) -> None:
    message = refusal(None, {"STATION_CONFERENCE": "c", variable: value})
    assert message.startswith(variable)
    assert expected in message


def test_bad_flag_values_name_the_flag() -> None:
    message = refusal(None, {"STATION_CONFERENCE": "c"}, mode="door", product="lunch")
    assert message.startswith("--product")


def test_untrusted_text_in_messages_is_printable(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\n"k\\u001b]0;x\\u0007" = 1\n')
    message = refusal(path)
    assert "\x1b" not in message and "\x07" not in message


def _offline_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text('conference = "c"\n[offline]\n' + body, encoding="utf-8")
    return path


def test_offline_settings_from_the_file(tmp_path: Path) -> None:
    path = _offline_file(
        tmp_path,
        "enabled = true\nthreshold_s = 1.5\ncap = 0\nmax_minutes = 30\n"
        'default_policy = "refuse"\nproducts = { lunch = "allow" }\n',
    )
    offline = load_settings(path, {}, {}).offline
    assert offline.enabled is True and offline.threshold_s == 1.5
    assert offline.rules.cap is None and offline.rules.max_seconds == 1800
    assert offline.rules.policy("lunch") == "allow"
    assert offline.rules.policy("tutorial") == "refuse"


def test_offline_defaults_are_auto_with_a_bounded_risk() -> None:
    offline = load_settings(None, {"STATION_CONFERENCE": "c"}, {}).offline
    assert offline.enabled is None and offline.threshold_s == 2.0
    assert offline.rules.cap == 200 and offline.rules.max_seconds == 240 * 60
    env = {
        "STATION_CONFERENCE": "c",
        "STATION_OFFLINE": "false",
        "STATION_OFFLINE_THRESHOLD_S": "3",
    }
    offline = load_settings(None, env, {}).offline
    assert offline.enabled is False and offline.threshold_s == 3.0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("threshold_s = 0\n", '"offline.threshold_s" must be between 0.2 and 60 seconds'),
        ('default_policy = "maybe"\n', 'must be "allow" or "refuse"'),
        ('products = { "Not A Slug" = "allow" }\n', "is not an add-on slug"),
        ('products = { lunch = "sometimes" }\n', 'must be "allow" or "refuse"'),
        ("cap = -1\n", "must be a whole number from 0"),
        ("thresold_s = 2\n", 'did you mean "offline.threshold_s"?'),
    ],
)
def test_a_bad_offline_setting_is_one_clear_line(tmp_path: Path, body: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(_offline_file(tmp_path, body), {}, {})
    assert words in caught.value.message
    assert "\n" not in caught.value.message


# --- door direction and the demo clock -------------------------------------------------


def test_a_door_scans_in_unless_told_out_and_the_flag_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'conference = "c"\nmode = "door"\nproduct = "addon:t"\ndirection = "out"\n'
    )
    assert load_settings(path, {}, {}).direction == "out"
    assert load_settings(path, {"STATION_DIRECTION": "IN"}, {}).direction == "in"
    assert load_settings(path, {"STATION_DIRECTION": "in"}, {"direction": "out"}).direction == "out"
    assert load_settings(None, {"STATION_CONFERENCE": "c"}, {}).direction == "in"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-06-15 12:00", datetime(2026, 6, 15, 12, 0)),
        ("2026-06-15T12:00:30", datetime(2026, 6, 15, 12, 0, 30)),
        ("2026-06-15 12:00+02:00", datetime(2026, 6, 15, 10, 0, tzinfo=UTC)),
    ],
)
def test_the_demo_clock_is_a_local_time_or_one_with_its_offset(
    raw: str, expected: datetime
) -> None:
    settings = load_settings(None, {"STATION_CONFERENCE": "c", "STATION_CLOCK": raw}, {})
    assert settings.clock == expected


def test_the_demo_clock_from_toml_and_without_it(tmp_path: Path) -> None:
    path = write(tmp_path, 'conference = "c"\nclock = 2026-06-16T12:00:00\n')
    assert load_settings(path, {}, {}).clock == datetime(2026, 6, 16, 12, 0)
    assert load_settings(None, {"STATION_CONFERENCE": "c"}, {}).clock is None


# --- TLS to PostgreSQL -------------------------------------------------------------------


def test_tls_settings_from_file_and_environment(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("a CA\n")
    path = write(
        tmp_path,
        f"""
        [database]
        url = "postgresql://station@db.example.org/pycon"
        sslmode = "verify-full"
        sslrootcert = "{ca}"
        """,
    )
    database = load_database_settings(path, {}, {})
    assert (database.sslmode, database.sslrootcert) == ("verify-full", str(ca))
    assert (database.sslcert, database.sslkey) == (None, None)
    env = {"STATION_DATABASE_SSLMODE": "verify-ca", "STATION_DATABASE_SSLROOTCERT": "system"}
    database = load_database_settings(path, env, {})
    assert (database.sslmode, database.sslrootcert) == ("verify-ca", "system")


def test_tls_settings_are_refused_in_one_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        conference = "pycon"
        [database]
        url = "postgresql://station@db.example.org/pycon"
        sslmode = "verify_full"
        sslrootcert = "{tmp_path / "missing.crt"}"
        sslcert = "{tmp_path}"
        """,
    )
    message = refusal(path)
    assert message == (
        f'3 problems in the settings: {path}: "database.sslmode" must be one of disable, '
        f'allow, prefer, require, verify-ca, verify-full (got "verify_full"); {path}: '
        f'"database.sslrootcert": file {tmp_path / "missing.crt"} not found; {path}: '
        f'"database.sslcert": {tmp_path} is a directory, not a file'
    )
    env = {
        "STATION_DATABASE_URL": "postgresql://db.example.org/pycon?sslmode=verify-full"
        f"&sslrootcert={tmp_path / 'nope.crt'}",
        "STATION_CONFERENCE": "pycon",
    }
    assert refusal(None, env) == (
        f"STATION_DATABASE_URL (?sslrootcert=): file {tmp_path / 'nope.crt'} not found"
    )
    sqlite = {"STATION_DATABASE_SSLMODE": "require", "STATION_CONFERENCE": "pycon"}
    assert refusal(None, sqlite | {"STATION_DATA_DIR": str(tmp_path)}) == (
        "STATION_DATABASE_SSLMODE is for PostgreSQL only; the database URL is SQLite "
        "(leave the TLS settings out)"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [('"pgbouncer"', "pgbouncer"), ('"PgBouncer"', "pgbouncer"), ('"none"', None)],
)
def test_the_database_pooler(tmp_path: Path, value: str, expected: str | None) -> None:
    path = write(tmp_path, f'conference = "c"\n[database]\npooler = {value}\n')
    assert load_settings(path, {}, {}).database.pooler == expected
    env = {"STATION_DATABASE_POOLER": "pgbouncer", "STATION_CONFERENCE": "c"}
    assert load_settings(None, env, {}).database.pooler == "pgbouncer"
