"""Station settings: one typed object built at start-up from file, env and flags.

Precedence, lowest first: built-in defaults, the TOML file (``--config`` or
``STATION_CONFIG``), ``STATION_*`` environment variables, command-line flags.

Whoever sets a station up is standing at a venue desk, so every mistake comes
back as one :class:`ConfigurationError` line that says where the bad value
came from (file and key, variable, or flag) and what would be right. Nothing
is guessed: an unknown key is refused with the closest known one suggested,
because a silently ignored ``kisok = true`` is a kiosk anyone can quit.
"""

from __future__ import annotations

import difflib
import math
import re
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from station.db import POOLERS, SSL_MODES, TLS_PARAMETERS, DatabaseSettings, parse_url
from station.domain import Mode
from station.health import DEFAULT_EVERY_S as DEFAULT_HEARTBEAT_S
from station.health import MAX_EVERY_S as MAX_HEARTBEAT_S
from station.health import MIN_EVERY_S as MIN_HEARTBEAT_S
from station.offline.settings import DEFAULT_CAP, DEFAULT_MAX_MINUTES, OfflineRules, OfflineSettings
from station.oplog import LEVELS as LOG_LEVELS
from station.paths import default_database_url
from station.rulebook.event_rules import Direction
from station.scanner import ScanConfigError, ScannerProfile
from station.services.errors import ConfigurationError
from station.slugs import SLUG
from station.text import has_unsafe_characters

__all__ = [
    "CONFIG_ENV",
    "ENV_VARIABLES",
    "Settings",
    "load_database_settings",
    "load_settings",
    "resolve_config_path",
]


@dataclass(frozen=True, slots=True)
class Settings:
    database: DatabaseSettings
    conference: str
    station: str
    mode: Mode = Mode.CHECKIN
    # meal: an add-on slug ("lunch-day-1"); door: "ticket:<slug>" or "addon:<slug>".
    product: str | None = None
    operator: str | None = None
    kiosk: bool = False
    # A supervisor PIN hash (see station.pins) that unlocks quit in kiosk mode.
    supervisor_pin_hash: str | None = None
    badge_seconds: float = 6.0
    # How long the operator may void the last scan of the station themselves (then: a
    # supervisor with their PIN).
    void_window_seconds: float = 120.0
    ascii_borders: bool | None = None  # None: decide from the terminal
    scanner: ScannerProfile = field(default_factory=ScannerProfile)
    # The operational log (station.oplog): how much to write, and where (None: the
    # user log directory).
    log_level: str = "info"
    log_dir: Path | None = None
    offline: OfflineSettings = field(default_factory=OfflineSettings)
    # A door station's scans: "in" admits, "out" records exits (F6 switches at the station).
    direction: Direction = "in"
    # A demo clock: the station runs as if it were this time now (naive: the conference's
    # time zone, applied at start-up by station.bootstrap). None: the real time.
    clock: datetime | None = None
    # How often the station writes its heartbeat (station_health; the dashboard reads it).
    heartbeat_s: float = DEFAULT_HEARTBEAT_S


CONFIG_ENV = "STATION_CONFIG"

# Environment variable -> setting. Flat names; "database.x" lives in [database].
ENV_VARIABLES: Mapping[str, str] = {
    "STATION_DATABASE_URL": "database.url",
    "STATION_DATABASE_SCHEMA": "database.schema",
    "STATION_CONNECT_TIMEOUT": "database.connect_timeout_s",
    "STATION_STATEMENT_TIMEOUT_MS": "database.statement_timeout_ms",
    "STATION_LOCK_TIMEOUT_MS": "database.lock_timeout_ms",
    "STATION_DATABASE_SSLMODE": "database.sslmode",
    "STATION_DATABASE_SSLROOTCERT": "database.sslrootcert",
    "STATION_DATABASE_SSLCERT": "database.sslcert",
    "STATION_DATABASE_SSLKEY": "database.sslkey",
    "STATION_DATABASE_POOLER": "database.pooler",
    "STATION_CONFERENCE": "conference",
    "STATION_NAME": "station",
    "STATION_MODE": "mode",
    "STATION_PRODUCT": "product",
    "STATION_OPERATOR": "operator",
    "STATION_KIOSK": "kiosk",
    "STATION_BADGE_SECONDS": "badge_seconds",
    "STATION_VOID_WINDOW_SECONDS": "void_window_seconds",
    "STATION_ASCII_BORDERS": "ascii_borders",
    "STATION_SUPERVISOR_PIN_HASH": "supervisor_pin_hash",
    "STATION_LOG_LEVEL": "log_level",
    "STATION_LOG_DIR": "log_dir",
    "STATION_OFFLINE": "offline.enabled",
    "STATION_OFFLINE_THRESHOLD_S": "offline.threshold_s",
    "STATION_OFFLINE_DIR": "offline.directory",
    "STATION_SNAPSHOT_FIRST": "offline.snapshot_first",
    "STATION_DIRECTION": "direction",
    "STATION_CLOCK": "clock",
    "STATION_HEARTBEAT_S": "heartbeat_s",
}

# Override (command-line flag) names, for messages: flat name -> flag.
_FLAG_NAMES: Mapping[str, str] = {
    "database.url": "--database",
    "database.schema": "--schema",
    "database.connect_timeout_s": "--connect-timeout",
    "database.statement_timeout_ms": "--statement-timeout-ms",
    "database.lock_timeout_ms": "--lock-timeout-ms",
    "conference": "--conference",
    "station": "--station",
    "mode": "--mode",
    "product": "--product",
    "operator": "--operator",
    "kiosk": "--kiosk",
    "badge_seconds": "--badge-seconds",
    "ascii_borders": "--ascii-borders",
    "supervisor_pin_hash": "--supervisor-pin-hash",
    "log_level": "--log-level",
    "direction": "--direction",
    "clock": "--clock",
}

_TOP_LEVEL_KEYS = (
    "conference",
    "station",
    "mode",
    "product",
    "operator",
    "kiosk",
    "badge_seconds",
    "void_window_seconds",
    "supervisor_pin_hash",
    "ascii_borders",
    "log_level",
    "log_dir",
    "direction",
    "clock",
    "heartbeat_s",
)
_TABLES = ("database", "scanner", "offline")
_DATABASE_KEYS = (
    "url",
    "schema",
    "connect_timeout_s",
    "statement_timeout_ms",
    "lock_timeout_ms",
    *TLS_PARAMETERS,
    "pooler",
)
_OFFLINE_KEYS = (
    "enabled",
    "threshold_s",
    "sync_s",
    "directory",
    "snapshot_first",
    "default_policy",
    "products",
    "cap",
    "max_minutes",
)
_POLICIES = ("allow", "refuse")

_SLUG = SLUG  # Django's rule, as everywhere a slug is read
_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_DOOR_PREFIXES = ("ticket:", "addon:")


@dataclass(frozen=True, slots=True)
class _Value:
    """One raw setting and where it came from, so errors can point at it."""

    raw: object
    where: str


_Layers = dict[str, _Value]
_T = TypeVar("_T")


def resolve_config_path(config_path: Path | None, env: Mapping[str, str]) -> Path | None:
    """The file named by ``--config``, else by ``STATION_CONFIG``, else none."""
    if config_path is not None:
        return config_path
    from_env = env.get(CONFIG_ENV, "").strip()
    return Path(from_env).expanduser() if from_env else None


def load_settings(
    config_path: Path | None,
    env: Mapping[str, str],
    overrides: Mapping[str, object],
) -> Settings:
    """Everything a station needs to run, validated; raises ConfigurationError.

    ``overrides`` holds command-line values by flat name (``"mode"``,
    ``"database.url"``...); ``None`` means the flag was not given. Every problem
    is reported, not only the first: a file with two typos names both.
    """
    problems = _Problems()
    layers, scanner_table, path = _collect(config_path, env, overrides, problems)
    get = problems.get
    station = get(layers, "station", _station_name, default=_hostname())
    database = _database_settings(layers, env, f"station {station}", problems)
    conference = get(layers, "conference", _slug, default=None)
    if conference is None and "conference" not in layers:
        problems.add(
            'No conference configured: set conference = "<slug>" in the config file, '
            "STATION_CONFERENCE or --conference."
        )
    mode = get(layers, "mode", _mode, default=Mode.CHECKIN)
    product = problems.attempt(lambda: _product_for(mode, layers), default=None)
    kiosk = get(layers, "kiosk", _boolean, default=False)
    pin_hash = get(layers, "supervisor_pin_hash", _pin_hash, default=None)
    if kiosk and pin_hash is None and "supervisor_pin_hash" not in layers:
        problems.add(
            f"{layers['kiosk'].where} turns kiosk mode on, which needs supervisor_pin_hash "
            "(make one with `station hash-pin`) so a supervisor can unlock it."
        )
    settings = Settings(
        database=database,
        conference=conference or "",
        station=station,
        mode=mode,
        product=product,
        operator=get(layers, "operator", _operator, default=None),
        kiosk=kiosk,
        supervisor_pin_hash=pin_hash,
        badge_seconds=get(layers, "badge_seconds", _badge_seconds, default=6.0),
        void_window_seconds=get(layers, "void_window_seconds", _void_window_seconds, default=120.0),
        ascii_borders=get(layers, "ascii_borders", _ascii_borders, default=None),
        scanner=problems.attempt(
            lambda: _scanner_profile(scanner_table, path), default=ScannerProfile()
        ),
        log_level=get(layers, "log_level", _log_level, default="info"),
        log_dir=get(layers, "log_dir", _log_dir, default=None),
        offline=_offline_settings(layers, problems),
        direction=get(layers, "direction", _direction, default="in"),
        clock=get(layers, "clock", _clock, default=None),
        heartbeat_s=get(
            layers,
            "heartbeat_s",
            _bounded(MIN_HEARTBEAT_S, MAX_HEARTBEAT_S, "seconds"),
            default=DEFAULT_HEARTBEAT_S,
        ),
    )
    if settings.direction == "out" and mode is not Mode.DOOR:
        problems.add(
            f"{layers['direction'].where} is out, which only a door station scans "
            "(mode = door); leave it out elsewhere"
        )
    problems.raise_if_any()
    return settings


def load_database_settings(
    config_path: Path | None,
    env: Mapping[str, str],
    overrides: Mapping[str, object],
) -> DatabaseSettings:
    """Only the database part, for commands that do not run a station (``db``, ``staff``).

    The whole file is still checked for unknown keys and bad tables, so a typo is
    reported the first time anyone touches the config, not at the venue.
    """
    problems = _Problems()
    layers, _scanner, _path = _collect(config_path, env, overrides, problems)
    station = problems.get(layers, "station", _station_name, default=_hostname())
    database = _database_settings(layers, env, f"station {station}", problems)
    problems.raise_if_any()
    return database


class _Problems:
    """Every problem found in the settings, so that all of them are fixed in one go."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def add(self, message: str) -> None:
        self.messages.append(message)

    def get(
        self, layers: _Layers, name: str, parse: Callable[[object, str], _T], *, default: _T
    ) -> _T:
        return self.attempt(lambda: _get(layers, name, parse, default=default), default=default)

    def attempt(self, check: Callable[[], _T], *, default: _T) -> _T:
        try:
            return check()
        except ConfigurationError as exc:
            self.messages.append(exc.message)
            return default

    def raise_if_any(self) -> None:
        """One line: the problem, or how many there are and each after a semicolon."""
        if len(self.messages) == 1:
            raise ConfigurationError(self.messages[0])
        if self.messages:
            raise ConfigurationError(
                f"{len(self.messages)} problems in the settings: " + "; ".join(self.messages)
            )


# --- gathering the layers -------------------------------------------------------------


def _collect(
    config_path: Path | None,
    env: Mapping[str, str],
    overrides: Mapping[str, object],
    problems: _Problems,
) -> tuple[_Layers, Mapping[str, object], Path | None]:
    layers: _Layers = {}
    scanner: Mapping[str, object] = {}
    path = resolve_config_path(config_path, env)
    if path is not None:
        document = _read_toml(path)
        scanner = _flatten_file(document, path, layers, problems)
    for variable, name in ENV_VARIABLES.items():
        text = env.get(variable, "").strip()
        if text:  # an empty variable counts as unset, as shells make that easy
            layers[name] = _Value(text, variable)
    for name, flag_value in overrides.items():
        if name not in _FLAG_NAMES:
            raise ValueError(f"unknown settings override {name!r}")
        if flag_value is not None:
            layers[name] = _Value(flag_value, _FLAG_NAMES[name])
    return layers, scanner, path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigurationError(f"{path}: is a directory, not a config file") from None
    except PermissionError:
        raise ConfigurationError(
            f"{path}: config file is not readable (permission denied)"
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read config file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path}: config file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise ConfigurationError(f"{path}: not a config file: its values nest too deeply") from None


def _flatten_file(
    document: Mapping[str, Any], path: Path, layers: _Layers, problems: _Problems
) -> Mapping[str, object]:
    """Put the file's values into ``layers``; return the [scanner] table as is."""
    known = (*_TOP_LEVEL_KEYS, *_TABLES)
    tables: dict[str, dict[str, Any]] = {}
    for key, value in document.items():
        if key not in known:
            problems.add(_unknown(key, known, path))
        elif key not in _TABLES:
            layers[key] = _Value(value, f"{path}: {_quote(key)}")
        elif isinstance(value, dict):
            tables[key] = value
        else:
            problems.add(f"{path}: {_quote(key)} must be a table ([{key}] on its own line)")
    for key, value in tables.get("offline", {}).items():
        if key in _OFFLINE_KEYS:
            layers[f"offline.{key}"] = _Value(value, f"{path}: {_quote('offline.' + key)}")
        else:
            problems.add(_unknown(key, _OFFLINE_KEYS, path, table="offline"))
    for key, value in tables.get("database", {}).items():
        if key in _DATABASE_KEYS:
            layers[f"database.{key}"] = _Value(value, f"{path}: {_quote('database.' + key)}")
        else:
            problems.add(_unknown(key, _DATABASE_KEYS, path, table="database"))
    scanner = tables.get("scanner", {})
    scanner_keys = tuple(f.name for f in fields(ScannerProfile))
    unknown = [key for key in scanner if key not in scanner_keys]
    for key in unknown:
        problems.add(_unknown(key, scanner_keys, path, table="scanner"))
    return {} if unknown else scanner


def _unknown(key: str, known: tuple[str, ...], path: Path, table: str = "") -> str:
    prefix = f"{table}." if table else ""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {_quote(prefix + close[0])}?)" if close else ""
    return f"{path}: unknown key {_quote(prefix + _shown(key))}{hint}"


# --- turning raw values into typed ones ----------------------------------------------


def _get(layers: _Layers, name: str, parse: Callable[[object, str], _T], *, default: _T) -> _T:
    value = layers.get(name)
    if value is None:
        return default
    return parse(value.raw, value.where)


def _database_settings(
    layers: _Layers, env: Mapping[str, str], application: str, problems: _Problems
) -> DatabaseSettings:
    get = problems.get
    url = get(layers, "database.url", _database_url, default=None)
    defaults = DatabaseSettings(url="")
    settings = DatabaseSettings(
        url=url or default_database_url(env),
        connect_timeout_s=get(
            layers,
            "database.connect_timeout_s",
            _positive_int(300, "seconds"),
            default=defaults.connect_timeout_s,
        ),
        statement_timeout_ms=get(
            layers,
            "database.statement_timeout_ms",
            _positive_int(3_600_000, "milliseconds"),
            default=defaults.statement_timeout_ms,
        ),
        lock_timeout_ms=get(
            layers,
            "database.lock_timeout_ms",
            _positive_int(3_600_000, "milliseconds"),
            default=defaults.lock_timeout_ms,
        ),
        schema=get(layers, "database.schema", _schema, default=None),
        pooler=get(layers, "database.pooler", _pooler, default=None),
        application_name=_printable(application)[:63],
        sslmode=get(layers, "database.sslmode", _sslmode, default=None),
        sslrootcert=get(layers, "database.sslrootcert", _ca_file, default=None),
        sslcert=get(layers, "database.sslcert", _readable_file, default=None),
        sslkey=get(layers, "database.sslkey", _readable_file, default=None),
    )
    tls_keys = [name for name in TLS_PARAMETERS if f"database.{name}" in layers]
    if tls_keys and (url or default_database_url(env)).startswith("sqlite"):
        problems.add(
            f"{layers['database.' + tls_keys[0]].where} is for PostgreSQL only; "
            "the database URL is SQLite (leave the TLS settings out)"
        )
    return settings


def _offline_settings(layers: _Layers, problems: _Problems) -> OfflineSettings:
    get = problems.get
    defaults = OfflineSettings()
    cap = get(
        layers, "offline.cap", _whole_number(0, 1_000_000, "redemptions"), default=DEFAULT_CAP
    )
    minutes = get(
        layers,
        "offline.max_minutes",
        _bounded(0, 7 * 24 * 60, "minutes"),
        default=DEFAULT_MAX_MINUTES,
    )
    return OfflineSettings(
        enabled=get(layers, "offline.enabled", _ascii_borders, default=None),
        threshold_s=get(
            layers,
            "offline.threshold_s",
            _bounded(0.2, 60, "seconds"),
            default=defaults.threshold_s,
        ),
        sync_s=get(layers, "offline.sync_s", _bounded(1, 3600, "seconds"), default=defaults.sync_s),
        directory=get(layers, "offline.directory", _log_dir, default=None),
        snapshot_first=get(layers, "offline.snapshot_first", _boolean, default=True),
        rules=OfflineRules(
            default_policy=get(layers, "offline.default_policy", _policy, default="allow"),
            policies=get(layers, "offline.products", _policies, default={}),
            cap=cap or None,
            max_seconds=minutes * 60 if minutes else None,
        ),
    )


def _policy(raw: object, where: str) -> Literal["allow", "refuse"]:
    if isinstance(raw, str) and raw.strip().lower() in _POLICIES:
        return "allow" if raw.strip().lower() == "allow" else "refuse"
    raise ConfigurationError(f'{where} must be "allow" or "refuse" (got {_shown(repr(raw))})')


def _policies(raw: object, where: str) -> dict[str, Literal["allow", "refuse"]]:
    if not isinstance(raw, dict):
        raise ConfigurationError(
            f'{where} must be a table of add-on slugs, e.g. products = {{ lunch = "allow" }}'
        )
    policies: dict[str, Literal["allow", "refuse"]] = {}
    for slug, value in raw.items():
        if not isinstance(slug, str) or not _SLUG.match(slug):
            raise ConfigurationError(f"{where}: {_quote(_shown(str(slug)))} is not an add-on slug")
        policies[slug] = _policy(value, f"{where}.{slug}")
    return policies


def _bounded(low: float, high: float, unit: str) -> Callable[[object, str], float]:
    def parse(raw: object, where: str) -> float:
        value = _number(raw, where, unit)
        if not low <= value <= high:
            raise ConfigurationError(
                f"{where} must be between {low:g} and {high:g} {unit} (got {value:g})"
            )
        return value

    return parse


def _whole_number(low: int, high: int, unit: str) -> Callable[[object, str], int]:
    def parse(raw: object, where: str) -> int:
        value: int | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and re.fullmatch(r"\s*\d+\s*", raw):
            value = int(raw)
        if value is None or not low <= value <= high:
            raise ConfigurationError(
                f"{where} must be a whole number from {low} to {high} {unit} "
                f"(got {_shown(repr(raw))})"
            )
        return value

    return parse


def _product_for(mode: Mode, layers: _Layers) -> str | None:
    product_value = layers.get("product")
    mode_where = layers["mode"].where if "mode" in layers else "mode (default checkin)"
    if mode is Mode.CHECKIN:
        return None  # the desk checks people in; a product would mean nothing
    if product_value is None:
        example = '"lunch-day-1"' if mode is Mode.MEAL else '"ticket:<slug>" or "addon:<slug>"'
        raise ConfigurationError(
            f"{mode_where} is {mode.value}, which needs a product: set product = {example} "
            "(config file, STATION_PRODUCT or --product)"
        )
    product = _text(product_value.raw, product_value.where, limit=110)
    where = product_value.where
    if mode is Mode.MEAL:
        if not _SLUG.match(product):
            raise ConfigurationError(
                f'{where} must be an add-on slug such as "lunch-day-1" in meal mode '
                f"(got {_quote(_shown(product))})"
            )
        return product
    prefix = next((p for p in _DOOR_PREFIXES if product.startswith(p)), None)
    if prefix is None or not _SLUG.match(product[len(prefix) :]):
        raise ConfigurationError(
            f'{where} must be "ticket:<slug>" or "addon:<slug>" in door mode '
            f"(got {_quote(_shown(product))})"
        )
    return product


def _scanner_profile(table: Mapping[str, object], path: Path | None) -> ScannerProfile:
    if not table:
        return ScannerProfile()
    try:
        return ScannerProfile.from_mapping(table)
    except ScanConfigError as exc:
        raise ConfigurationError(f"{path}: {_one_line(str(exc))}") from None


def _text(raw: object, where: str, *, limit: int) -> str:
    if not isinstance(raw, str):
        raise ConfigurationError(f"{where} must be text in quotes (got {_shown(repr(raw))})")
    value = raw.strip()
    if not value:
        raise ConfigurationError(f"{where} must not be empty")
    if has_unsafe_characters(value):
        raise ConfigurationError(f"{where} must not contain control characters")
    if len(value) > limit:
        raise ConfigurationError(f"{where} is too long (at most {limit} characters)")
    return value


def _station_name(raw: object, where: str) -> str:
    return _text(raw, where, limit=100)


def _operator(raw: object, where: str) -> str | None:
    if isinstance(raw, str) and not raw.strip():
        return None  # an empty operator means "pick at sign-in"
    return _text(raw, where, limit=150)


def _slug(raw: object, where: str) -> str:
    value = _text(raw, where, limit=100)
    if not _SLUG.match(value):
        raise ConfigurationError(
            f'{where} must be the conference slug such as "pycon-2026" '
            f"(letters, digits, - and _; got {_quote(_shown(value))})"
        )
    return value


def _mode(raw: object, where: str) -> Mode:
    choices = ", ".join(m.value for m in Mode)
    if isinstance(raw, str):
        try:
            return Mode(raw.strip().lower())
        except ValueError:
            pass
    raise ConfigurationError(f"{where} must be one of {choices} (got {_shown(repr(raw))})")


def _direction(raw: object, where: str) -> Direction:
    if isinstance(raw, str) and raw.strip().lower() in ("in", "out"):
        return "out" if raw.strip().lower() == "out" else "in"
    raise ConfigurationError(f'{where} must be "in" or "out" (got {_shown(repr(raw))})')


_CLOCK_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def _clock(raw: object, where: str) -> datetime:
    """A demo clock: "2026-06-15 12:00" in the conference's zone (or with its UTC offset)."""
    if isinstance(raw, datetime):  # TOML's own date-time: clock = 2026-06-15 12:00:00
        return raw
    if isinstance(raw, str):
        text = " ".join(raw.split())
        for layout in _CLOCK_FORMATS:
            try:
                return datetime.strptime(text, layout)
            except ValueError:
                continue
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    raise ConfigurationError(
        f'{where} must be a date and time such as "2026-06-15 12:00" (the conference\'s '
        f"time zone; got {_shown(repr(raw))})"
    )


def _boolean(raw: object, where: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ConfigurationError(f"{where} must be true or false (got {_shown(repr(raw))})")


def _ascii_borders(raw: object, where: str) -> bool | None:
    if isinstance(raw, str) and raw.strip().lower() == "auto":
        return None
    if isinstance(raw, bool) or (isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE):
        return _boolean(raw, where)
    raise ConfigurationError(f'{where} must be "auto", true or false (got {_shown(repr(raw))})')


def _number(raw: object, where: str, unit: str) -> float:
    value: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    if value is None or not math.isfinite(value):
        raise ConfigurationError(f"{where} must be a number of {unit} (got {_shown(repr(raw))})")
    return value


def _badge_seconds(raw: object, where: str) -> float:
    value = _number(raw, where, "seconds")
    if not 0.5 <= value <= 600:
        raise ConfigurationError(f"{where} must be between 0.5 and 600 seconds (got {value:g})")
    return value


def _void_window_seconds(raw: object, where: str) -> float:
    value = _number(raw, where, "seconds")
    if not 0 <= value <= 3600:
        raise ConfigurationError(f"{where} must be between 0 and 3600 seconds (got {value:g})")
    return value


def _positive_int(maximum: int, unit: str) -> Callable[[object, str], int]:
    def parse(raw: object, where: str) -> int:
        value: int | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and re.fullmatch(r"\s*\d+\s*", raw):
            value = int(raw)
        if value is None:
            raise ConfigurationError(
                f"{where} must be a whole number of {unit} (got {_shown(repr(raw))})"
            )
        if not 1 <= value <= maximum:
            raise ConfigurationError(
                f"{where} must be between 1 and {maximum} {unit} (got {value})"
            )
        return value

    return parse


def _database_url(raw: object, where: str) -> str:
    value = _text(raw, where, limit=2000)
    try:
        url = parse_url(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc.message}") from None
    # TLS settings in the URL's query (?sslmode=verify-full&sslrootcert=...) are checked
    # as the [database] keys are.
    checks = (
        ("sslmode", _sslmode),
        ("sslrootcert", _ca_file),
        ("sslcert", _readable_file),
        ("sslkey", _readable_file),
    )
    for name, check in checks:
        query = url.query.get(name)
        if query is not None:
            check(query if isinstance(query, str) else query[-1], f"{where} (?{name}=)")
    return value


def _sslmode(raw: object, where: str) -> str:
    value = _text(raw, where, limit=20).lower()
    if value not in SSL_MODES:
        raise ConfigurationError(
            f"{where} must be one of {', '.join(SSL_MODES)} (got {_quote(_shown(value))})"
        )
    return value


def _ca_file(raw: object, where: str) -> str:
    """A CA file that exists and can be read, or libpq's ``system`` (the OS's trusted CAs)."""
    if isinstance(raw, str) and raw.strip() == "system":
        return "system"
    return _readable_file(raw, where)


def _readable_file(raw: object, where: str) -> str:
    """A certificate or key path, checked now: libpq's own complaint comes only at connect."""
    path = Path(_text(raw, where, limit=1000)).expanduser()
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except FileNotFoundError:
        raise ConfigurationError(f"{where}: file {_shown(str(path), 200)} not found") from None
    except IsADirectoryError:
        raise ConfigurationError(
            f"{where}: {_shown(str(path), 200)} is a directory, not a file"
        ) from None
    except PermissionError:
        raise ConfigurationError(
            f"{where}: file {_shown(str(path), 200)} is not readable (permission denied)"
        ) from None
    except OSError as exc:
        raise ConfigurationError(
            f"{where}: cannot read {_shown(str(path), 200)} ({exc.strerror})"
        ) from None
    return str(path)


def _pooler(raw: object, where: str) -> str | None:
    value = raw.strip().lower() if isinstance(raw, str) else None
    if value == "none":
        return None
    if value in POOLERS:
        return value
    choices = ", ".join(f'"{name}"' for name in (*POOLERS, "none"))
    raise ConfigurationError(f"{where} must be {choices} (got {_shown(repr(raw))})")


def _schema(raw: object, where: str) -> str:
    value = _text(raw, where, limit=63)
    if not _SCHEMA.match(value):
        raise ConfigurationError(
            f"{where} must be a plain PostgreSQL schema name (letters, digits, _; "
            f"got {_quote(_shown(value))})"
        )
    return value


def _log_level(raw: object, where: str) -> str:
    if isinstance(raw, str) and raw.strip().lower() in LOG_LEVELS:
        return raw.strip().lower()
    raise ConfigurationError(
        f"{where} must be one of {', '.join(LOG_LEVELS)} (got {_shown(repr(raw))})"
    )


def _log_dir(raw: object, where: str) -> Path:
    return Path(_text(raw, where, limit=1000)).expanduser()


def _pin_hash(raw: object, where: str) -> str:
    value = _text(raw, where, limit=200)
    parts = value.split("$")
    if len(parts) != 3 or parts[0] != "scrypt" or not all(parts[1:]):
        raise ConfigurationError(
            f'{where} must be a PIN hash made with `station hash-pin` (starts with "scrypt$")'
        )
    return value


# --- small helpers --------------------------------------------------------------------


def _hostname() -> str:
    name = _printable(socket.gethostname()).strip()
    return name[:100] or "station"


def _printable(text: str) -> str:
    """Text without control characters, for names that reach logs and pg_stat_activity."""
    return "".join(ch for ch in text if ch.isprintable())


def _quote(text: str) -> str:
    return f'"{text}"'


def _shown(text: str, limit: int = 60) -> str:
    """Untrusted text for an error line: printable only, cut short."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split())
