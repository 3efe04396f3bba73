"""Importing attendees: the sample file, idempotence, updates in place, and every bad row.

Each test runs on SQLite and on PostgreSQL. A refused import is checked
against a dump of every table, so "nothing was written" means exactly that.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from station.domain import OrderStatus
from station.importer import ImportFileError
from station.importer.records import PRELOAD_NAMESPACE, PRELOAD_NOTE
from station.models import (
    AddOn,
    Attendee,
    CheckIn,
    Conference,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
    ScanLog,
    TicketType,
)
from station.services import CheckInService, RedemptionService
from station.services.errors import FullyRedeemed
from station.services.results import StationContext
from tests.data_helpers import (
    CONFERENCE,
    HEADER,
    PRELOAD_JSON,
    SAMPLE_CSV,
    dump,
    import_into,
    write_file,
)

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

CTX = StationContext(conference=CONFERENCE, station="Desk 1")


def orders_of(db: TestDatabase) -> dict[str, tuple[str, OrderStatus, dict[str, int]]]:
    """access code -> (order reference, status, {product slug: quantity})."""
    with db.sessions() as s:
        rows = s.execute(
            select(
                Attendee.access_code,
                Order.reference,
                Order.status,
                func.coalesce(TicketType.slug, AddOn.slug),
                OrderLineItem.quantity,
            )
            .join(Order, Order.id == Attendee.order_id)
            .join(OrderLineItem, OrderLineItem.order_id == Order.id)
            .outerjoin(TicketType, TicketType.id == OrderLineItem.ticket_type_id)
            .outerjoin(AddOn, AddOn.id == OrderLineItem.addon_id)
        ).all()
    found: dict[str, tuple[str, OrderStatus, dict[str, int]]] = {}
    for code, reference, status, slug, quantity in rows:
        found.setdefault(code, (reference, status, {}))[2][slug] = quantity
    return found


# --- the sample file -------------------------------------------------------------------


def test_sample_csv_imports_every_row(database: TestDatabase) -> None:
    report = import_into(database, SAMPLE_CSV)

    assert report.written and not report.problems and report.conference_created
    assert report.counts["attendees"].created == 10
    assert report.counts["ticket types"].created == 3
    assert report.counts["add-ons"].created == 4
    orders = orders_of(database)
    assert orders["AB12-CD34"] == (
        "ORD-1001",
        OrderStatus.PAID,
        {"conference-pass": 1, "lunch-day-1": 1, "lunch-day-2": 1, "tutorial-ticket": 1},
    )
    assert orders["JK90-LM12"][2]["meal-voucher"] == 3
    assert orders["NP34-QR56"][1] is OrderStatus.PARTIALLY_REFUNDED
    assert "CC33-DD44" not in orders  # no order at all
    with database.sessions() as s:
        person = s.execute(
            select(Person.first_name, Person.last_name, Person.email)
            .join(Attendee)
            .where(Attendee.access_code == "GG77-HH88")
        ).one()
        assert tuple(person) == ("Smith, Jr.", "Anne", "anne@example.org")
        conference = s.scalars(select(Conference)).one()
        assert (conference.slug, conference.name, conference.timezone) == (
            "pycon-test",
            "PyCon Test",
            "Europe/Berlin",
        )
        assert s.scalar(select(AddOn.name).where(AddOn.slug == "meal-voucher")) == "Meal voucher"


def test_imported_attendees_can_check_in_and_redeem(database: TestDatabase) -> None:
    import_into(database, SAMPLE_CSV)
    checked = CheckInService(database.sessions).check_in(CTX, "ab12-cd34")
    assert checked.badge.name == "Ada Lovelace"
    assert checked.badge.ticket_type == "Conference Pass"
    redeemed = RedemptionService(database.sessions).redeem_product(
        CTX, "JK90-LM12", product="meal-voucher"
    )
    assert (redeemed.redeemed, redeemed.quantity) == (1, 3)


def test_conference_must_exist_unless_create_is_given(database: TestDatabase) -> None:
    from station.services.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="does not exist; add --create"):
        import_into(database, SAMPLE_CSV, create=False)
    assert dump(database)["conference"] == []


def test_dry_run_counts_and_writes_nothing(database: TestDatabase) -> None:
    before = dump(database)
    report = import_into(database, SAMPLE_CSV, dry_run=True)

    assert not report.written and report.dry_run
    assert report.counts["attendees"].created == 10
    assert report.counts["order lines"].created == 22
    assert dump(database) == before


# --- idempotence and updates -----------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing(database: TestDatabase) -> None:
    import_into(database, SAMPLE_CSV)
    after_first = dump(database)

    again = import_into(database, SAMPLE_CSV)

    assert again.written
    assert again.counts["attendees"].unchanged == 10
    assert all(c.created == c.updated == c.removed == 0 for c in again.counts.values())
    assert dump(database) == after_first


def test_updated_file_updates_in_place_and_keeps_check_ins(
    database: TestDatabase, tmp_path: Path
) -> None:
    import_into(database, SAMPLE_CSV)
    CheckInService(database.sessions).check_in(CTX, "EF56-GH78")
    RedemptionService(database.sessions).redeem_product(CTX, "EF56-GH78", product="lunch-day-1")
    with database.sessions() as s:
        ids_before = dict(s.execute(select(Attendee.access_code, Attendee.id)).all())
    changed = SAMPLE_CSV.read_text(encoding="utf-8").replace(
        "EF56-GH78,Grace,Hopper,grace@example.org,ORD-1002,paid,Conference Pass,"
        "Lunch Day 1:1; Lunch Day 2:1",
        "EF56-GH78,Grace M.,Hopper,grace@navy.example,ORD-1002,partially_refunded,"
        "Conference Pass,Lunch Day 1:2",
    )
    report = import_into(database, write_file(tmp_path, changed))

    assert report.written and not report.problems
    assert report.counts["attendees"].updated == 1
    assert report.counts["attendees"].unchanged == 9
    assert report.counts["order lines"].updated == 1
    assert report.counts["order lines"].removed == 1  # Lunch Day 2, never redeemed
    assert orders_of(database)["EF56-GH78"] == (
        "ORD-1002",
        OrderStatus.PARTIALLY_REFUNDED,
        {"conference-pass": 1, "lunch-day-1": 2},
    )
    with database.sessions() as s:
        assert dict(s.execute(select(Attendee.access_code, Attendee.id)).all()) == (ids_before)
        grace = s.execute(
            select(Person.first_name, Person.email, Attendee.checked_in_at)
            .join(Attendee)
            .where(Attendee.access_code == "EF56-GH78")
        ).one()
        assert grace.first_name == "Grace M." and grace.email == "grace@navy.example"
        assert grace.checked_in_at is not None
        assert s.scalar(select(func.count()).select_from(ProductRedemption)) == 1
    lines = RedemptionService(database.sessions).get_redeemable_products(CTX, "EF56-GH78")
    assert [(p.addon_slug, p.redeemed, p.remaining) for p in lines] == [("lunch-day-1", 1, 1)]


def test_lowering_a_quantity_below_what_was_redeemed_is_refused(
    database: TestDatabase, tmp_path: Path
) -> None:
    import_into(database, SAMPLE_CSV)
    redeem = RedemptionService(database.sessions).redeem_product
    redeem(CTX, "JK90-LM12", product="meal-voucher")
    redeem(CTX, "JK90-LM12", product="meal-voucher")
    before = dump(database)
    lowered = SAMPLE_CSV.read_text(encoding="utf-8").replace("Meal voucher:3", "Meal voucher:1")

    report = import_into(database, write_file(tmp_path, lowered))

    assert not report.written
    assert [str(p) for p in report.problems] == [
        "line 4: 'Meal voucher': quantity 1 is below the 2 already redeemed; "
        "not lowered (fix the file)"
    ]
    assert dump(database) == before


def test_removing_a_redeemed_addon_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    import_into(database, SAMPLE_CSV)
    RedemptionService(database.sessions).redeem_product(CTX, "EE55-FF66", product="meal-voucher")
    before = dump(database)
    removed = SAMPLE_CSV.read_text(encoding="utf-8").replace(
        "ORD-1008,paid,Student,Meal voucher:2", "ORD-1008,paid,Student,"
    )

    report = import_into(database, write_file(tmp_path, removed))

    assert [p.line for p in report.problems] == [10]
    assert "no longer in the order but 1 already redeemed" in report.problems[0].message
    assert dump(database) == before


def test_skip_bad_rows_imports_the_rest(database: TestDatabase, tmp_path: Path) -> None:
    content = (
        HEADER
        + "GOOD-1,Ada,L,a@example.org,R-1,paid,Pass,Lunch:1\n"
        + "BAD-2,Bob,B,b@example.org,R-2,payed,Pass,\n"
        + "GOOD-3,Cy,C,c@example.org,R-3,pending,Pass,\n"
    )
    report = import_into(database, write_file(tmp_path, content), skip_bad_rows=True)

    assert report.written
    assert [str(p) for p in report.problems] == [
        "line 3: unknown order_status 'payed' (use one of: pending, paid, refunded, "
        "partially_refunded, cancelled, or leave it empty)"
    ]
    with database.sessions() as s:
        assert sorted(s.scalars(select(Attendee.access_code))) == ["GOOD-1", "GOOD-3"]


def test_access_codes_are_normalised(database: TestDatabase, tmp_path: Path) -> None:
    content = HEADER + "  ab12-cd34 ,Ada,L,a@example.org,R-1,paid,Pass,\n"
    import_into(database, write_file(tmp_path, content))
    with database.sessions() as s:
        assert s.scalars(select(Attendee.access_code)).all() == ["AB12-CD34"]


def test_a_code_of_another_conference_is_a_bad_row(database: TestDatabase, tmp_path: Path) -> None:
    import_into(database, SAMPLE_CSV, conference="other-con")
    before = dump(database)
    report = import_into(database, SAMPLE_CSV)
    assert len(report.problems) == 10
    assert str(report.problems[0]) == (
        "line 2: access_code AB12-CD34 already belongs to conference 'other-con'"
    )
    assert dump(database) == before


def test_an_order_reference_used_twice_is_a_bad_row(database: TestDatabase, tmp_path: Path) -> None:
    content = (
        HEADER
        + "A-1,Ada,L,a@example.org,R-1,paid,Pass,\n"
        + "B-2,Bob,B,b@example.org,R-1,paid,Pass,\n"
    )
    report = import_into(database, write_file(tmp_path, content))
    assert [str(p) for p in report.problems] == [
        "line 3: order_reference 'R-1' is already used on line 2 "
        "(each attendee needs an order of their own)"
    ]
    assert dump(database)["attendee"] == []


# --- bad rows: each names its line and nothing is written -------------------------------


def refused(db: TestDatabase, tmp_path: Path, content: str | bytes) -> list[str]:
    """Import a bad file; assert no table changed; return the problems as printed."""
    before = dump(db)
    report = import_into(db, write_file(tmp_path, content))
    assert report.problems
    assert not report.written
    assert dump(db) == before
    return [str(p) for p in report.problems]


def refused_file(db: TestDatabase, tmp_path: Path, content: str | bytes) -> str:
    """A file refused as a whole, before any database work."""
    before = dump(db)
    with pytest.raises(ImportFileError) as error:
        import_into(db, write_file(tmp_path, content))
    assert dump(db) == before
    return str(error.value)


def test_bad_row_missing_code(database: TestDatabase, tmp_path: Path) -> None:
    content = (
        HEADER
        + "A-1,Ada,L,a@example.org,R-1,paid,Pass,\n"
        + "   ,Bob,B,b@example.org,R-2,paid,Pass,\n"
    )
    assert refused(database, tmp_path, content) == ["line 3: access_code is empty"]


def test_bad_row_duplicate_code_in_the_file(database: TestDatabase, tmp_path: Path) -> None:
    content = (
        HEADER
        + "A-1,Ada,L,a@example.org,R-1,paid,Pass,\n"
        + "B-2,Bob,B,b@example.org,R-2,paid,Pass,\n"
        + " a-1,Ann,L,ann@example.org,R-3,paid,Pass,\n"
    )
    assert refused(database, tmp_path, content) == [
        "line 4: access_code A-1 already appears on line 2"
    ]


def test_bad_row_unknown_status(database: TestDatabase, tmp_path: Path) -> None:
    content = HEADER + "A-1,Ada,L,a@example.org,R-1,Bezahlt,Pass,\n"
    problems = refused(database, tmp_path, content)
    assert len(problems) == 1
    assert problems[0].startswith("line 2: unknown order_status 'Bezahlt' (use one of: pending")


@pytest.mark.parametrize(
    ("addons", "expected"),
    [
        ("Lunch:abc", "quantity of add-on 'Lunch' must be a whole number, not 'abc'"),
        ("Lunch:-1", "quantity of add-on 'Lunch' must be a whole number, not '-1'"),
        ("Lunch:1.5", "quantity of add-on 'Lunch' must be a whole number, not '1.5'"),
        ("Lunch:5000", "quantity of add-on 'Lunch' must be between 0 and 1000, not 5000"),
        ("Lunch", "add-on 'Lunch' needs a quantity, written as name:quantity"),
        ("Lunch:1; lunch:2", "add-on 'lunch' is listed twice (also as 'Lunch')"),
    ],
)
def test_bad_row_malformed_quantity(
    database: TestDatabase, tmp_path: Path, addons: str, expected: str
) -> None:
    content = (
        HEADER
        + "A-1,Ada,L,a@example.org,R-1,paid,Pass,Lunch:1\n"
        + f'B-2,Bob,B,b@example.org,R-2,paid,Pass,"{addons}"\n'
    )
    problems = refused(database, tmp_path, content)
    assert len(problems) == 1
    assert problems[0].startswith(f"line 3: {expected}")


def test_bad_row_invalid_utf8(database: TestDatabase, tmp_path: Path) -> None:
    content = (
        HEADER.encode()
        + b"A-1,Ada,L,a@example.org,R-1,paid,Pass,\n"
        + b"B-2,Bob,Fran\xe7ois,b@example.org,R-2,paid,Pass,\n"  # Latin-1, not UTF-8
    )
    assert refused(database, tmp_path, content) == [
        "line 3: not valid UTF-8 (byte 0xE7 in field 3); save the file as 'CSV UTF-8'"
    ]


def test_a_utf8_bom_is_stripped_and_the_header_still_parses(
    database: TestDatabase, tmp_path: Path
) -> None:
    content = b"\xef\xbb\xbf" + (HEADER + "A-1,Ada,L,a@example.org,R-1,paid,Pass,\n").encode()
    report = import_into(database, write_file(tmp_path, content))
    assert report.written and not report.problems
    assert report.notices == ("line 1: UTF-8 byte-order mark found and ignored",)
    with database.sessions() as s:
        assert s.scalars(select(Attendee.access_code)).all() == ["A-1"]


def test_a_utf16_file_is_refused(database: TestDatabase, tmp_path: Path) -> None:
    content = (HEADER + "A-1,Ada,L,a@example.org,R-1,paid,Pass,\n").encode("utf-16")
    message = refused_file(database, tmp_path, content)
    assert message == "line 1: the file is UTF-16 encoded; save it as 'CSV UTF-8' and import again"


def test_bad_file_wrong_delimiter(database: TestDatabase, tmp_path: Path) -> None:
    content = HEADER.replace(",", ";") + "A-1;Ada;L;a@example.org;R-1;paid;Pass;\n"
    message = refused_file(database, tmp_path, content)
    assert message == (
        "line 1: the file is separated by semicolons (;), not commas; "
        "export it again as comma-separated CSV"
    )


def test_bad_file_missing_columns(database: TestDatabase, tmp_path: Path) -> None:
    content = "access_code,first_name,last_name,email\nA-1,Ada,L,a@example.org\n"
    message = refused_file(database, tmp_path, content)
    assert message.startswith(
        "line 1: missing column(s): order_reference, order_status, ticket_type, addons"
    )


def test_extra_columns_are_ignored_with_a_notice(database: TestDatabase, tmp_path: Path) -> None:
    content = HEADER.rstrip("\n") + ",tshirt\nA-1,Ada,L,a@example.org,R-1,paid,Pass,,XL\n"
    report = import_into(database, write_file(tmp_path, content))
    assert report.written
    assert report.notices == ("line 1: ignoring column(s) not in the import format: tshirt",)


def test_bad_row_wrong_number_of_fields(database: TestDatabase, tmp_path: Path) -> None:
    content = HEADER + "A-1,Ada,Smith, Jr.,a@example.org,R-1,paid,Pass,\n"
    assert refused(database, tmp_path, content) == [
        "line 2: expected 8 fields, found 9 (a value containing a comma must be in double quotes)"
    ]


def test_bad_row_code_with_other_characters(database: TestDatabase, tmp_path: Path) -> None:
    content = HEADER + "A_1 B,Ada,L,a@example.org,R-1,paid,Pass,\n"
    assert refused(database, tmp_path, content) == [
        "line 2: access_code 'A_1 B' may only contain letters, digits and '-'"
    ]


def test_bad_row_code_too_long(database: TestDatabase, tmp_path: Path) -> None:
    content = HEADER + "A" * 257 + ",Ada,L,a@example.org,R-1,paid,Pass,\n"
    assert refused(database, tmp_path, content) == [
        "line 2: access_code is 257 characters long (at most 256)"
    ]


def test_bad_row_status_without_reference(database: TestDatabase, tmp_path: Path) -> None:
    content = HEADER + "A-1,Ada,L,a@example.org,,paid,Pass,\n"
    assert refused(database, tmp_path, content) == [
        "line 2: order_status paid needs an order_reference"
    ]


def test_line_numbers_count_physical_lines_of_quoted_fields(
    database: TestDatabase, tmp_path: Path
) -> None:
    content = (
        HEADER
        + 'A-1,"Ada\nAugusta",L,a@example.org,R-1,paid,Pass,\n'  # lines 2-3
        + "\n"  # line 4, blank: skipped
        + "B-2,Bob,B,b@example.org,R-2,refundd,Pass,\n"  # line 5
    )
    problems = refused(database, tmp_path, content)
    assert [p.split(":")[0] for p in problems] == ["line 5"]


# --- django-program preload JSON -------------------------------------------------------
# The fixture is django-program 0.1.2's own preload file, unedited (tests/data/).

DP = "pycon_test_2027"
DP_CTX = StationContext(conference=DP, station="Desk 1")


def preload_variant(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The real preload with one change, as django-program would write it (indent 1)."""
    document = json.loads(PRELOAD_JSON.read_text(encoding="utf-8"))
    change(document)
    return write_file(tmp_path, json.dumps(document, indent=1, ensure_ascii=False), "dp.json")


def attendee_in(document: dict[str, Any], code: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in document["attendees"] if a["access_code"] == code)
    return found


def test_django_program_preload_imports_every_attendee(database: TestDatabase) -> None:
    report = import_into(database, PRELOAD_JSON, conference=None)

    assert report.written and not report.problems and report.conference == DP
    assert report.counts["attendees"].created == 8
    assert report.counts["order lines"].created == 17
    assert report.counts["redemptions carried over"].created == 3
    assert report.counts["check-ins carried over"].created == 3
    with database.sessions() as s:
        rows = s.execute(
            select(Attendee.access_code, Person.first_name, Person.last_name).join(
                Person, Person.id == Attendee.person_id
            )
        ).all()
        names = {code: f"{first}|{last}" for code, first, last in rows}
        assert names == {
            "55R26PE3": "Øyvind|Lindqvist",
            "DZLJPB4E": "山田 太郎|",  # family name first: kept whole
            "OWFPI0Y6": "Grace|Hopper",
            "CPCVHYTP": "Alan|Turing",
            "5WXQC8Y9": "Edsger|Dijkstra",
            "7VOURT07": "Ada|Lovelace",
            "MJZC5DKE": "Zoë|Ñúñez",
            "HZYW0AHT": "|",  # django-program had no name
        }
        tickets = dict(s.execute(select(TicketType.slug, TicketType.name)).all())
        assert tickets == {"individual": "Individual", "student": "Student"}
        checked = dict(s.execute(select(Attendee.access_code, Attendee.checked_in_at)).all())
        assert checked["7VOURT07"] == datetime(2026, 12, 2, 11, 20, 17, 607237, tzinfo=UTC)
        assert checked["55R26PE3"] is None
        check_ins = s.execute(select(CheckIn.station, CheckIn.note)).all()
        assert [tuple(c) for c in check_ins] == [("preload", PRELOAD_NOTE)] * 3
        redemptions = s.execute(
            select(ProductRedemption.client_id, ProductRedemption.note, ProductRedemption.station)
        ).all()
    assert orders_of(database)["7VOURT07"] == (
        "PRELOAD-7VOURT07",
        OrderStatus.PAID,
        {"individual": 1, "lunch-day-1": 1, "meal-voucher": 3},
    )
    # django-program's line item ids 9 (55R26PE3's vouchers), 2 and 3 (7VOURT07's lunch, vouchers)
    assert {r.client_id for r in redemptions} == {
        uuid.uuid5(PRELOAD_NAMESPACE, f"{DP}:{line}:0") for line in (9, 2, 3)
    }
    assert {(r.note, r.station) for r in redemptions} == {(PRELOAD_NOTE, "preload")}


def test_the_station_import_command_reads_the_real_preload(
    database: TestDatabase, tmp_path: Path
) -> None:
    from tests.data_helpers import run_station

    result = run_station(database, tmp_path, "import", str(PRELOAD_JSON), "--create")

    assert result.returncode == 0, result.stderr
    assert "into pycon_test_2027 (conference created)" in result.stdout
    assert "attendees: 8 created" in result.stdout
    assert "check-ins carried over: 3 created" in result.stdout
    exported = run_station(database, tmp_path, "export", "checkins", "--conference", DP)
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 4  # header and the 3 imported check-ins


def test_ticket_types_are_matched_by_name_within_the_conference(database: TestDatabase) -> None:
    with database.sessions.begin() as s:
        conference = Conference(slug=DP, name="PyCon Test", timezone="UTC")
        other = Conference(slug="other", name="Other", timezone="UTC")
        s.add_all([conference, other])
        s.flush()
        s.add(TicketType(conference_id=conference.id, slug="indiv-pass", name="individual"))
        s.add(TicketType(conference_id=other.id, slug="student-x", name="Student"))

    report = import_into(database, PRELOAD_JSON, conference=None)

    assert report.written and report.counts["ticket types"].created == 1  # student only
    with database.sessions() as s:
        here = s.execute(
            select(TicketType.slug, func.count(OrderLineItem.id))
            .join(OrderLineItem, OrderLineItem.ticket_type_id == TicketType.id)
            .group_by(TicketType.slug)
        ).all()
    assert dict(here) == {"indiv-pass": 6, "student": 2}


def test_an_imported_check_in_is_the_first_check_in(database: TestDatabase) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    service = CheckInService(database.sessions)
    first = datetime(2026, 12, 2, 11, 20, 17, 607237, tzinfo=UTC)

    badge = service.lookup_attendee(DP_CTX, "7vourt07")
    assert badge.checked_in and badge.first_check_in is not None
    assert (badge.first_check_in.at, badge.first_check_in.station) == (first, "preload")
    again = service.check_in(DP_CTX, "7VOURT07")
    assert again.reentry
    assert again.badge.first_check_in is not None and again.badge.first_check_in.at == first
    assert not service.check_in(DP_CTX, "55R26PE3").reentry  # not checked in there


def test_a_partly_redeemed_voucher_shows_what_is_left(database: TestDatabase) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    redeem = RedemptionService(database.sessions).redeem_product

    meal = redeem(DP_CTX, "55R26PE3", product="meal-voucher")  # 1 of 3 used in django-program
    assert (meal.redeemed, meal.quantity, meal.remaining) == (2, 3, 1)
    with pytest.raises(FullyRedeemed):
        redeem(DP_CTX, "7VOURT07", product="lunch-day-1")  # used in django-program


def test_redeeming_a_ticket_line_says_that_only_add_ons_are_redeemed(
    database: TestDatabase,
) -> None:
    """django-program redeems any line of an order; station redeems add-on lines only."""
    from station.rulebook.words import NOT_ON_ORDER
    from station.services.errors import InvalidInput

    import_into(database, PRELOAD_JSON, conference=None)
    ticket_line = source_lines(database)["1"][0]  # 7VOURT07's "Individual" ticket line

    with pytest.raises(InvalidInput) as refused:
        RedemptionService(database.sessions).redeem_product(
            DP_CTX, "7VOURT07", line_item_id=ticket_line
        )

    assert refused.value.message == NOT_ON_ORDER
    assert "a ticket is used by checking in" in NOT_ON_ORDER
    with database.sessions() as s:
        logged = s.scalars(select(ScanLog.message).where(ScanLog.outcome == "refused")).all()
    assert logged == [NOT_ON_ORDER]  # the scan log has the same words, on every path


def test_a_badge_of_a_slug_with_underscores_is_read() -> None:
    from station.scanner import ScannerProfile, decode_scan

    scan = decode_scan("pycon_test_2027:7VOURT07", ScannerProfile(), conference_slug=DP)
    assert (scan.conference_slug, scan.code) == (DP, "7VOURT07")


def test_preload_reimport_adds_nothing(database: TestDatabase) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    RedemptionService(database.sessions).redeem_product(DP_CTX, "DZLJPB4E", product="lunch-day-1")
    before = dump(database)

    again = import_into(database, PRELOAD_JSON, conference=None)

    assert again.written and not again.problems
    assert again.counts["redemptions carried over"].unchanged == 3
    assert again.counts["check-ins carried over"].unchanged == 3
    assert again.counts["redemptions carried over"].created == 0
    assert dump(database) == before


def test_a_newer_preload_updates_in_place(database: TestDatabase, tmp_path: Path) -> None:
    import_into(database, PRELOAD_JSON, conference=None)

    def newer(document: dict[str, Any]) -> None:
        grace = attendee_in(document, "OWFPI0Y6")
        grace["name"] = "Grace Brewster Hopper"
        grace["checked_in"], grace["checked_in_at"] = True, "2026-12-02T12:00:00+01:00"
        vouchers = attendee_in(document, "55R26PE3")["products"][1]
        vouchers.update(redeemed_count=2, remaining=1)

    report = import_into(database, preload_variant(tmp_path, newer), conference=None)

    assert report.written and not report.problems
    assert report.counts["attendees"].created == 0
    assert report.counts["people"].updated == 1
    assert report.counts["check-ins carried over"].created == 1
    assert report.counts["redemptions carried over"].created == 1
    badge = CheckInService(database.sessions).lookup_attendee(DP_CTX, "OWFPI0Y6")
    assert badge.name == "Grace Brewster Hopper"
    assert badge.first_check_in is not None
    assert badge.first_check_in.at == datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    meal = RedemptionService(database.sessions).redeem_product(
        DP_CTX, "55R26PE3", product="meal-voucher"
    )
    assert (meal.redeemed, meal.quantity) == (3, 3)


def source_lines(db: TestDatabase) -> dict[str | None, tuple[int, str, int, str]]:
    """django-program line item id -> (line id, access code, quantity, description)."""
    with db.sessions() as s:
        rows = s.execute(
            select(
                OrderLineItem.source_line_id,
                OrderLineItem.id,
                Attendee.access_code,
                OrderLineItem.quantity,
                OrderLineItem.description,
            ).join(Attendee, Attendee.order_id == OrderLineItem.order_id)
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}  # type: ignore[misc]


def test_each_preload_line_item_keeps_its_django_program_id(database: TestDatabase) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    document = json.loads(PRELOAD_JSON.read_text(encoding="utf-8"))
    in_file = {str(p["id"]): a["access_code"] for a in document["attendees"] for p in a["products"]}

    lines = source_lines(database)

    assert {source: line[1] for source, line in lines.items()} == in_file  # all 17, no others


def test_a_newer_preload_updates_each_line_by_its_id(
    database: TestDatabase, tmp_path: Path
) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    before = source_lines(database)

    def newer(document: dict[str, Any]) -> None:
        products = attendee_in(document, "DZLJPB4E")["products"]
        products[2].update(quantity=4, remaining=4, description="Meal voucher (4)")  # id 12
        # A second line of the same product, bought later: a line of its own.
        products.append(
            {"id": 99, "description": "Meal voucher", "quantity": 2, "ticket_type_slug": None,
             "addon_slug": "meal-voucher", "redeemed_count": 1, "remaining": 1}
        )  # fmt: skip

    report = import_into(database, preload_variant(tmp_path, newer), conference=None)

    assert report.written and not report.problems
    lines = report.counts["order lines"]
    assert (lines.created, lines.updated, lines.unchanged) == (1, 1, 16)
    after = source_lines(database)
    assert after["12"] == (before["12"][0], "DZLJPB4E", 4, "Meal voucher (4)")  # same row
    assert after["99"][1:] == ("DZLJPB4E", 2, "Meal voucher")
    assert {k: v for k, v in after.items() if k not in ("12", "99")} == {
        k: v for k, v in before.items() if k != "12"
    }
    with database.sessions() as s:
        carried = s.scalar(
            select(ProductRedemption.order_line_item_id).where(
                ProductRedemption.client_id == uuid.uuid5(PRELOAD_NAMESPACE, f"{DP}:99:0")
            )
        )
    assert carried == after["99"][0]  # django-program's redemption sits on its own line
    meal = RedemptionService(database.sessions).redeem_product(
        DP_CTX, "DZLJPB4E", product="meal-voucher"
    )
    assert (meal.redeemed, meal.quantity) == (2, 6)  # both lines count


def test_lines_imported_before_ids_were_kept_take_their_ids(database: TestDatabase) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    before = source_lines(database)
    with database.sessions.begin() as s:  # as a preload import before migration 0009 left them
        s.execute(OrderLineItem.__table__.update().values(source_line_id=None))

    report = import_into(database, PRELOAD_JSON, conference=None)

    assert report.written and not report.problems
    assert report.counts["order lines"].updated == 17
    assert report.counts["order lines"].created == 0
    assert source_lines(database) == before


def test_a_csv_import_keeps_the_ids_of_preload_lines(
    database: TestDatabase, tmp_path: Path
) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    before = source_lines(database)
    csv = write_file(
        tmp_path,
        HEADER + "7VOURT07,Ada,Lovelace,user0@example.org,PRELOAD-7VOURT07,paid,Individual,"
        '"Lunch Day 1:1; Meal voucher:3"\n',
    )

    report = import_into(database, csv, conference=DP)

    assert report.written and not report.problems, report.problems
    assert report.counts["order lines"].created == 0
    after = source_lines(database)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}


def test_redemption_export_names_the_django_program_line(
    database: TestDatabase, tmp_path: Path
) -> None:
    from tests.data_helpers import run_station

    import_into(database, PRELOAD_JSON, conference=None)
    result = run_station(database, tmp_path, "export", "redemptions", "--format", "json")

    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert sorted((r["access_code"], r["source_line_id"]) for r in rows) == [
        ("55R26PE3", "9"),
        ("7VOURT07", "2"),
        ("7VOURT07", "3"),
    ]


def test_preload_more_redeemed_than_room_left_is_refused(
    database: TestDatabase, tmp_path: Path
) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    # Redeemed here before the newer preload says django-program redeemed it too.
    RedemptionService(database.sessions).redeem_product(DP_CTX, "DZLJPB4E", product="lunch-day-1")
    before = dump(database)

    def newer(document: dict[str, Any]) -> None:
        attendee_in(document, "DZLJPB4E")["products"][1].update(redeemed_count=1, remaining=0)

    report = import_into(database, preload_variant(tmp_path, newer), conference=None)

    assert [p.line for p in report.problems] == [35]  # DZLJPB4E's access_code
    assert "1 redeemed here plus 1 redeemed before is more than the quantity 1" in str(
        report.problems[0]
    )
    assert dump(database) == before


def test_preload_inconsistent_remaining_is_a_bad_row(
    database: TestDatabase, tmp_path: Path
) -> None:
    def bad(document: dict[str, Any]) -> None:
        attendee_in(document, "55R26PE3")["products"][1]["remaining"] = 3

    before = dump(database)
    report = import_into(database, preload_variant(tmp_path, bad), conference=None)
    assert [str(p) for p in report.problems] == [
        "line 7: line item 9: remaining '3' is not quantity 3 minus redeemed_count 1"
    ]
    assert dump(database) == before


@pytest.mark.parametrize(
    ("where", "time"),
    [
        ("generated_at", "0001-01-01T00:00:00+14:00"),
        ("checked_in_at", "0001-01-01T00:00:00+14:00"),
        ("checked_in_at", "9999-12-31T23:59:59-01:00"),
    ],
)
def test_a_time_outside_what_databases_store_is_refused(
    database: TestDatabase, tmp_path: Path, where: str, time: str
) -> None:
    def bad(document: dict[str, Any]) -> None:
        if where == "generated_at":
            document["generated_at"] = time
        else:
            attendee_in(document, "7VOURT07")["checked_in_at"] = time

    before = dump(database)
    path = preload_variant(tmp_path, bad)
    if where == "generated_at":
        with pytest.raises(ImportFileError, match="outside the years 1 to 9999 in UTC"):
            import_into(database, path, conference=None)
    else:
        report = import_into(database, path, conference=None)
        assert [p.line for p in report.problems] == [147]
        assert "outside the years 1 to 9999 in UTC" in str(report.problems[0])
    assert dump(database) == before


def test_preload_for_another_conference_is_refused(database: TestDatabase) -> None:
    from station.services.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="is for conference 'pycon_test_2027', not 'x'"):
        import_into(database, PRELOAD_JSON, conference="x")


def test_preload_that_is_not_json_names_the_line(database: TestDatabase, tmp_path: Path) -> None:
    message = refused_file(database, tmp_path, '{\n  "conference": "x",\n  oops\n}')
    assert message.startswith("line 3: not valid JSON")


# --- the progress bar: long imports, terminals only --------------------------------------


def long_file(tmp_path: Path, rows: int = 3000) -> Path:
    lines = [
        f"P-{n},First{n},Last{n},p{n}@example.org,O-{n},paid,Pass,Lunch:1\n" for n in range(rows)
    ]
    return write_file(tmp_path, HEADER + "".join(lines))


def test_progress_bar_is_drawn_on_a_terminal(database: TestDatabase, tmp_path: Path) -> None:
    import os
    import pty
    import subprocess

    from tests.data_helpers import station_command, station_env

    path = long_file(tmp_path)
    controller, terminal = pty.openpty()
    env = station_env(database, tmp_path) | {"TERM": "xterm-256color"}
    args = [*station_command(), "import", str(path), "--conference", "big", "--create"]
    process = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=terminal, text=True
    )
    os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        drawn += chunk
    out, _ = process.communicate(timeout=60)
    os.close(controller)
    assert process.returncode == 0, drawn
    assert b"Comparing" in drawn and b"3000/3000" in drawn
    assert b"Writing" in drawn and b"15002/15002" in drawn  # 3,000 x (person, order, ...)
    assert "attendees: 3,000 created" in out


def test_no_progress_bar_without_a_terminal(database: TestDatabase, tmp_path: Path) -> None:
    from tests.data_helpers import run_station

    result = run_station(database, tmp_path, "import", str(long_file(tmp_path)), "--create",
                         "--conference", "big")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_duplicate_of_a_bad_row_is_still_reported(database: TestDatabase, tmp_path: Path) -> None:
    content = (
        HEADER
        + "A-1,Ada,L,a@example.org,R-1,payed,Pass,\n"
        + "a-1,Ann,L,ann@example.org,R-3,paid,Pass,\n"
    )
    first, second = refused(database, tmp_path, content)
    assert first.startswith("line 2: unknown order_status 'payed'")
    assert second == "line 3: access_code A-1 already appears on line 2"


def test_preload_duplicate_code_names_both_lines(database: TestDatabase, tmp_path: Path) -> None:
    def twice(document: dict[str, Any]) -> None:
        attendee_in(document, "OWFPI0Y6")["access_code"] = "55r26pe3"

    report = import_into(database, preload_variant(tmp_path, twice), conference=None)
    assert [str(p) for p in report.problems] == [
        "line 72: access_code 55R26PE3 already appears on line 7"
    ]
    assert not report.written
