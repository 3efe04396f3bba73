"""ScanWindow: the last minute of a station's verdicts, and what its heartbeat says of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from station.health import (
    LOST_AFTER_BEATS,
    LOST_GRACE_S,
    WINDOW_S,
    ScanWindow,
    lost_after_s,
)

WALL = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def test_an_empty_window_says_nothing() -> None:
    summary = ScanWindow().summary(1000.0)
    assert (summary.scans, summary.refusals) == (0, 0)
    assert summary.p50_ms is None and summary.p95_ms is None
    assert summary.last_scan_at is None


def test_counts_scans_and_refusals_and_takes_nearest_rank_percentiles() -> None:
    window = ScanWindow()
    # 20 scans taking 10, 20, ..., 200 ms; every fourth refused.
    for i in range(1, 21):
        window.add(
            at=100.0 + i, latency_s=i / 100, refused=i % 4 == 0, wall=WALL + timedelta(seconds=i)
        )
    summary = window.summary(121.0)
    assert summary.scans == 20
    assert summary.refusals == 5
    # Nearest rank: p50 is the 10th of 20 (ceil(0.5*20)), p95 the 19th (ceil(0.95*20)).
    assert summary.p50_ms == 100.0
    assert summary.p95_ms == 190.0
    assert summary.last_scan_at == WALL + timedelta(seconds=20)


def test_one_scan_is_its_own_p50_and_p95() -> None:
    window = ScanWindow()
    window.add(at=5.0, latency_s=0.0421, refused=False, wall=WALL)
    summary = window.summary(5.0)
    assert summary.p50_ms == summary.p95_ms == 42.1


def test_a_negative_time_counts_as_zero() -> None:
    window = ScanWindow()
    window.add(at=5.0, latency_s=-0.3, refused=True, wall=WALL)
    summary = window.summary(6.0)
    assert summary.p50_ms == 0.0 and summary.refusals == 1


def test_scans_older_than_a_minute_drop_out_but_the_last_scan_time_stays() -> None:
    window = ScanWindow()
    window.add(at=0.0, latency_s=0.5, refused=True, wall=WALL)
    window.add(at=30.0, latency_s=0.1, refused=False, wall=WALL + timedelta(seconds=30))
    assert window.summary(60.0).scans == 2  # exactly a minute old: still in
    later = window.summary(60.5)
    assert (later.scans, later.refusals, later.p95_ms) == (1, 0, 100.0)
    gone = window.summary(91.0)
    assert (gone.scans, gone.refusals, gone.p50_ms, gone.p95_ms) == (0, 0, None, None)
    assert gone.last_scan_at == WALL + timedelta(seconds=30)


def test_adding_drops_what_aged_so_the_window_stays_bounded() -> None:
    window = ScanWindow()
    for i in range(10_000):  # one scan every 0.1 s for 1000 s
        window.add(at=i / 10, latency_s=0.05, refused=False, wall=WALL)
    assert len(window._scans) <= int(WINDOW_S * 10) + 1
    assert window.summary(999.9).scans == len(window._scans)


def test_lost_after_three_beats_and_a_grace() -> None:
    assert LOST_AFTER_BEATS == 3
    assert lost_after_s(5.0) == 15.0 + LOST_GRACE_S
    assert lost_after_s(1.0) < lost_after_s(5.0) < lost_after_s(300.0)


_scans = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=40.0, allow_nan=False),  # gap before this scan (s)
        st.floats(min_value=-0.1, max_value=5.0, allow_nan=False),  # time to verdict (s)
        st.booleans(),  # refused
    ),
    max_size=80,
)


@given(scans=_scans, extra=st.floats(min_value=0.0, max_value=90.0, allow_nan=False))
def test_the_summary_is_exactly_the_last_minute(
    scans: list[tuple[float, float, bool]], extra: float
) -> None:
    window = ScanWindow()
    at = 1000.0
    added: list[tuple[float, float, bool]] = []
    for gap, latency, refused in scans:
        at += gap
        window.add(at=at, latency_s=latency, refused=refused, wall=WALL)
        added.append((at, latency, refused))
    now = at + extra
    summary = window.summary(now)

    kept = [(a, max(lat, 0.0), r) for a, lat, r in added if a >= now - WINDOW_S]
    assert summary.scans == len(kept)
    assert summary.refusals == sum(1 for _, _, r in kept if r)
    occurred = {round(lat * 1000, 1) for _, lat, _ in kept}
    if not kept:
        assert summary.p50_ms is None and summary.p95_ms is None
    else:
        assert summary.p50_ms is not None and summary.p95_ms is not None
        assert summary.p50_ms <= summary.p95_ms <= max(occurred)
        assert summary.p50_ms in occurred and summary.p95_ms in occurred
        # At least half the scans took no longer than p50, at least 95 % no longer than p95.
        times = [round(lat * 1000, 1) for _, lat, _ in kept]
        assert sum(t <= summary.p50_ms for t in times) >= 0.5 * len(times)
        assert sum(t <= summary.p95_ms for t in times) >= 0.95 * len(times)
    # Old entries are gone for good, not just left out of the count.
    assert len(window._scans) == len(kept)
    assert summary.last_scan_at == (WALL if added else None)
