"""Shared by the import, export and report tests: files to import and database snapshots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from station.importer import ImportOptions, ImportReport, import_parsed, read_file
from station.models import Base

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CSV = REPO / "samples" / "attendees.csv"
PRELOAD_JSON = REPO / "tests" / "data" / "django-program-0.1.2-preload.json"
HEADER = "access_code,first_name,last_name,email,order_reference,order_status,ticket_type,addons\n"
CONFERENCE = "pycon-test"


def write_file(tmp_path: Path, content: str | bytes, name: str = "attendees.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def import_into(
    db: TestDatabase, path: Path, *, create: bool = True, **options: Any
) -> ImportReport:
    """Import like `station import PATH --conference pycon-test --create` would."""
    options.setdefault("conference", CONFERENCE)
    return import_parsed(
        db.engine,
        read_file(path),
        ImportOptions(create=create, name="PyCon Test", timezone="Europe/Berlin", **options),
    )


def dump(db: TestDatabase) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, so 'nothing changed' can be asserted exactly."""
    with db.engine.connect() as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(select(table)).all()), key=repr)
            for table in Base.metadata.sorted_tables
        }


def station_command() -> list[str]:
    """The installed `station` script next to this Python, else `python -m station`."""
    script = shutil.which("station", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "station"]


def station_env(db: TestDatabase, tmp_path: Path) -> dict[str, str]:
    """A clean environment pointing the command at the test's database (and schema)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STATION_")}
    env["STATION_DATA_DIR"] = str(tmp_path / "data")
    env["STATION_DATABASE_URL"] = db.settings.url
    if db.settings.schema:
        env["STATION_DATABASE_SCHEMA"] = db.settings.schema
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "120"
    return env


def run_station(
    db: TestDatabase, tmp_path: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*station_command(), *args],
        cwd=tmp_path,
        env=station_env(db, tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
