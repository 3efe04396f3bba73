"""The lookup finds people however their names are typed: any case, no accents, a typo.

Every test runs on SQLite and on PostgreSQL (the ``world`` fixture), on a migrated schema:
the trigram index (pg_trgm) and the FTS5 trigram table are the ones a station has.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from station.demo import DEMO_SLUG, MIN_ATTENDEES, seed_demo
from station.models import Attendee, Order, Person, refresh_search_keys
from station.searchkey import fold
from station.services import CheckInService
from station.services.results import StationContext
from tests.data_helpers import CONFERENCE, HEADER, import_into, write_file
from tests.services.conftest import World

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

PEOPLE = {
    "OYVIND": ("Øyvind", "Håland"),
    "ZOE": ("Zoë", "Lefèvre"),
    "NUNEZ": ("José", "Núñez"),
    "ALEX": ("Αλέξανδρος", "Οικονόμου"),
    "LINDQVIST": ("Ingrid", "Lindqvist"),
    "WALESA": ("Łukasz", "Wałęsa"),
    "STRASSE": ("Jürgen", "Straße"),
    "OBRIEN": ("Siobhán", "O’Brien"),
    "IVANOV": ("Дмитрий", "Иванов"),
    "ADA": ("Ada", "Lovelace"),
}


@pytest.fixture
def people(world: World) -> World:
    for code, (first, last) in PEOPLE.items():
        world.conf.attendee(code, first_name=first, last_name=last)
    for n in range(21):
        world.conf.attendee(f"YAMADA{n:02d}", first_name=f"太郎{n}", last_name="山田")
    return world


def found(world: World, query: str, limit: int = 20) -> list[str]:
    return [m.access_code for m in world.checkin.search_attendees(world.ctx, query, limit=limit)]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("øyvind", "OYVIND"),
        ("ØYVIND", "OYVIND"),
        ("oyvind", "OYVIND"),
        ("ZOË", "ZOE"),
        ("zoe", "ZOE"),
        ("ZOE LEF", "ZOE"),
        ("lef zoe", "ZOE"),
        ("NÚÑEZ", "NUNEZ"),
        ("nunez", "NUNEZ"),
        ("αλέξανδρος", "ALEX"),
        ("ΑΛΕΞΑΝΔΡΟΣ", "ALEX"),
        ("αλεξανδρος", "ALEX"),
        ("walesa", "WALESA"),
        ("łukasz", "WALESA"),
        ("lukasz wal", "WALESA"),
        ("strasse", "STRASSE"),
        ("STRAẞE", "STRASSE"),
        ("o'brien", "OBRIEN"),
        ("siobhan o’b", "OBRIEN"),
        ("иванов", "IVANOV"),
        ("ДМИТРИЙ", "IVANOV"),
        ("Lindquist", "LINDQVIST"),
        ("lindkvist", "LINDQVIST"),
        ("Lovelase", "ADA"),
    ],
)
def test_names_are_found_in_any_case_without_accents_and_with_a_typo(
    people: World, query: str, code: str
) -> None:
    assert found(people, query)[0] == code


def test_all_yamada_are_found_and_the_limit_holds(people: World) -> None:
    assert sorted(found(people, "山田", limit=50)) == [f"YAMADA{n:02d}" for n in range(21)]
    assert len(found(people, "山田")) == 20
    assert found(people, "山田 太郎7") == ["YAMADA07"]


def test_email_order_reference_and_code_are_found(people: World) -> None:
    code = people.conf.attendee("EMAIL1", first_name="Grace", email="Grace.Hopper@Navy.MIL")
    with people.sessions() as s:
        reference = s.scalar(select(Order.reference).where(Order.id == code.order_id))
    assert reference is not None
    assert found(people, "grace.hopper@navy") == ["EMAIL1"]
    assert found(people, reference.lower()) == ["EMAIL1"]
    assert found(people, "email1") == ["EMAIL1"]


def test_whole_words_rank_before_parts_of_words(world: World) -> None:
    world.conf.attendee("PART", first_name="Annabel", last_name="Fleeson")
    world.conf.attendee("WHOLE", first_name="Bruce", last_name="Lee")
    world.conf.attendee("START", first_name="Ann", last_name="Leeds")
    assert found(world, "lee") == ["WHOLE", "START", "PART"]


def test_typos_come_after_what_is_typed_exactly(world: World) -> None:
    world.conf.attendee("TYPO", first_name="Ingrid", last_name="Lindqvist")
    world.conf.attendee("EXACT", first_name="Ingrid", last_name="Lindquist")
    assert found(world, "lindquist") == ["EXACT", "TYPO"]


def test_nothing_like_it_finds_nothing(people: World) -> None:
    assert found(people, "xqzw") == []
    assert found(people, "%") == []
    assert found(people, "_%") == []


def test_other_conferences_stay_out(people: World) -> None:
    from tests.builders import ConferenceBuilder

    other = ConferenceBuilder(people.sessions, slug="other-con")
    other.attendee("ELSEWHERE", first_name="Øyvind", last_name="Håland")
    assert found(people, "øyvind") == ["OYVIND"]
    assert found(people, "oyvind halan") == ["OYVIND"]


def test_a_renamed_person_or_order_is_found_by_the_new_name(people: World) -> None:
    with people.sessions.begin() as s:
        person = s.scalar(select(Person).where(Person.first_name == "Ada"))
        assert person is not None
        person.last_name = "Byron-King"
        order = s.scalar(select(Order).where(Order.person_id == person.id))
        assert order is not None
        order.reference = "NEW-REF-77"
    assert found(people, "byron king") == ["ADA"]
    assert found(people, "new-ref-77") == ["ADA"]
    assert found(people, "lovelace") == []


def test_rows_written_without_a_key_are_still_found_and_refreshed(people: World) -> None:
    with people.sessions.begin() as s:
        s.execute(update(Attendee).values(search_key=None))
    assert found(people, "øyvind") == ["OYVIND"]
    assert found(people, "zoe lef") == ["ZOE"]
    with people.db.engine.begin() as conn:
        assert refresh_search_keys(conn, conference_id=people.conf.conference_id) == 31
    with people.sessions() as s:
        key = s.scalar(select(Attendee.search_key).where(Attendee.access_code == "ZOE"))
    assert key is not None
    assert key.startswith(" zoe lefevre | user")
    assert key.endswith(" zoe ")


NAME = st.text(
    alphabet=st.characters(categories=("L", "M", "Nd"), exclude_characters="\x00"),
    min_size=1,
    max_size=20,
).filter(lambda s: len(fold(s)) >= 2 and " " not in fold(s))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=NAME, last=NAME)
def test_any_name_is_found_by_its_folded_form(world: World, first: str, last: str) -> None:
    built = world.conf.attendee(None, first_name=first, last_name=last)
    for query in (fold(first), fold(last), f"{fold(first)} {fold(last)}", first.upper()):
        if len(" ".join(query.split())) >= 2:
            assert built.access_code in found(world, query, limit=1000), query


# Every path that writes attendees writes their keys: a refresh afterwards finds nothing to do.


def keys_to_fix(db: TestDatabase) -> int:
    with db.engine.begin() as conn:
        return refresh_search_keys(conn, attendee_ids=conn.scalars(select(Attendee.id)).all())


def lookup(db: TestDatabase, conference: str, query: str) -> list[str]:
    ctx = StationContext(conference=conference, station="Desk 1")
    return [m.name for m in CheckInService(db.sessions).search_attendees(ctx, query)]


def test_the_importer_writes_the_keys_of_new_and_changed_rows(
    database: TestDatabase, tmp_path: Path
) -> None:
    rows = [
        "OY-1,Øyvind,Håland,oyvind@example.org,ORD-1,paid,Conference Pass,",
        "ZO-2,Zoë,Lefèvre,zoe@example.org,ORD-2,paid,Conference Pass,",
        "LQ-3,Ingrid,Lindqvist,ingrid@example.org,ORD-3,paid,Conference Pass,",
    ]
    import_into(database, write_file(tmp_path, HEADER + "\n".join(rows) + "\n"))
    assert keys_to_fix(database) == 0
    assert lookup(database, CONFERENCE, "øyvind") == ["Øyvind Håland"]
    assert lookup(database, CONFERENCE, "ZOE LEF") == ["Zoë Lefèvre"]
    assert lookup(database, CONFERENCE, "Lindquist") == ["Ingrid Lindqvist"]
    rows[1] = "ZO-2,Zoë,Núñez,zoe@example.org,ORD-2B,paid,Conference Pass,"
    import_into(database, write_file(tmp_path, HEADER + "\n".join(rows) + "\n"))
    assert keys_to_fix(database) == 0
    assert lookup(database, CONFERENCE, "NUNEZ ord-2b") == ["Zoë Núñez"]
    assert lookup(database, CONFERENCE, "lefevre") == []


def test_the_demo_writes_the_keys(database: TestDatabase) -> None:
    seed_demo(database.engine, attendees=MIN_ATTENDEES)
    assert keys_to_fix(database) == 0
    assert "Øyvind Håland" in lookup(database, DEMO_SLUG, "øyvind")
    assert lookup(database, DEMO_SLUG, "ZOE LEF")[0] == "Zoë Lefèvre"
    assert "Ingrid Lindqvist" in lookup(database, DEMO_SLUG, "Lindquist")
    assert "太郎 山田" in lookup(database, DEMO_SLUG, "山田")
