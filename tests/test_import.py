"""Importing attendees: the sample file, idempotence, updates in place, and every bad row.

Each test runs on SQLite and on PostgreSQL. A refused import is checked
against a dump of every table, so "nothing was written" means exactly that.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from station.domain import OrderStatus
from station.importer import ImportFileError
from station.importer.records import PRELOAD_NAMESPACE, PRELOAD_NOTE
from station.models import (
    AddOn,
    Attendee,
    Conference,
    Order,
    OrderLineItem,
    Person,
    ProductRedemption,
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


def test_preload_json_carries_over_redemptions_and_check_ins(database: TestDatabase) -> None:
    report = import_into(database, PRELOAD_JSON, conference=None)

    assert report.written and not report.problems
    assert report.counts["attendees"].created == 4
    assert report.counts["redemptions carried over"].created == 5
    assert report.counts["check-ins carried over"].created == 2
    orders = orders_of(database)
    assert orders["PL-0001"] == (
        "DP-5001",
        OrderStatus.PAID,
        {"conference-pass": 1, "lunch-day-1": 2, "meal-voucher": 3},
    )
    assert orders["PL-0002"][:2] == ("PRELOAD-PL-0002", OrderStatus.PAID)
    assert orders["PL-0003"][1] is OrderStatus.PARTIALLY_REFUNDED
    with database.sessions() as s:
        checked = dict(s.execute(select(Attendee.access_code, Attendee.checked_in_at)).all())
        assert checked["PL-0001"] == datetime(2025, 5, 14, 5, 55, tzinfo=UTC)
        assert checked["PL-0003"] == datetime(2025, 5, 14, 5, 30, tzinfo=UTC)  # generated_at
        assert checked["PL-0002"] is None
        redemptions = s.execute(
            select(ProductRedemption.client_id, ProductRedemption.note, ProductRedemption.station)
        ).all()
    expected_ids = {
        uuid.uuid5(PRELOAD_NAMESPACE, f"pycon-test:{line}:{index}")
        for line, count in (("9002", 1), ("9003", 3), ("9021", 1))
        for index in range(count)
    }
    assert {r.client_id for r in redemptions} == expected_ids
    assert {(r.note, r.station) for r in redemptions} == {(PRELOAD_NOTE, "preload")}


def test_preload_redeemed_units_cannot_be_redeemed_again(database: TestDatabase) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    redeem = RedemptionService(database.sessions).redeem_product

    with pytest.raises(FullyRedeemed):
        redeem(CTX, "PL-0001", product="meal-voucher")  # 3 of 3 used in django-program
    last_lunch = redeem(CTX, "PL-0001", product="lunch-day-1")  # 1 of 2 used there
    assert (last_lunch.redeemed, last_lunch.quantity) == (2, 2)
    with pytest.raises(FullyRedeemed):
        redeem(CTX, "PL-0001", product="lunch-day-1")
    with pytest.raises(FullyRedeemed):
        redeem(CTX, "PL-0003", product="lunch-day-1")


def test_preload_reimport_adds_nothing(database: TestDatabase) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    RedemptionService(database.sessions).redeem_product(CTX, "PL-0002", product="lunch-day-1")
    before = dump(database)

    again = import_into(database, PRELOAD_JSON, conference=None)

    assert again.written and not again.problems
    assert again.counts["redemptions carried over"].unchanged == 5
    assert again.counts["redemptions carried over"].created == 0
    assert dump(database) == before


def test_preload_more_redeemed_than_room_left_is_refused(
    database: TestDatabase, tmp_path: Path
) -> None:
    import_into(database, PRELOAD_JSON, conference=None)
    # Redeemed here before the newer preload says django-program redeemed it too.
    RedemptionService(database.sessions).redeem_product(CTX, "PL-0002", product="lunch-day-1")
    before = dump(database)
    newer = PRELOAD_JSON.read_text(encoding="utf-8").replace(
        '"quantity": 1, "addon_slug": "lunch-day-1", "redeemed": 0, "remaining": 1',
        '"quantity": 1, "addon_slug": "lunch-day-1", "redeemed": 1, "remaining": 0',
    )
    report = import_into(database, write_file(tmp_path, newer, "preload.json"), conference=None)

    assert [p.line for p in report.problems] == [26]  # PL-0002's access_code
    assert "1 redeemed here plus 1 redeemed before is more than the quantity 1" in str(
        report.problems[0]
    )
    assert dump(database) == before


def test_preload_inconsistent_remaining_is_a_bad_row(
    database: TestDatabase, tmp_path: Path
) -> None:
    bad = PRELOAD_JSON.read_text(encoding="utf-8").replace(
        '"redeemed": 1, "remaining": 1}', '"redeemed": 1, "remaining": 2}'
    )
    before = dump(database)
    report = import_into(database, write_file(tmp_path, bad, "preload.json"), conference=None)
    assert [str(p) for p in report.problems] == [
        "line 8: line item 9002: remaining 2 is not quantity 2 minus redeemed 1"
    ]
    assert dump(database) == before


def test_preload_for_another_conference_is_refused(database: TestDatabase) -> None:
    from station.services.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="is for conference 'pycon-test', not 'other'"):
        import_into(database, PRELOAD_JSON, conference="other")


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
    twice = PRELOAD_JSON.read_text(encoding="utf-8").replace('"PL-0004"', '"pl-0001"')
    report = import_into(database, write_file(tmp_path, twice, "preload.json"), conference=None)
    assert [str(p) for p in report.problems] == [
        "line 53: access_code PL-0001 already appears on line 8"
    ]
    assert not report.written
