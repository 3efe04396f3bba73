"""The scan state machine: every scan ends once, and a lost answer keeps its client id."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from station.scanflow.flow import ENDS, WRITES, BadTransition, Scan, ScanFlow, Stage
from station.scanflow.pending import KEEP_FOR, REPLAY_WINDOW, PendingScan, PendingScans

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def make_flow(
    path: Path | None, *, follow: bool = True, conference: str = "conf", now: datetime = NOW
) -> ScanFlow:
    """A station starting up: its pending scans are read from ``path``."""
    pending = PendingScans(path)
    pending.load(now)
    return ScanFlow(conference, pending, follow_duplicates=follow)


def start(
    flow: ScanFlow, code: str = "C1", action: str = "checkin", target: str = "", at: datetime = NOW
) -> Scan:
    return flow.start(code, action, at=at, started=0.0, target=target)


def lose(flow: ScanFlow, scan: Scan) -> None:
    """The answer never came: kept on disk first, then shown as not recorded."""
    assert flow.keep_pending(scan)
    flow.not_recorded(scan, kept=True)


def on_disk(path: Path) -> dict[str, tuple[str, str, str, str]]:
    """What a restarted station would read: client id → key."""
    other = PendingScans(path)
    other.load(NOW)
    return {e.client_id: e.key for e in other.entries()}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "desk.json"


@pytest.fixture
def flow(path: Path) -> ScanFlow:
    return make_flow(path)


# ------------------------------------------------------------------- starting


def test_a_new_code_waits_with_a_new_client_id(flow: ScanFlow) -> None:
    first, second = start(flow, "C1"), start(flow, "C2")
    assert (first.stage, second.stage) == (Stage.WAITING, Stage.WAITING)
    assert first.client_id != second.client_id
    assert not first.retry and not second.retry
    assert first.follows is None
    assert flow.busy
    assert flow.waiting() == (first, second)


def test_scans_are_numbered_in_arrival_order(flow: ScanFlow) -> None:
    seqs = [
        start(flow, "C1").seq,
        start(flow, "C1").seq,  # a follower still gets its own place
        flow.reject("junk", at=NOW, started=0.0).seq,
        flow.note_shown(),
        start(flow, "C2", "redeem", "lunch").seq,
    ]
    assert seqs == sorted(set(seqs))
    assert flow.last_seq == seqs[-1]


def test_the_same_code_while_waiting_follows_the_first(flow: ScanFlow) -> None:
    leader = start(flow, "C1")
    follower = start(flow, "C1")
    assert follower.stage is Stage.FOLLOWING
    assert follower.follows == leader.seq
    assert follower.client_id == leader.client_id
    assert flow.waiting() == (leader, follower)


def test_without_the_double_scan_guard_a_second_write_is_a_scan_of_its_own(path: Path) -> None:
    flow = make_flow(path, follow=False)
    first = start(flow, "C1", "redeem", "lunch")
    second = start(flow, "C1", "redeem", "lunch")
    assert second.stage is Stage.WAITING
    assert second.follows is None
    assert second.client_id != first.client_id
    assert not second.retry


def test_without_the_double_scan_guard_a_look_up_still_follows(path: Path) -> None:
    flow = make_flow(path, follow=False)
    first = start(flow, "C1", "products")
    second = start(flow, "C1", "products")
    assert second.stage is Stage.FOLLOWING
    assert second.client_id == first.client_id


def test_a_rejected_scan_ends_at_once(flow: ScanFlow) -> None:
    scan = flow.reject("WIFI:S:x", at=NOW, started=0.0)
    assert scan.stage is Stage.REJECTED
    assert scan.action == "rejected"
    assert not flow.busy
    with pytest.raises(BadTransition):
        flow.answered(scan)


# -------------------------------------------------------------------- answers


def test_a_follower_ends_in_its_own_turn_as_the_scan_it_followed(flow: ScanFlow) -> None:
    leader, other, follower = start(flow, "C1"), start(flow, "C2"), start(flow, "C1")
    with pytest.raises(BadTransition):
        flow.followed(follower)  # its scan has no answer yet
    flow.answered(leader)
    assert (leader.stage, follower.stage) == (Stage.ANSWERED, Stage.FOLLOWING)
    flow.answered(other)  # arrival order: the other code first
    assert flow.waiting() == (follower,)
    assert flow.followed(follower) is leader
    assert follower.stage is Stage.ANSWERED
    assert not flow.busy
    with pytest.raises(BadTransition):
        flow.followed(follower)


def test_a_lost_answer_keeps_the_write_pending_on_disk(flow: ScanFlow, path: Path) -> None:
    leader, follower = start(flow, "C1", "door"), start(flow, "C1", "door")
    assert flow.keep_pending(leader)
    assert on_disk(path) == {str(leader.client_id): ("conf", "door", "", "C1")}
    flow.not_recorded(leader, kept=True)
    assert flow.followed(follower) is leader
    assert (leader.stage, follower.stage) == (Stage.NOT_RECORDED, Stage.NOT_RECORDED)
    assert leader.kept and follower.kept
    assert not flow.busy


def test_a_rescan_after_a_lost_answer_sends_the_same_client_id(flow: ScanFlow) -> None:
    lost = start(flow, "C1", "redeem", "lunch")
    lose(flow, lost)
    again = start(flow, "C1", "redeem", "lunch")
    assert again.stage is Stage.WAITING
    assert again.retry
    assert again.client_id == lost.client_id
    follower = start(flow, "C1", "redeem", "lunch")
    assert follower.client_id == lost.client_id
    assert not follower.retry  # it follows; the leader is the retry


def test_after_a_restart_the_rescan_sends_the_same_client_id(path: Path) -> None:
    before = make_flow(path)
    lost = start(before, "C1", "checkin")
    lose(before, lost)
    after = make_flow(path)  # a new process: only the file carries the id
    again = start(after, "C1", "checkin")
    assert again.retry
    assert again.client_id == lost.client_id


def test_an_answered_retry_forgets_the_pending_scan_on_disk_too(flow: ScanFlow, path: Path) -> None:
    lost = start(flow, "C1", "checkin")
    lose(flow, lost)
    again = start(flow, "C1", "checkin")
    flow.answered(again)
    assert len(flow.pending) == 0
    assert on_disk(path) == {}
    fresh = start(flow, "C1", "checkin")
    assert not fresh.retry
    assert fresh.client_id not in (lost.client_id, again.client_id)
    assert start(make_flow(path), "C1", "checkin").client_id != lost.client_id


def test_a_look_up_that_broke_fails_and_keeps_nothing(flow: ScanFlow, path: Path) -> None:
    scan, follower = start(flow, "C1", "products"), start(flow, "C1", "products")
    assert flow.keep_pending(scan)  # nothing to keep, and that is no failure
    flow.not_recorded(scan, kept=True)
    flow.followed(follower)
    assert (scan.stage, follower.stage) == (Stage.FAILED, Stage.FAILED)
    assert len(flow.pending) == 0
    assert not path.exists() or on_disk(path) == {}
    assert not start(flow, "C1", "products").retry


def test_a_pending_scan_not_saved_is_still_reused_by_this_process(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    flow = make_flow(blocker / "pending" / "desk.json")
    lost, follower = start(flow, "C1"), start(flow, "C1")
    assert not flow.keep_pending(lost)
    flow.not_recorded(lost, kept=False)
    flow.followed(follower)
    assert (lost.kept, follower.kept) == (False, False)
    again = start(flow, "C1")
    assert again.retry and again.client_id == lost.client_id


def test_a_scan_found_recorded_replays_for_a_moment_then_is_new(flow: ScanFlow, path: Path) -> None:
    lost = start(flow, "C1", "redeem", "lunch")
    lose(flow, lost)
    flow.confirmed(lost.client_id, NOW)
    [entry] = _reloaded(path)
    assert entry.recorded_at is not None
    soon = NOW + REPLAY_WINDOW - timedelta(seconds=1)
    again = start(flow, "C1", "redeem", "lunch", at=soon)
    assert again.retry and again.client_id == lost.client_id
    flow.answered(again)
    later = NOW + REPLAY_WINDOW
    assert not start(flow, "C1", "redeem", "lunch", at=later).retry


def test_a_scan_found_recorded_and_not_rescanned_is_new_later(flow: ScanFlow, path: Path) -> None:
    lost = start(flow, "C1", "redeem", "lunch")
    lose(flow, lost)
    flow.confirmed(lost.client_id, NOW)
    later = NOW + REPLAY_WINDOW
    fresh = start(flow, "C1", "redeem", "lunch", at=later)
    assert not fresh.retry and fresh.client_id != lost.client_id
    assert _reloaded(path, later) == []  # a restart then drops it from the file


def test_a_day_old_scan_found_recorded_does_not_come_back(flow: ScanFlow, path: Path) -> None:
    """A station running for days: yesterday's lost scan, confirmed today, must not
    take the place of today's lost scan of the same code."""
    yesterday = start(flow, "C1")
    lose(flow, yesterday)
    today = NOW + KEEP_FOR + timedelta(hours=1)
    lost = start(flow, "C1", at=today)
    assert not lost.retry
    lose(flow, lost)
    flow.confirmed(yesterday.client_id, today)
    again = start(flow, "C1", at=today)
    assert again.retry and again.client_id == lost.client_id
    assert [e.client_id for e in _reloaded(path, today)] == [str(lost.client_id)]


def _reloaded(path: Path, now: datetime = NOW) -> list[PendingScan]:
    scans = PendingScans(path)
    scans.load(now)
    return list(scans.entries())


def test_a_pending_scan_older_than_a_day_is_a_new_scan(path: Path) -> None:
    before = make_flow(path)
    lost = start(before, "C1")
    lose(before, lost)
    after = make_flow(path, now=NOW + KEEP_FOR)
    fresh = start(after, "C1", at=NOW + KEEP_FOR)
    assert not fresh.retry and fresh.client_id != lost.client_id


# ------------------------------------------------------------------------ keys


@pytest.mark.parametrize(
    ("lost", "other"),
    [
        (("C1", "door", ""), ("C1", "checkin", "")),
        (("C1", "checkin", ""), ("C1", "door", "")),
        (("C1", "redeem", "lunch"), ("C1", "redeem", "dinner")),
        (("C1", "redeem", "line:7"), ("C1", "redeem", "lunch")),
        (("C1", "redeem", "lunch"), ("C1", "redeem", "line:7")),
        (("C1", "redeem", "line:7"), ("C1", "redeem", "line:8")),
        (("C1", "checkin", ""), ("C2", "checkin", "")),
    ],
    ids=str,
)
def test_a_pending_scan_is_reused_only_by_the_same_action_target_and_code(
    flow: ScanFlow, lost: tuple[str, str, str], other: tuple[str, str, str]
) -> None:
    scan = start(flow, *lost)
    lose(flow, scan)
    elsewhere = start(flow, *other)
    assert elsewhere.stage is Stage.WAITING  # it does not follow or reuse anything
    assert not elsewhere.retry
    assert elsewhere.client_id != scan.client_id
    flow.answered(elsewhere)
    assert start(flow, *lost).client_id == scan.client_id


def test_a_pending_scan_of_another_conference_is_not_reused(path: Path) -> None:
    first = make_flow(path, conference="conf-2025")
    lost = start(first, "C1")
    lose(first, lost)
    other = start(make_flow(path, conference="conf-2026"), "C1")
    assert not other.retry and other.client_id != lost.client_id


def test_a_waiting_scan_is_followed_only_by_the_same_key(flow: ScanFlow) -> None:
    leader = start(flow, "C1", "redeem", "line:7")
    for code, action, target in [
        ("C1", "redeem", "lunch"),
        ("C1", "checkin", ""),
        ("C2", "redeem", "line:7"),
    ]:
        assert start(flow, code, action, target).stage is Stage.WAITING
    assert start(flow, "C1", "redeem", "line:7").follows == leader.seq


# ------------------------------------------------------------ bad transitions


def test_an_answer_twice_is_a_bug(flow: ScanFlow) -> None:
    scan = start(flow)
    flow.answered(scan)
    with pytest.raises(BadTransition):
        flow.answered(scan)
    with pytest.raises(BadTransition):
        flow.not_recorded(scan, kept=True)
    assert scan.stage is Stage.ANSWERED


def test_a_follower_is_never_answered_by_itself(flow: ScanFlow) -> None:
    leader, follower = start(flow), start(flow)
    with pytest.raises(BadTransition):
        flow.answered(follower)
    assert follower.stage is Stage.FOLLOWING
    flow.answered(leader)
    assert flow.followed(follower) is leader


def test_a_lost_scan_is_not_answered_later(flow: ScanFlow) -> None:
    scan = start(flow, "C1", "redeem", "lunch")
    lose(flow, scan)
    with pytest.raises(BadTransition):
        flow.answered(scan)
    assert scan.stage is Stage.NOT_RECORDED
    assert len(flow.pending) == 1  # the failed call did not forget the pending scan


# ------------------------------------------------------------------- showing


def test_the_banner_never_goes_back_to_an_older_scan(flow: ScanFlow) -> None:
    older, newer = start(flow, "C1"), start(flow, "C2")
    flow.answered(newer)
    assert flow.show(newer)
    flow.answered(older)
    assert not flow.show(older)
    assert flow.shown_seq == newer.seq
    assert flow.show(newer)  # the same scan again (its followers' turn) is fine


def test_a_notice_on_the_banner_counts_as_newest(flow: ScanFlow) -> None:
    scan = start(flow)
    seq = flow.note_shown()
    assert seq > scan.seq and flow.shown_seq == seq == flow.last_seq
    flow.answered(scan)
    assert not flow.show(scan)
    assert flow.show(start(flow, "C2"))


def test_busy_until_the_last_waiting_scan_ends(flow: ScanFlow) -> None:
    assert not flow.busy and flow.waiting() == ()
    first, second = start(flow, "C1"), start(flow, "C2", "products")
    flow.answered(first)
    assert flow.busy and flow.waiting() == (second,)
    flow.not_recorded(second, kept=True)
    assert not flow.busy and flow.waiting() == ()


# ------------------------------------------------------- the model, at random

KEYS = [
    ("C1", "checkin", ""),
    ("C1", "door", ""),
    ("C1", "redeem", "lunch"),
    ("C1", "redeem", "line:7"),
    ("C1", "products", ""),
    ("C2", "checkin", ""),
    ("C2", "redeem", "lunch"),
]


class ScanFlowModel(RuleBasedStateMachine):
    """Random starts, answers, lost answers, confirmations, time and restarts."""

    follow = True

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="scanflow-"))
        self.path = self.directory / "desk.json"
        self.now = NOW
        self.flow = make_flow(self.path, follow=self.follow)
        self.scans: list[Scan] = []
        """The scans of the running process, in arrival order."""
        self.ends: dict[int, int] = {}
        """How many times each of them (by seq) was reported ended."""
        self.kept: set[int] = set()
        """Scans whose worker already kept them pending (not yet shown)."""
        self.pending: dict[uuid.UUID, tuple[tuple[str, str, str, str], datetime, datetime | None]]
        self.pending = {}
        """Client id → key, first scanned, found recorded at."""
        self.issued: set[uuid.UUID] = set()
        self.answered_writes: set[uuid.UUID] = set()

    def teardown(self) -> None:
        try:
            for scan in self._leaders():
                if scan.seq in self.kept:
                    stage = Stage.NOT_RECORDED if scan.writes else Stage.FAILED
                    self.flow.not_recorded(scan, kept=True)
                    self._ended(scan, stage)
                else:
                    self._answer(scan)
            assert not self.flow.busy
            for scan in self.scans:
                assert self.ends[scan.seq] == 1, scan
                assert scan.stage in ENDS
        finally:
            shutil.rmtree(self.directory)

    # ------------------------------------------------------------ the model

    def _current(self, key: tuple[str, str, str, str]) -> set[uuid.UUID]:
        current = set()
        for client_id, (entry_key, first_at, recorded_at) in self.pending.items():
            if entry_key != key:
                continue
            if recorded_at is None and self.now - first_at < KEEP_FOR:
                current.add(client_id)
            if recorded_at is not None and self.now - recorded_at < REPLAY_WINDOW:
                current.add(client_id)
        return current

    def _leaders(self) -> list[Scan]:
        return [s for s in self.scans if s.stage is Stage.WAITING]

    def _ended(self, leader: Scan, stage: Stage) -> None:
        """``leader`` ended; its followers then take their turns and end as it did."""
        followers = [s for s in self.scans if s.follows == leader.seq]
        for follower in followers:
            assert self.flow.followed(follower) is leader
        for scan in [leader, *followers]:
            assert scan.stage is stage
            self.ends[scan.seq] = self.ends.get(scan.seq, 0) + 1

    def _answer(self, scan: Scan) -> None:
        self.flow.answered(scan)
        self._ended(scan, Stage.ANSWERED)
        if scan.writes:
            self.pending.pop(scan.client_id, None)
            self.answered_writes.add(scan.client_id)

    def _keep(self, scan: Scan) -> None:
        assert self.flow.keep_pending(scan)
        self.kept.add(scan.seq)
        if scan.writes and scan.client_id not in self.pending:
            # A retry of a pending scan keeps its entry as it was (first time, recorded).
            self.pending[scan.client_id] = (scan.key, scan.at, None)

    # ---------------------------------------------------------------- rules

    @rule(which=st.sampled_from(KEYS))
    def scan(self, which: tuple[str, str, str]) -> None:
        code, action, target = which
        key = ("conf", action, target, code)
        leader = next((s for s in self._leaders() if s.key == key), None)
        current = self._current(key)
        scan = start(self.flow, code, action, target, at=self.now)
        self.scans.append(scan)
        assert scan.client_id not in self.answered_writes
        if leader is not None and (self.follow or action not in WRITES):
            assert scan.stage is Stage.FOLLOWING
            assert (scan.follows, scan.client_id) == (leader.seq, leader.client_id)
            assert not scan.retry
            return
        assert scan.stage is Stage.WAITING
        if leader is None and action in WRITES and current:
            assert scan.retry
            assert scan.client_id in current
        else:
            assert not scan.retry
            assert scan.client_id not in self.issued
        self.issued.add(scan.client_id)

    @rule()
    def reject(self) -> None:
        scan = self.flow.reject("junk", at=self.now, started=0.0)
        assert scan.stage is Stage.REJECTED
        self.scans.append(scan)
        self.ends[scan.seq] = 1

    @precondition(lambda self: any(s.seq not in self.kept for s in self._leaders()))
    @rule(pick=st.integers(min_value=0))
    def answer(self, pick: int) -> None:
        leaders = [s for s in self._leaders() if s.seq not in self.kept]
        self._answer(leaders[pick % len(leaders)])

    @precondition(lambda self: any(s.seq not in self.kept for s in self._leaders()))
    @rule(pick=st.integers(min_value=0))
    def worker_keeps_lost_answer(self, pick: int) -> None:
        """The worker's half of a lost answer: on disk, not shown yet."""
        leaders = [s for s in self._leaders() if s.seq not in self.kept]
        self._keep(leaders[pick % len(leaders)])

    @precondition(lambda self: bool(self._leaders()))
    @rule(pick=st.integers(min_value=0))
    def not_recorded(self, pick: int) -> None:
        leaders = self._leaders()
        scan = leaders[pick % len(leaders)]
        if scan.seq not in self.kept:
            self._keep(scan)
        stage = Stage.NOT_RECORDED if scan.writes else Stage.FAILED
        self.flow.not_recorded(scan, kept=True)
        self._ended(scan, stage)

    @precondition(lambda self: any(e.recorded_at is None for e in self.flow.pending.entries()))
    @rule(pick=st.integers(min_value=0))
    def found_recorded(self, pick: int) -> None:
        unknown = [e for e in self.flow.pending.entries() if e.recorded_at is None]
        entry = unknown[pick % len(unknown)]
        key, first_at, _ = self.pending[entry.id]
        current = entry.id in self._current(key)
        self.flow.confirmed(entry.id, self.now)
        if current:
            self.pending[entry.id] = (key, first_at, self.now)
        else:  # past its day: forgotten, not brought back
            del self.pending[entry.id]

    @rule(minutes=st.sampled_from([1, 3, 60 * 25]))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule()
    def restart(self) -> None:
        """The process dies (waiting scans die with it) and a new one reads the file."""
        self.flow = make_flow(self.path, follow=self.follow, now=self.now)
        self.scans, self.ends, self.kept = [], {}, set()
        self.pending = {
            client_id: entry
            for client_id, entry in self.pending.items()
            if client_id in self._current(entry[0])
        }

    # ----------------------------------------------------------- invariants

    @invariant()
    def every_scan_ends_once_and_only_waiting_ones_are_open(self) -> None:
        waiting = {s.seq for s in self.flow.waiting()}
        for scan in self.scans:
            ends = self.ends.get(scan.seq, 0)
            assert ends <= 1
            assert (ends == 0) == (scan.seq in waiting)
            assert (ends == 1) == (scan.stage in ENDS)

    @invariant()
    def one_waiting_scan_per_key(self) -> None:
        if self.follow:
            keys = [s.key for s in self.flow.waiting() if s.stage is Stage.WAITING]
            assert len(keys) == len(set(keys))

    @invariant()
    def pending_scans_are_what_the_model_says_in_memory_and_on_disk(self) -> None:
        memory = {e.id: (e.key, e.recorded_at is not None) for e in self.flow.pending.entries()}
        model = {i: (key, recorded is not None) for i, (key, _, recorded) in self.pending.items()}
        assert memory == model
        if self.path.exists():
            body = json.loads(self.path.read_text(encoding="utf-8"))
            disk = {
                uuid.UUID(e["client_id"]): (
                    (e["conference"], e["action"], e["target"], e["code"]),
                    e.get("recorded_at") is not None,
                )
                for e in body["pending"]
            }
            assert disk == model
        else:
            assert model == {}

    @invariant()
    def a_key_has_one_current_pending_id(self) -> None:
        if self.follow:
            for key in {key for key, _, _ in self.pending.values()}:
                assert len(self._current(key)) <= 1, key


class ScanFlowModelWithoutGuard(ScanFlowModel):
    """The double-scan guard off: the same code while waiting is a write of its own."""

    follow = False


RUNS = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestScanFlowModel = ScanFlowModel.TestCase
TestScanFlowModel.settings = RUNS
TestScanFlowModelWithoutGuard = ScanFlowModelWithoutGuard.TestCase
TestScanFlowModelWithoutGuard.settings = RUNS


# ------------------------------------------------------- a write still on its way


def test_a_write_on_its_way_is_in_the_file_before_it_leaves(path: Path) -> None:
    """The station killed while a write is in flight: the restarted station continues
    the same scan, because begin() noted it before the write went out."""
    flow = make_flow(path)
    scan = start(flow)
    flow.begin(scan)
    restarted = make_flow(path)
    again = start(restarted, at=NOW + timedelta(minutes=1))
    assert again.client_id == scan.client_id and again.retry


def test_a_settled_write_is_gone_from_the_file(path: Path) -> None:
    flow = make_flow(path)
    scan = start(flow)
    flow.begin(scan)
    flow.settle(scan)
    flow.answered(scan)
    again = start(make_flow(path))
    assert again.client_id != scan.client_id and not again.retry


def test_begin_keeps_an_earlier_pending_entry_as_it_was(path: Path) -> None:
    flow = make_flow(path)
    first = start(flow)
    lose(flow, first)
    retry = start(flow, at=NOW + timedelta(minutes=5))
    flow.begin(retry)
    [entry] = flow.pending.entries()
    assert entry.first_at == first.at.isoformat()


def test_look_ups_are_never_noted(path: Path) -> None:
    flow = make_flow(path)
    scan = start(flow, action="products")
    flow.begin(scan)
    assert flow.pending.entries() == ()
