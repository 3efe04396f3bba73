"""The locks in requirements/ agree with pyproject.toml's ranges, and with each other.

pyproject.toml keeps compatible ranges; requirements/test.lock pins what CI installs and
requirements/station.lock what a venue installs (`requirements/relock` writes both). A range
changed without relocking, or a lock edited by hand, fails here, with no network.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
STATION_LOCK = ROOT / "requirements" / "station.lock"
TEST_LOCK = ROOT / "requirements" / "test.lock"

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(?P<rest>.*)$")
_HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: frozenset[str]


def parse_lock(text: str) -> dict[str, Pin]:
    """The pins of a hash-checked requirements file: canonical name -> version and hashes.
    Anything but `name==version` entries (comments, annotations) is skipped; an entry that is
    not pinned exactly is an error, since pip's hash-checking mode would refuse it too."""
    pins: dict[str, Pin] = {}
    entry: list[str] = []
    entries: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry.append(line.rstrip("\\ "))
        if not line.endswith("\\"):
            entries.append(" ".join(entry))
            entry = []
    if entry:
        entries.append(" ".join(entry))
    for item in entries:
        match = _PIN.match(item)
        if match is None:
            raise ValueError(f"not an exact pin: {item[:80]!r}")
        name = canonicalize_name(match["name"])
        if name in pins:
            raise ValueError(f"{name} is pinned twice")
        pins[name] = Pin(match["version"], frozenset(_HASH.findall(match["rest"])))
    return pins


def disagreements(requirements: list[str], lock: dict[str, Pin]) -> list[str]:
    """Each top-level requirement the lock does not satisfy, in words."""
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        pin = lock.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} ({requirement.specifier}) is not in the lock")
        elif not requirement.specifier.contains(Version(pin.version), prereleases=True):
            problems.append(
                f"{requirement.name}=={pin.version} in the lock is outside "
                f"pyproject's range {requirement.specifier}"
            )
    return problems


def _project() -> dict[str, list[str]]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    return {
        "runtime": list(project["dependencies"]),
        "test": list(project["optional-dependencies"]["test"]),
    }


def test_the_station_lock_satisfies_pyprojects_runtime_ranges() -> None:
    lock = parse_lock(STATION_LOCK.read_text(encoding="utf-8"))
    assert disagreements(_project()["runtime"], lock) == []


def test_the_test_lock_satisfies_pyprojects_runtime_and_test_ranges() -> None:
    project = _project()
    lock = parse_lock(TEST_LOCK.read_text(encoding="utf-8"))
    assert disagreements(project["runtime"] + project["test"], lock) == []


def test_venues_install_exactly_the_versions_ci_tested() -> None:
    station = parse_lock(STATION_LOCK.read_text(encoding="utf-8"))
    tested = parse_lock(TEST_LOCK.read_text(encoding="utf-8"))
    differ = {
        name: (pin.version, tested[name].version if name in tested else None)
        for name, pin in station.items()
        if name not in tested or tested[name] != pin
    }
    assert differ == {}, "station.lock pins (version, test.lock's) that CI did not test"


def test_every_pin_carries_its_hashes() -> None:
    for path in (STATION_LOCK, TEST_LOCK):
        lock = parse_lock(path.read_text(encoding="utf-8"))
        assert lock, f"{path.name} pins nothing"
        unhashed = sorted(name for name, pin in lock.items() if not pin.hashes)
        assert unhashed == [], f"{path.name}: no --hash for {unhashed}"


def test_the_locks_say_how_to_regenerate_them() -> None:
    relock = ROOT / "requirements" / "relock"
    assert relock.stat().st_mode & 0o111, "requirements/relock is not executable"
    for path in (STATION_LOCK, TEST_LOCK):
        assert "#    requirements/relock" in path.read_text(encoding="utf-8").splitlines()[1]


LOCK = """\
# a comment
textual==8.2.8 \\
    --hash=sha256:{a}
    # via station (pyproject.toml)
tzdata==2026.6 ; sys_platform == 'win32' \\
    --hash=sha256:{b} \\
    --hash=sha256:{a}
""".format(a="a" * 64, b="b" * 64)


def test_a_range_the_lock_misses_is_reported() -> None:
    lock = parse_lock(LOCK)
    assert lock["textual"] == Pin("8.2.8", frozenset({f"--hash=sha256:{'a' * 64}"}))
    assert len(lock["tzdata"].hashes) == 2
    assert disagreements(["textual>=8.2.8,<8.3", "tzdata"], lock) == []
    assert disagreements(["textual>=8.3"], lock) == [
        "textual==8.2.8 in the lock is outside pyproject's range >=8.3"
    ]
    assert disagreements(["psycopg[binary]>=3.2"], lock) == ["psycopg (>=3.2) is not in the lock"]


@pytest.mark.parametrize("text", ["textual>=8\n", "textual==8.2.8\nTextual==8.2.7\n", "-e .\n"])
def test_a_loose_entry_in_a_lock_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_lock(text)
