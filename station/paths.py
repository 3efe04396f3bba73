"""Where the station keeps its files when nobody configured a database.

One directory per user (platformdirs), overridable with ``STATION_DATA_DIR``
so tests and sysadmins can point it elsewhere without touching ``$HOME``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "STATION_DATA_DIR"
DEFAULT_DATABASE_FILE = "station.sqlite3"
DEMO_DATABASE_FILE = "demo.sqlite3"
DEMO_CODES_FILE = "demo-codes.txt"


def data_dir(env: Mapping[str, str]) -> Path:
    override = env.get(DATA_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("station", appauthor=False))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def default_database_url(env: Mapping[str, str]) -> str:
    """The embedded SQLite database used when no URL is configured."""
    return sqlite_url(data_dir(env) / DEFAULT_DATABASE_FILE)


def demo_database_url(env: Mapping[str, str]) -> str:
    """The demo's own SQLite file, kept apart so a demo never touches real data."""
    return sqlite_url(data_dir(env) / DEMO_DATABASE_FILE)
