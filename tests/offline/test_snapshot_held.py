"""The holders a station keeps in memory are the copy's, whatever a sync writes.

``Snapshot.held`` answers the first tries from memory (``station.offline.held``); what it
hands out must equal what a read of the SQLite copy would give at that moment, after any
sequence of sync transactions: attendees written again, codes moved between attendees,
lines replaced or moved, products renamed, the copy's marks moved, the copy cleared.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from station.bootstrap import build_services
from station.config import Settings
from station.domain import Mode
from station.models import Person, ProductRedemption
from station.offline.held import Entry, HeldHolders, Wide
from station.offline.settings import OfflineSettings
from station.offline.snapshot import AttendeeRow, LineRow, ProductRow, Snapshot
from station.rulebook.facts import Holder
from station.services.results import RedemptionResult, StationContext
from tests.builders import ConferenceBuilder
from tests.conftest import TestDatabase
from tests.offline.conftest import ada_and_bob, wait_until

CODES = ["ADA1", "BOB2", "CY3", "DAN4", "EVE5"]
ORDERS = [10, 11, 12]

attendee_rows = st.builds(
    AttendeeRow,
    id=st.integers(1, 4),
    access_code=st.sampled_from(CODES),
    first_name=st.sampled_from(["Ada", "Bob", "<b>x</b>"]),
    last_name=st.just("L"),
    username=st.just("u"),
    email=st.just("e@x"),
    order_id=st.one_of(st.none(), st.sampled_from(ORDERS)),
    order_status=st.sampled_from(["paid", "refunded"]),
    order_reference=st.just("R"),
    order_attention=st.sampled_from(["", "VIP"]),
    checked_in_at=st.none(),
    entries=st.integers(0, 2),
    first_at=st.none(),
    first_station=st.none(),
    first_staff=st.none(),
    versions=st.lists(st.integers(0, 9), max_size=3).map(tuple),
    records=st.one_of(st.just(()), st.tuples(*[st.integers(0, 5)] * 4)),
)
line_rows = st.builds(
    LineRow,
    id=st.integers(100, 105),
    order_id=st.sampled_from(ORDERS),
    kind=st.sampled_from(["ticket", "addon"]),
    product_id=st.sampled_from([1, 7]),
    description=st.sampled_from(["Pass", "Lunch"]),
    quantity=st.integers(1, 3),
    used=st.integers(0, 3),
    last_used_at=st.none(),
    last_station=st.just(""),
)
products = st.lists(
    st.builds(
        ProductRow,
        kind=st.sampled_from(["ticket", "addon"]),
        id=st.sampled_from([1, 7]),
        slug=st.just("p"),
        name=st.sampled_from(["Lunch", "Hot lunch"]),
        attention=st.sampled_from(["", "Vegan"]),
    ),
    max_size=3,
    unique_by=lambda p: (p.kind, p.id),
)
writes = st.one_of(
    st.tuples(st.just("attendees"), st.lists(attendee_rows, max_size=2, unique_by=lambda a: a.id)),
    st.tuples(
        st.just("replace_lines"),
        st.lists(st.sampled_from(ORDERS), max_size=2),
        st.lists(line_rows, max_size=3, unique_by=lambda li: li.id),
    ),
    st.tuples(st.just("lines"), st.lists(line_rows, max_size=2, unique_by=lambda li: li.id)),
    st.tuples(st.just("products"), products),
    st.tuples(
        st.just("set_meta"),
        st.fixed_dictionaries(
            {
                "synced_at": st.sampled_from(
                    ["2026-12-04T09:00:00+00:00", "2026-12-04T09:00:05+00:00"]
                ),
                "product_versions": st.sampled_from(["1,2", "1,3"]),
            }
        ),
    ),
    st.tuples(st.just("clear")),
)
# A sync transaction: a few writes, then reads of some codes (misses fill the memory).
transactions = st.lists(
    st.tuples(
        st.lists(writes, min_size=1, max_size=3), st.lists(st.sampled_from(CODES), max_size=3)
    ),
    min_size=1,
    max_size=8,
)


def write(snapshot: Snapshot, transaction: list[tuple[Any, ...]]) -> None:
    with snapshot.writing() as writer:
        for name, *args in transaction:
            if name == "replace_lines":
                orders, rows = args
                writer.replace_lines(orders, [r for r in rows if r.order_id in orders])
            else:
                getattr(writer, name)(*args)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=transactions, then=transactions)
def test_the_held_holders_are_the_copys_after_any_syncs(
    tmp_path_factory: Any, first: list[Any], then: list[Any]
) -> None:
    snapshot = Snapshot(tmp_path_factory.mktemp("held") / "s.sqlite3")
    try:
        for transaction, _reads in first:  # a copy from an earlier run, then the station starts
            write(snapshot, transaction)
        snapshot.hold()
        for transaction, reads in then:
            for code in reads:
                assert snapshot.held(code) == snapshot.premised_holder(code=code)
            write(snapshot, transaction)
            for code in CODES:
                assert snapshot.held(code) == snapshot.premised_holder(code=code), code
    finally:
        snapshot.close()


def holder(attendee_id: int, code: str) -> Holder:
    return Holder(attendee_id, code, "A", "L", "u", "e", None, None, False, None, 0, (), "")


def test_an_entry_read_before_a_commit_is_not_kept_after_it() -> None:
    """A scan read the copy, a sync committed meanwhile: what it read may be the old state."""
    held = HeldHolders()
    wide = Wide("2026-12-04T09:00:00+00:00", "1")
    assert held.replace(held.generation, wide, [Entry(holder(1, "ADA1"), (1,), "0,0,0,0")])
    read_while = held.generation
    held.committed(wide, everything=False, ids=[2], codes=["BOB2"])
    held.store(read_while, wide, Entry(holder(2, "BOB2"), (1,), "0,0,0,0"))
    assert held.get("BOB2") is None
    held.store(held.generation, wide, Entry(holder(2, "BOB2"), (1,), "0,0,0,0"))
    assert held.get("BOB2") is not None
    # An entry of another state of the copy (other marks) is not kept either.
    later = Wide("2026-12-04T09:00:05+00:00", "1")
    held.store(held.generation, later, Entry(holder(3, "CY3"), (1,), "0,0,0,0"))
    assert held.get("CY3") is None


def test_a_whole_read_overtaken_by_a_commit_is_dropped() -> None:
    held = HeldHolders()
    wide = Wide("2026-12-04T09:00:00+00:00", "1")
    started = held.generation
    held.committed(wide, everything=True, ids=[], codes=[])
    assert not held.replace(started, wide, [Entry(holder(1, "ADA1"), (1,), "0,0,0,0")])
    assert len(held) == 0 and not held.complete


def test_holding_a_filled_copy_builds_every_holder(tmp_path: Path) -> None:
    snapshot = Snapshot(tmp_path / "s.sqlite3")
    with snapshot.writing() as writer:
        writer.attendees(ada_and_bob())
        writer.set_meta({"synced_at": "2026-12-04T09:00:00+00:00", "product_versions": ""})
    assert snapshot.holding == 0
    snapshot.hold()
    assert snapshot.holding == 2
    found = snapshot.held("ADA1")
    assert found is not None and found == snapshot.premised_holder(code="ADA1")
    assert snapshot.held("NOPE") is None


def test_a_line_written_again_under_another_order_leaves_its_old_holder(tmp_path: Path) -> None:
    snapshot = Snapshot(tmp_path / "s.sqlite3")
    with snapshot.writing() as writer:
        writer.attendees(ada_and_bob())
        writer.lines([LineRow(100, 10, "addon", 7, "Lunch", 1, 0, None, "")])
        writer.set_meta({"synced_at": "2026-12-04T09:00:00+00:00", "product_versions": ""})
    snapshot.hold()
    ada = snapshot.held("ADA1")
    assert ada is not None and [line.id for line in ada[0].lines] == [100]
    with snapshot.writing() as writer:
        writer.lines([LineRow(100, 20, "addon", 7, "Lunch", 1, 0, None, "")])
    for code in ("ADA1", "BOB2"):
        assert snapshot.held(code) == snapshot.premised_holder(code=code)
    ada = snapshot.held("ADA1")
    assert ada is not None and ada[0].lines == ()


@pytest.mark.postgres
def test_a_station_holds_its_copy_and_follows_the_servers_changes(
    postgres_database: TestDatabase, tmp_path: Path
) -> None:
    """Built as ``station run`` builds it: the holders are in memory after the first sync,
    and a person renamed or added on the server is in memory after a later one."""
    conf = ConferenceBuilder(postgres_database.sessions)
    ada = conf.attendee("HELD1", addons={"lunch": 2})
    conf.attendee("HELD2", first_name="Bob", addons={"lunch": 1})
    settings = Settings(
        database=postgres_database.settings,
        conference=conf.slug,
        station="Lunch 1",
        mode=Mode.MEAL,
        product="lunch",
        offline=OfflineSettings(enabled=True, sync_s=1.0, directory=tmp_path / "offline"),
    )
    services = build_services(settings)
    assert services.offline is not None
    snapshot = services.offline.snapshot
    try:
        services.offline.start()
        assert services.offline.keeper.synced.wait(15), "the first fill never finished"
        wait_until(lambda: snapshot.holding == 2)
        ctx = StationContext(conf.slug, "Lunch 1")
        for _ in range(2):  # the first scan after start reads; the second decides on the copy
            answer = services.scans.scan(ctx, "held1", client_id=uuid.uuid4())
            assert isinstance(answer, RedemptionResult) and answer.attendee_name == "Ada Lovelace"
        with postgres_database.sessions() as s:
            given = s.scalars(
                select(ProductRedemption.id).where(ProductRedemption.attendee_id == ada.attendee_id)
            ).all()
        assert len(given) == 2
        with postgres_database.sessions.begin() as s:
            s.execute(update(Person).where(Person.first_name == "Bob").values(first_name="Rob"))
        conf.attendee("HELD3", first_name="Cy")

        def renamed() -> bool:
            found = snapshot.held("HELD2")
            return found is not None and found[0].first_name == "Rob"

        wait_until(renamed)
        wait_until(lambda: snapshot.held("HELD3") is not None)
        for code in ("HELD1", "HELD2", "HELD3"):
            assert snapshot.held(code) == snapshot.premised_holder(code=code)
    finally:
        services.dispose()


def test_a_failure_to_build_the_holders_does_not_fail_the_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy is committed before the holders are built: if building them fails (a disk
    error), the sync still succeeds and the scans read the copy."""
    snapshot = Snapshot(tmp_path / "s.sqlite3")
    snapshot.hold()

    def broken(self: Snapshot) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Snapshot, "_warm", broken)
    with snapshot.writing() as writer:
        writer.attendees(ada_and_bob())
        writer.set_meta({"synced_at": "2026-12-04T09:00:00+00:00", "product_versions": ""})
    assert snapshot.holding == 0
    found = snapshot.held("ADA1")
    assert found is not None and found == snapshot.premised_holder(code="ADA1")
