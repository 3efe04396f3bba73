"""The offline journal: durable, append-only, one entry per client id, outages kept."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from station.offline.journal import Journal, NewEntry
from station.services.errors import DatabaseUnavailable

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _entry(client_id: uuid.UUID | None = None, **changes: object) -> NewEntry:
    entry = NewEntry(
        client_id=client_id or uuid.uuid4(), conference="pycon", station="Lunch 1", staff_id=None,
        action="redeem", code="ABC", product="lunch", line_item_id=10, product_id=7,
        attendee_id=1, client_at=AT, outage_since=AT, outcome="accepted", reason="ok",
        message="Lunch",
    )  # fmt: skip
    return replace(entry, **changes)  # type: ignore[arg-type]


def test_an_entry_is_kept_once_per_client_id(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    client_id = uuid.uuid4()
    assert journal.append(_entry(client_id)) == 1
    assert journal.append(_entry(client_id, code="OTHER")) is None
    found = journal.find(client_id)
    assert found is not None and found.code == "ABC" and found.client_at == AT
    assert journal.waiting_count() == 1


def test_entries_survive_reopening_and_are_replayed_in_order(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    ids = [uuid.uuid4() for _ in range(5)]
    for n, client_id in enumerate(ids):
        journal.append(_entry(client_id, client_at=AT + timedelta(seconds=n)))
    journal.close()
    again = Journal(path)
    assert [e.client_id for e in again.waiting()] == ids
    again.mark(1, "recorded", AT)
    again.mark(1, "overspend", AT)  # a second mark changes nothing
    assert again.results() == {"recorded": 1, "waiting": 4}
    assert [e.seq for e in again.waiting()] == [2, 3, 4, 5]


def test_the_journal_is_append_only_even_to_its_own_connection(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    Journal(path).append(_entry())
    raw = sqlite3.connect(path)
    for statement in (
        "UPDATE entry SET code = 'X'",
        "DELETE FROM entry",
        "UPDATE replay SET at = 'x'",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute(statement)
            raw.execute("INSERT INTO replay (seq, at, result) VALUES (1, 'a', 'recorded')")
            raw.execute("DELETE FROM replay")
    raw.close()


def test_it_is_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    with journal._connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_an_outage_is_kept_across_a_restart_until_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    assert journal.current_outage() is None
    assert journal.begin_outage(AT) == AT
    assert Journal(path).begin_outage(AT + timedelta(hours=1)) == AT  # the same outage
    journal.end_outage(AT + timedelta(hours=2))
    assert Journal(path).current_outage() is None


def test_the_cap_counts_this_outage_and_this_product_only(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    later = AT + timedelta(hours=1)
    journal.append(_entry())
    journal.append(_entry())
    journal.append(_entry(product_id=8))
    journal.append(_entry(outage_since=later))
    journal.append(_entry(outcome="refused", reason="fully_redeemed"))
    assert journal.redeemed_in_outage(AT, 7) == 2
    assert journal.redeemed_in_outage(later, 7) == 1


def test_a_journal_that_cannot_be_written_says_not_recorded(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    with journal._connection() as conn:
        conn.execute("PRAGMA query_only = ON")  # SQLite refuses every write from now on
    with pytest.raises(DatabaseUnavailable, match="NOT recorded"):
        journal.append(_entry())
    with journal._connection() as conn:
        conn.execute("PRAGMA query_only = OFF")
    assert journal.waiting_count() == 0
