"""The pending scans file: durable before "NOT RECORDED" shows, never fatal when damaged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from station.scanflow.pending import (
    KEEP_FOR,
    PendingSaveFailed,
    PendingScan,
    PendingScans,
    file_for,
)

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def entry(code: str = "C1", *, at: datetime = NOW, action: str = "checkin") -> PendingScan:
    return PendingScan(
        client_id=str(uuid.uuid4()),
        conference="conf",
        action=action,
        target="" if action == "checkin" else "lunch",
        code=code,
        first_at=at.isoformat(),
    )


def loaded(path: Path, now: datetime = NOW) -> PendingScans:
    """What a new process of the station would find in ``path``."""
    scans = PendingScans(path)
    scans.load(now)
    return scans


def run(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=60
    )


# ------------------------------------------------------------------- durability


def test_an_added_scan_is_in_the_file_when_add_returns(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    scans = PendingScans(path)
    kept = entry()
    scans.add(kept)
    assert loaded(path).entries() == (kept,)
    assert loaded(path).find(kept.key, NOW) == kept


READER = """
import json, sys
from datetime import datetime
from pathlib import Path
from station.scanflow.pending import PendingScans
scans = PendingScans(Path(sys.argv[1]))
scans.load(datetime.fromisoformat(sys.argv[2]))
print(json.dumps([e.client_id for e in scans.entries()]))
"""


def test_a_process_started_after_add_reads_the_scan(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    kept = entry()
    PendingScans(path).add(kept)
    done = run(READER, str(path), NOW.isoformat())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [kept.client_id]


ADD_THEN_WAIT = """
import sys, time
from pathlib import Path
from station.scanflow.pending import PendingScan, PendingScans
PendingScans(Path(sys.argv[1])).add(PendingScan(
    client_id=sys.argv[2], conference="conf", action="redeem", target="lunch",
    code="C9", first_at=sys.argv[3],
))
print("added", flush=True)
time.sleep(60)
"""


def killed_once_ready(program: str, path: Path, client_id: str, ready: str) -> None:
    """Run ``program`` in a child, SIGKILL it once it prints ``ready``: no clean-up runs."""
    child = subprocess.Popen(
        [sys.executable, "-c", program, str(path), client_id, NOW.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == ready + "\n"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout and child.stdout.close()
        child.stderr and child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def test_a_kill_9_right_after_add_leaves_the_scan_readable(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    client_id = str(uuid.uuid4())
    killed_once_ready(ADD_THEN_WAIT, path, client_id, "added")
    [found] = loaded(path).entries()
    assert (found.client_id, found.key) == (client_id, ("conf", "redeem", "lunch", "C9"))


def test_remove_is_on_disk_too(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    scans = PendingScans(path)
    gone, stays = entry("C1"), entry("C2")
    scans.add(gone)
    scans.add(stays)
    scans.remove(gone.client_id)
    assert scans.entries() == (stays,)
    assert loaded(path).entries() == (stays,)
    scans.remove(str(uuid.uuid4()))  # an id it never had: nothing happens
    assert loaded(path).entries() == (stays,)


def test_scans_older_than_a_day_are_dropped_on_load(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    scans = PendingScans(path)
    old = entry("OLD", at=NOW - KEEP_FOR - timedelta(seconds=1))
    recent = entry("RECENT", at=NOW - KEEP_FOR + timedelta(minutes=1))
    scans.add(old)
    scans.add(recent)
    assert loaded(path).entries() == (recent,)
    # The file itself was cleaned, not only the memory of that one process.
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert [item["client_id"] for item in on_disk["pending"]] == [recent.client_id]


def test_memory_only_scans_are_never_written(tmp_path: Path) -> None:
    scans = PendingScans(None)
    kept = entry()
    scans.add(kept)
    scans.load(NOW)
    assert scans.find(kept.key, NOW) == kept
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- damage

VALID = {
    "client_id": "0d5f2a8e-6a3e-4d55-9a5a-1d1e1f0c0b7a",
    "conference": "conf",
    "action": "checkin",
    "target": "",
    "code": "C1",
    "first_at": NOW.isoformat(),
}


def _file(*items: object) -> bytes:
    return json.dumps({"version": 1, "pending": list(items)}).encode()


DAMAGED = {
    "garbage": b"this is not json at all",
    "nul bytes": b"\x00" * 64,
    "nul inside json": _file(VALID)[:20] + b"\x00" + _file(VALID)[20:],
    "not utf-8": b'{"pending": ["\xff\xfe"]}',
    "truncated": _file(VALID)[:-7],
    "empty": b"",
    "a list": b"[]",
    "no pending": b'{"version": 1}',
    "pending is a dict": b'{"version": 1, "pending": {"a": 1}}',
    "pending is a string": b'{"version": 1, "pending": "abc"}',
    "entry is a number": _file(1),
    "entry is a list": _file(["a", "b"]),
    "missing field": _file({k: v for k, v in VALID.items() if k != "code"}),
    "unknown field": _file({**VALID, "extra": 1}),
    "client id a number": _file({**VALID, "client_id": 7}),
    "client id not a uuid": _file({**VALID, "client_id": "not-a-uuid"}),
    "code a list": _file({**VALID, "code": ["C1"]}),
    "code null": _file({**VALID, "code": None}),
    "first_at a number": _file({**VALID, "first_at": 1700000000}),
    "first_at not a date": _file({**VALID, "first_at": "yesterday"}),
    "first_at without zone": _file({**VALID, "first_at": "2026-05-04T12:00:00"}),
    "recorded_at a number": _file({**VALID, "recorded_at": 5}),
    "recorded_at without zone": _file({**VALID, "recorded_at": "2026-05-04T12:00:00"}),
    "deep nesting": b'{"pending": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "deep nesting, truncated": b"[" * 100_000,
}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_file_is_set_aside_and_the_station_starts_empty(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "desk.json"
    path.write_bytes(content)
    scans = loaded(path)  # must not raise
    assert scans.entries() == ()
    assert scans.find(("conf", "checkin", "", "C1"), NOW) is None
    aside = tmp_path / f"desk.json.damaged-{os.getpid()}"
    assert aside.read_bytes() == content
    assert not path.exists()
    # The station goes on keeping scans in a fresh file.
    kept = entry()
    scans.add(kept)
    assert loaded(path).entries() == (kept,)


def test_a_damaged_file_met_by_add_is_set_aside_and_the_new_scan_kept(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    scans = PendingScans(path)
    scans.load(NOW)
    path.write_bytes(b"\x00garbage")
    kept = entry()
    scans.add(kept)
    assert loaded(path).entries() == (kept,)
    assert (tmp_path / f"desk.json.damaged-{os.getpid()}").read_bytes() == b"\x00garbage"


def test_a_good_file_is_read_back_exactly(tmp_path: Path) -> None:
    """The other half of the damage tests: a valid file is not set aside."""
    path = tmp_path / "desk.json"
    recorded = {**VALID, "client_id": str(uuid.uuid4()), "recorded_at": NOW.isoformat()}
    path.write_bytes(_file(VALID, recorded))
    assert loaded(path).entries() == (
        PendingScan(**VALID),  # type: ignore[arg-type]
        PendingScan(**recorded),  # type: ignore[arg-type]
    )
    assert path.exists()
    assert not list(tmp_path.glob("*.damaged-*"))


# ---------------------------------------------------------- unwritable places


def test_an_unwritable_place_fails_add_but_the_scan_stays_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    path = blocker / "pending" / "desk.json"  # its parent can never be made
    scans = PendingScans(path)
    scans.load(NOW)  # nothing to read, and no error
    kept = entry()
    with pytest.raises(PendingSaveFailed):
        scans.add(kept)
    assert scans.find(kept.key, NOW) == kept
    assert scans.entries() == (kept,)
    scans.remove(kept.client_id)  # best effort: no exception either
    assert scans.find(kept.key, NOW) is None
    assert blocker.read_text(encoding="utf-8") == "not a directory"


# ----------------------------------------------------- two processes, one file

ADD_MANY = """
import sys, time, uuid
from pathlib import Path
from station.scanflow.pending import PendingScan, PendingScans
path, go, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
scans = PendingScans(path)
while not go.exists():
    time.sleep(0.001)
for i in range(50):
    scans.add(PendingScan(
        client_id=str(uuid.uuid4()), conference="conf", action="checkin", target="",
        code=f"{name}-{i}", first_at=sys.argv[4],
    ))
"""


def test_two_processes_adding_at_once_lose_nothing(tmp_path: Path) -> None:
    path, go = tmp_path / "desk.json", tmp_path / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", ADD_MANY, str(path), str(go), name, NOW.isoformat()],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("A", "B")
    ]
    go.touch()
    for child in children:
        _, errors = child.communicate(timeout=120)
        assert child.returncode == 0, errors
    codes = sorted(e.code for e in loaded(path).entries())
    assert codes == sorted(f"{name}-{i}" for name in "AB" for i in range(50))


# ------------------------------------------------------------------ file names

HOSTILE = [
    "../../etc",
    "../../etc/passwd",
    "..",
    ".",
    "",
    "/",
    "/etc/passwd",
    "a/b",
    "a\x00b",
    "desk\n1",
    "\x00",
    "Küche 2",
    "日本",
    "\u202edesk",
    "x" * 500,
    ".hidden",
    "-rf",
    "~",
]


@pytest.mark.parametrize("station", HOSTILE)
def test_file_for_keeps_any_station_name_inside_the_directory(tmp_path: Path, station: str) -> None:
    directory = tmp_path / "pending"
    path = file_for(directory, station)
    assert path.parent == directory
    assert path.resolve().parent == directory.resolve()
    assert path.suffix == ".json"
    assert not path.name.startswith((".", "-"))
    assert path.name.isascii() and path.name.isprintable()
    assert len(path.name.encode()) <= 255
    kept = entry()
    PendingScans(path).add(kept)
    assert loaded(path).entries() == (kept,)
    assert {p.parent for p in tmp_path.rglob("*") if p.is_file()} == {directory}


def test_file_for_leaves_a_plain_name_readable(tmp_path: Path) -> None:
    assert file_for(tmp_path, "desk-1").name == "desk-1.json"
    assert file_for(tmp_path, "Door_B.2").name == "Door_B.2.json"


def test_file_for_gives_different_stations_different_files(tmp_path: Path) -> None:
    """Names that differ only in what had to be replaced must not share pending scans."""
    names = [
        "日本",
        "中国",
        "",
        "station",
        "a/b",
        "a_b",
        "a b",
        "x" * 100,
        "x" * 101,
        "desk",
        "desk\n",
    ]
    files = {file_for(tmp_path, name) for name in names}
    assert len(files) == len(names)
    assert file_for(tmp_path, "日本") == file_for(tmp_path, "日本")


# --------------------------------------------------- reading where nothing is written


def test_a_readable_file_is_loaded_even_when_no_lock_can_be_taken(tmp_path: Path) -> None:
    """A read-only place still has its pending scans: their rescans must reuse the ids."""
    path = tmp_path / "desk.json"
    kept = entry()
    PendingScans(path).add(kept)
    (tmp_path / "desk.lock").unlink()
    (tmp_path / "desk.lock").mkdir()  # the lock file cannot be opened any more
    scans = loaded(path)
    assert scans.find(kept.key, NOW) == kept


def test_scans_are_loaded_even_when_old_ones_cannot_be_dropped(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    scans = PendingScans(path)
    old, recent = entry("OLD", at=NOW - KEEP_FOR * 2), entry("RECENT")
    scans.add(old)
    scans.add(recent)
    (tmp_path / f".desk.json.{os.getpid()}.tmp").mkdir()  # no new file can be written
    assert loaded(path).entries() == (recent,)


# ------------------------------------------------------------- writes on their way

NOTE_THEN_WAIT = """
import sys, time
from pathlib import Path
from station.scanflow.pending import PendingScan, PendingScans
scans = PendingScans(Path(sys.argv[1]))
scans.note_in_flight(PendingScan(
    client_id=sys.argv[2], conference="conf", action="redeem", target="lunch", code="C9",
    first_at=sys.argv[3],
))
print("on its way", flush=True)
time.sleep(60)
"""


def test_a_station_killed_while_a_write_is_on_its_way_finds_it_pending_after_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "desk.json"
    client_id = str(uuid.uuid4())
    killed_once_ready(NOTE_THEN_WAIT, path, client_id, "on its way")
    [found] = loaded(path).entries()
    assert (found.client_id, found.key) == (client_id, ("conf", "redeem", "lunch", "C9"))
    assert list(tmp_path.glob("desk.inflight-*")) == []  # taken in, then dropped
    [again] = loaded(path).entries()  # and it stays pending, now in the file itself
    assert again.client_id == client_id


def test_a_write_on_its_way_in_a_running_process_is_left_to_it(tmp_path: Path) -> None:
    """Two processes of one station: the other one's write is its own business."""
    path = tmp_path / "desk.json"
    running = path.with_name(f"desk.inflight-{os.getppid()}")  # a live process's pid
    running.write_text(json.dumps({"version": 1, "pending": [asdict(entry())]}))
    assert loaded(path).entries() == ()
    assert running.exists()


def test_a_forgotten_write_leaves_nothing_on_its_way(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    scans = PendingScans(path)
    sending = entry()
    scans.note_in_flight(sending)
    [note] = tmp_path.glob("desk.inflight-*")
    assert sending.client_id in note.read_text()
    scans.forget_in_flight(sending.client_id)
    assert note.read_text() == ""
    assert loaded(path).entries() == ()


def test_a_damaged_note_of_a_dead_process_is_dropped_without_harm(tmp_path: Path) -> None:
    path = tmp_path / "desk.json"
    kept = entry()
    PendingScans(path).add(kept)
    (tmp_path / f"desk.inflight-{2**22 + 7}").write_bytes(b'{"version": 1, "pend\x00')
    assert loaded(path).entries() == (kept,)
    assert list(tmp_path.glob("desk.inflight-*")) == []
