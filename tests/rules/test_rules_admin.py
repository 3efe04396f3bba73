"""`station rules`: set, show and import event rules on both databases; bad input changes
nothing; the report's rule sections and the exports of doors."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from station.demo import seed_demo
from station.exporter import ExportFilter, export_rows, write
from station.models import AddOn, DoorClear, TicketType
from station.reading import read_connection
from station.report import build_reports
from station.services.errors import InvalidInput, Reason, RuleRefusal
from station.services.results import StationContext
from station.services.rules_admin import import_rules, set_rules, show_rules
from tests.builders import ConferenceBuilder
from tests.data_helpers import run_station
from tests.rules.clock import StationClock, services_at

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "rules.example.toml"
BERLIN = ZoneInfo("Europe/Berlin")
RULE_COLUMNS = ("slug", "daily_limit", "open_hours", "valid_dates", "reentry", "capacity")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).astimezone(UTC)


def stored_rules(database: TestDatabase) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        return [
            tuple(row)
            for model in (TicketType, AddOn)
            for row in conn.execute(
                select(*(getattr(model, c) for c in RULE_COLUMNS)).order_by(model.slug)
            )
        ]


@pytest.fixture
def conf(database: TestDatabase) -> ConferenceBuilder:
    built = ConferenceBuilder(database.sessions, slug="c1")
    built.ticket_type("day", "Day pass")
    built.addon("voucher", "Meal voucher")
    built.addon("tutorial", "Tutorial A")
    return built


@pytest.fixture
def clock(database: TestDatabase) -> Iterator[StationClock]:
    with StationClock(database) as made:
        yield made


def test_set_and_show(database: TestDatabase, conf: ConferenceBuilder) -> None:
    done = set_rules(
        database.engine, "voucher", {"daily_limit": "1", "hours": "17:00-19:00, 11:30-14:30"}
    )
    assert (done.conference, done.changed, done.dry_run) == ("c1", 1, False)
    set_rules(database.engine, "ticket:day", {"valid_dates": "2027-05-14,2027-05-13"})
    set_rules(database.engine, "tutorial", {"capacity": "40", "reentry": "after_exit"})
    set_rules(database.engine, "voucher", {"hours": "none"})  # clears one rule, keeps the rest
    shown = show_rules(database.engine)
    words = {p.product: p.words() for p in shown.with_rules}
    assert words == {
        "ticket:day": {"daily_limit": "", "hours": "", "valid_dates": "Thu 13 May, Fri 14 May",
                       "reentry": "", "capacity": ""},
        "addon:tutorial": {"daily_limit": "", "hours": "", "valid_dates": "",
                           "reentry": "re-entry only after an exit scan",
                           "capacity": "40 at most"},
        "addon:voucher": {"daily_limit": "1 a day", "hours": "", "valid_dates": "",
                          "reentry": "", "capacity": ""},
    }  # fmt: skip
    assert stored_rules(database) == [
        ("day", None, None, "2027-05-13, 2027-05-14", "unlimited", None),
        ("tutorial", None, None, None, "after_exit", 40),
        ("voucher", 1, None, None, "unlimited", None),
    ]


def test_rules_set_here_are_the_rules_stations_keep(
    database: TestDatabase, conf: ConferenceBuilder, clock: StationClock
) -> None:
    set_rules(database.engine, "voucher", {"daily_limit": "1", "hours": "11:30-14:30"})
    person = conf.attendee(addons={"voucher": 3})
    ctx = StationContext("c1", "Lunch 1", None)
    clock.set(at("2027-05-13T12:00"))
    services_at(database, clock)[1].redeem_product(ctx, person.access_code, product="voucher")
    with pytest.raises(RuleRefusal) as refused:
        services_at(database, clock)[1].redeem_product(ctx, person.access_code, product="voucher")
    assert refused.value.reason is Reason.DAILY_LIMIT
    assert refused.value.message == "Meal voucher: 1 of 1 today — next from tomorrow 11:30."


def test_import_and_dry_run(database: TestDatabase, conf: ConferenceBuilder) -> None:
    set_rules(database.engine, "tutorial", {"capacity": "2"})
    document = """
        [voucher]
        daily_limit = 1
        hours = ["11:30-14:30", "17:00-19:00"]

        ["ticket:day"]
        valid_dates = [2027-05-13, "2027-05-14"]
    """
    dry = import_rules(database.engine, document, dry_run=True)
    assert (dry.dry_run, dry.changed) == (True, 2)
    assert stored_rules(database) == [
        ("day", None, None, None, "unlimited", None),
        ("tutorial", None, None, None, "unlimited", 2),
        ("voucher", None, None, None, "unlimited", None),
    ]
    done = import_rules(database.engine, document)
    assert done.changed == 2 and [c.after.product for c in done.changes] == [
        "addon:voucher",
        "ticket:day",
    ]
    assert stored_rules(database) == [
        ("day", None, None, "2027-05-13, 2027-05-14", "unlimited", None),
        ("tutorial", None, None, None, "unlimited", 2),  # not named: kept
        ("voucher", 1, "11:30-14:30, 17:00-19:00", None, "unlimited", None),
    ]
    again = import_rules(database.engine, document)
    assert again.changed == 0
    cleared = import_rules(database.engine, "[voucher]\n")  # an empty table: no rules
    assert cleared.changed == 1
    assert stored_rules(database)[2] == ("voucher", None, None, None, "unlimited", None)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[voucher]\ndaily_limit = 1\n[nope]\ncapacity = 1\n",
         "There is no product 'nope' in conference 'c1'; nothing was changed"),
        ("[voucher\ndaily_limit = 1\n", "The rules file is not valid TOML: "),
        ("[voucher]\ndaily_limit = 1\n\x00",
         "The rules file is not valid TOML: Invalid statement (at line 3"),
        ('[voucher]\nhours = "11:30-14:30\x00"\n', "The rules file is not valid TOML"),
        ("[voucher]\nhours = " + "[" * 5000 + "]" * 5000 + "\n",
         "The rules file is not valid: its values nest too deeply."),
        ("[voucher]\ndaily_limit = 1\n[tutorial]\ncapacity = 99999999999999999999999\n",
         "addon:tutorial capacity: The capacity must be a whole number from 0 to 1,000,000."),
        ("[tutorial]\ncapacity = -1\n", "addon:tutorial capacity: The capacity must be a whole"),
        ("[tutorial]\ncapacity = true\n", "addon:tutorial capacity: Give a whole number"),
        ('[tutorial]\ncapacity = "١٢"\n', "addon:tutorial capacity: Give a whole number"),
        ('[voucher]\nhours = "11:30-25:00"\n', "addon:voucher hours: '11:30-25:00' is not a time"),
        ('[voucher]\nhours = "14:30-11:30"\n', "addon:voucher hours: '14:30-11:30' ends before"),
        ('[voucher]\nvalid_dates = ["2027-02-30"]\n', "addon:voucher valid_dates: Valid dates are"),
        ('[voucher]\nreentry = "sometimes"\n', "addon:voucher reentry: Re-entry is one of"),
        ("[voucher]\nseats = 3\n", "addon:voucher seats: Unknown rule 'seats'"),
        ("voucher = 3\n", "'voucher' must be a table of rules"),
        ("", "The rules file names no product"),
        ("[voucher]\n[addon.voucher]\n", "There is no product 'addon'"),
        ('[voucher]\n["addon:voucher"]\n', "The rules file names addon:voucher twice."),
    ],
)  # fmt: skip
def test_bad_imports_change_nothing(
    database: TestDatabase, conf: ConferenceBuilder, document: str, message: str
) -> None:
    set_rules(database.engine, "tutorial", {"capacity": "2"})
    before = stored_rules(database)
    with pytest.raises(InvalidInput) as refused:
        import_rules(database.engine, document)
    assert refused.value.message.startswith(message), refused.value.message
    assert "\n" not in refused.value.message
    assert stored_rules(database) == before


@pytest.mark.parametrize(
    ("product", "texts", "message"),
    [
        ("nope", {"capacity": "1"}, "There is no product 'nope' in conference 'c1'"),
        ("voucher\x00", {"capacity": "1"}, "'voucher' is not a product slug."),
        ("voucher", {"capacity": "1" * 40}, "addon:voucher capacity: The capacity must be"),
        ("voucher", {"daily_limit": "²"}, "addon:voucher daily_limit: The daily limit must be"),
        ("voucher", {"daily_limit": "1.5"}, "addon:voucher daily_limit: The daily limit must be"),
        ("voucher", {"hours": "lunch"}, "addon:voucher hours: Opening hours are windows"),
        ("voucher", {}, "Say which rules to set"),
        ("shared", {"capacity": "1"}, "Both a ticket type and an add-on are called 'shared'"),
    ],
)
def test_bad_settings_change_nothing(
    database: TestDatabase,
    conf: ConferenceBuilder,
    product: str,
    texts: dict[str, str],
    message: str,
) -> None:
    conf.ticket_type("shared")
    conf.addon("shared")
    set_rules(database.engine, "tutorial", {"capacity": "2"})
    before = stored_rules(database)
    with pytest.raises(InvalidInput) as refused:
        set_rules(database.engine, product, {**texts, "reentry": "once"} if texts else {})
    assert refused.value.message.startswith(message), refused.value.message
    assert stored_rules(database) == before
    assert set_rules(database.engine, "addon:shared", {"capacity": "3"}).changed == 1


def test_several_conferences_need_one_named(
    database: TestDatabase, conf: ConferenceBuilder
) -> None:
    ConferenceBuilder(database.sessions, slug="c2").addon("voucher")
    with pytest.raises(InvalidInput, match=r"--conference \(this database has: c1, c2\)"):
        set_rules(database.engine, "voucher", {"capacity": "1"})
    assert set_rules(database.engine, "voucher", {"capacity": "1"}, conference="c2").changed
    with pytest.raises(InvalidInput, match="Conference 'c3' does not exist"):
        show_rules(database.engine, "c3")


# --- the command, on the demo's products ------------------------------------------------


def test_the_example_file_imports_into_the_demo(database: TestDatabase, tmp_path: Path) -> None:
    seed_demo(database.engine, attendees=20)
    dry = run_station(database, tmp_path, "rules", "import", str(EXAMPLE), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "nothing was written. Would change 6 products." in dry.stdout
    before = run_station(database, tmp_path, "rules", "show").stdout
    assert "addon:meal-voucher" in before and "addon:lunch-day-1" not in before  # the demo's own
    done = run_station(database, tmp_path, "rules", "import", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    shown = run_station(database, tmp_path, "rules", "show")
    assert shown.returncode == 0, shown.stderr
    expected = (
        "addon:meal-voucher", "1 a day", "11:30–14:30", "Mon 15 Jun",
        "addon:tutorial-sqlalchemy", " 40 ", "after exit", "once", "ticket:student",
    )  # fmt: skip
    for words in expected:
        assert words in shown.stdout, (words, shown.stdout)
    assert "ticket:general" not in shown.stdout  # no rules: listed with --all only
    assert "ticket:general" in run_station(database, tmp_path, "rules", "show", "--all").stdout

    changed = run_station(database, tmp_path, "rules", "set", "meal-voucher", "--daily-limit",
                          "2", "--hours", "none")  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert "changed 1 product." in changed.stdout
    before = stored_rules(database)
    for args, words in (
        (("set", "meal-voucher", "--capacity", "12x"), "addon:meal-voucher capacity: The capac"),
        (("set", "lunch", "--capacity", "1"), "There is no product 'lunch' in conference"),
        (("set", "social", "--reentry", "twice"), "Invalid value for '--reentry'"),
        (("import", str(tmp_path / "missing.toml")), "cannot read"),
    ):
        refused = run_station(database, tmp_path, "rules", *args)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode == 2 and len(lines) == 1, refused
        assert lines[0].startswith(f"station: {words}"), lines
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"[social]\ncapacity = 1\n\xff\xfe")
    refused = run_station(database, tmp_path, "rules", "import", str(binary))
    assert refused.stderr == "station: binary.toml is not UTF-8 text; nothing was changed.\n"
    assert stored_rules(database) == before


# --- the report and the exports ------------------------------------------------------------


def test_report_shows_rooms_days_and_rule_refusals(
    database: TestDatabase, conf: ConferenceBuilder, clock: StationClock, tmp_path: Path
) -> None:
    set_rules(database.engine, "voucher", {"daily_limit": "1"})
    set_rules(database.engine, "tutorial", {"capacity": "1"})
    eater = conf.attendee(addons={"voucher": 3})
    first, second = (conf.attendee(addons={"tutorial": 1}) for _ in range(2))
    lunch, room = StationContext("c1", "Lunch", None), StationContext("c1", "Room A", None)

    clock.set(at("2027-05-13T23:50"))  # late on day 1, Berlin time: 21:50 UTC
    meals = services_at(database, clock)[1]
    meals.redeem_product(lunch, eater.access_code, product="voucher")
    with pytest.raises(RuleRefusal):
        meals.redeem_product(lunch, eater.access_code, product="voucher")
    clock.set(at("2027-05-14T00:10"))  # day 2 (still 13 May in UTC)
    services_at(database, clock)[1].redeem_product(lunch, eater.access_code, product="voucher")
    door = services_at(database, clock)[0]
    door.record_door_check(room, first.access_code, product="addon:tutorial")
    with pytest.raises(RuleRefusal):
        door.record_door_check(room, second.access_code, product="addon:tutorial")
    door.record_door_check(room, first.access_code, product="addon:tutorial", direction="out")

    [report] = build_reports(database.engine, "c1")
    assert [(d.product, d.inside, d.capacity) for d in report.doors] == [("addon:tutorial", 0, 1)]
    assert [(f.day, f.product, f.redeemed) for f in report.redeemed_by_day] == [
        (date(2027, 5, 13), "addon:voucher", 1),
        (date(2027, 5, 14), "addon:voucher", 1),
    ]
    assert report.rule_refusals == {"daily_limit": 1, "full": 1}
    data = report.as_dict()
    assert data["redeemed_by_day"][0] == {
        "day": "2027-05-13", "product": "addon:voucher", "name": "Meal voucher", "redeemed": 1
    }  # fmt: skip
    assert data["doors"] == [
        {"product": "addon:tutorial", "name": "Tutorial A", "inside": 0, "capacity": 1}
    ]
    assert data["rule_refusals"] == {"daily_limit": 1, "full": 1}

    shown = run_station(database, tmp_path, "report", "--conference", "c1")
    assert shown.returncode == 0, shown.stderr
    for words in ("Doors: inside now", "Tutorial A", "Redeemed per day (Europe/Berlin)",
                  "Thu 13 May", "Fri 14 May", "Refused by an event rule", "daily_limit",
                  "Enough for today", "Room full"):  # fmt: skip
        assert words in shown.stdout, (words, shown.stdout)
    as_json = json.loads(run_station(database, tmp_path, "report", "--json").stdout)
    assert as_json["conferences"][0]["rule_refusals"] == {"daily_limit": 1, "full": 1}


def export(database: TestDatabase, kind: str, **filters: Any) -> list[dict[str, str]]:
    out = io.StringIO()
    with read_connection(database.engine) as conn:
        write(export_rows(conn, kind, ExportFilter(**filters)), out, "csv")
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_exports_say_the_direction_and_list_door_clears(
    database: TestDatabase, conf: ConferenceBuilder, clock: StationClock, tmp_path: Path
) -> None:
    person = conf.attendee(addons={"tutorial": 1})
    room = StationContext("c1", "Room A", None)
    clock.set(at("2027-05-13T10:00"))
    door = services_at(database, clock)[0]
    door.record_door_check(room, person.access_code, product="addon:tutorial")
    door.record_door_check(room, person.access_code, product="addon:tutorial", direction="out")
    rows = export(database, "door-checks")
    assert [(r["product"], r["direction"]) for r in rows] == [
        ("addon:tutorial", "in"),
        ("addon:tutorial", "out"),
    ]
    tutorial = conf.addon("tutorial")
    client_id = uuid.uuid4()
    with database.sessions.begin() as s:
        s.add(
            DoorClear(client_id=client_id, conference_id=conf.conference_id, addon_id=tutorial,
                      cleared_at=at("2027-05-13T18:00"), station="Room A", inside=3)
        )  # fmt: skip
    cleared = export(database, "door-clears", product="tutorial")
    assert cleared == [
        {"cleared_at": "2027-05-13T16:00:00Z", "conference": "c1", "station": "Room A",
         "operator": "", "product": "addon:tutorial", "product_name": "Tutorial A",
         "inside": "3", "client_at": "", "client_id": str(client_id)}
    ]  # fmt: skip
    assert export(database, "door-clears", product="ticket:day") == []
    command = run_station(database, tmp_path, "export", "door-clears", "--format", "jsonl")
    assert command.returncode == 0, command.stderr
    assert json.loads(command.stdout)["inside"] == 3
