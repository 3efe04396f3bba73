"""The report's numbers after real scans, its safe rendering, and the data commands end to end."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rich.console import Console
from sqlalchemy import select

from station.dbadmin import shown_url
from station.models import AddOn, Attendee, OrderLineItem
from station.report import ConferenceReport, build_reports, render
from station.services import CheckInService, RedemptionService
from station.services.errors import FullyRedeemed, NotEligible
from station.services.results import StationContext
from station.services.store import ConflictReport
from tests.builders import ConferenceBuilder
from tests.data_helpers import (
    CONFERENCE,
    HEADER,
    SAMPLE_CSV,
    import_into,
    run_station,
    station_command,
    station_env,
    write_file,
)

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


def scan_a_morning(db: TestDatabase) -> None:
    """Check-ins at two desks, a lunch line, a door; refusals of three kinds."""
    checkin = CheckInService(db.sessions)
    redemption = RedemptionService(db.sessions)
    desk1 = StationContext(CONFERENCE, "Desk 1")
    desk2 = StationContext(CONFERENCE, "Desk 2")
    lunch = StationContext(CONFERENCE, "Lunch line")
    checkin.check_in(desk1, "AB12-CD34")
    checkin.check_in(desk1, "NP34-QR56")
    checkin.check_in(desk2, "EF56-GH78")
    checkin.check_in(desk2, "AB12-CD34")  # re-entry: a check-in, not a new arrival
    with pytest.raises(NotEligible):
        checkin.check_in(desk1, "WX12-YZ34")  # refunded
    with pytest.raises(NotEligible):
        checkin.check_in(desk2, "CC33-DD44")  # no order
    redemption.redeem_product(lunch, "AB12-CD34", product="lunch-day-1")
    redemption.redeem_product(lunch, "JK90-LM12", product="meal-voucher")
    redemption.redeem_product(lunch, "JK90-LM12", product="meal-voucher")
    with pytest.raises(FullyRedeemed):
        redemption.redeem_product(lunch, "AB12-CD34", product="lunch-day-1")
    checkin.record_door_check(
        StationContext(CONFERENCE, "Tutorial room"), "AB12-CD34", product="addon:tutorial-ticket"
    )


EXPECTED = {
    "conference": CONFERENCE,
    "name": "PyCon Test",
    "timezone": "Europe/Berlin",
    "attendees": 10,
    "active_orders": 6,  # paid or partially refunded
    "checked_in": 3,
    "checked_in_active": 3,
    "checked_in_percent": 50.0,
    "tickets": [
        {"slug": "conference-pass", "name": "Conference Pass", "purchased": 4, "checked_in": 3},
        {"slug": "speaker", "name": "Speaker", "purchased": 1, "checked_in": 0},
        {"slug": "student", "name": "Student", "purchased": 1, "checked_in": 0},
    ],
    "products": [
        {"slug": "lunch-day-1", "name": "Lunch Day 1", "purchased": 5, "redeemed": 1,
         "remaining": 4},
        {"slug": "lunch-day-2", "name": "Lunch Day 2", "purchased": 4, "redeemed": 0,
         "remaining": 4},
        {"slug": "meal-voucher", "name": "Meal voucher", "purchased": 5, "redeemed": 2,
         "remaining": 3},
        {"slug": "tutorial-ticket", "name": "Tutorial Ticket", "purchased": 1, "redeemed": 0,
         "remaining": 1},
    ],
    "stations": [
        {"station": "Desk 1", "check_ins": 2, "redemptions": 0, "door_checks": 0, "refused": 1},
        {"station": "Desk 2", "check_ins": 2, "redemptions": 0, "door_checks": 0, "refused": 1},
        {"station": "Lunch line", "check_ins": 0, "redemptions": 3, "door_checks": 0,
         "refused": 1},
        {"station": "Tutorial room", "check_ins": 0, "redemptions": 0, "door_checks": 1,
         "refused": 0},
    ],
    "refused": {"fully_redeemed": 1, "no_order": 1, "refunded": 1},
    "voided": {},
    "conflicts": [],
    "offline_overspends": 0,
    "offline_conflicts": 0,
    "doors": [
        {"product": "addon:tutorial-ticket", "name": "Tutorial Ticket", "inside": 1,
         "capacity": None},
    ],
    # Days checked apart (the clock is real): see without_times.
    "redeemed_by_day": [
        {"product": "addon:lunch-day-1", "name": "Lunch Day 1", "redeemed": 1},
        {"product": "addon:meal-voucher", "name": "Meal voucher", "redeemed": 2},
    ],
    "rule_refusals": {},
}  # fmt: skip


def without_clock(report: ConferenceReport) -> dict[str, object]:
    return without_times(report.as_dict())


def without_times(data: dict[str, object]) -> dict[str, object]:
    """The report's figures; its times checked: UTC, and the same in conference time."""
    utc, local = data.pop("generated_at"), data.pop("generated_at_local")
    assert isinstance(utc, str) and isinstance(local, str) and utc.endswith("Z")
    assert local.endswith("+01:00")  # Europe/Berlin in winter (the clock is real)
    assert datetime.fromisoformat(utc) == datetime.fromisoformat(local)
    today = datetime.fromisoformat(local).date()
    for figure in data.get("redeemed_by_day", []):  # type: ignore[attr-defined]
        # The conference day (Berlin) of scans made just before the report.
        assert (today - date.fromisoformat(figure.pop("day"))).days in (0, 1)
    return data


def test_report_numbers_after_a_morning_of_scans(database: TestDatabase) -> None:
    import_into(database, SAMPLE_CSV)
    scan_a_morning(database)

    [report] = build_reports(database.engine, CONFERENCE)

    assert without_clock(report) == EXPECTED


def test_report_names_both_stations_of_an_offline_overspend(database: TestDatabase) -> None:
    import_into(database, SAMPLE_CSV)
    redemption = RedemptionService(database.sessions)
    lunch_a = StationContext(CONFERENCE, "Lunch A")
    given = redemption.redeem_product(lunch_a, "AB12-CD34", product="lunch-day-1")
    with database.sessions() as s:
        attendee = s.scalars(select(Attendee).where(Attendee.access_code == "AB12-CD34")).one()
        line = s.scalars(
            select(OrderLineItem.id)
            .join(AddOn, AddOn.id == OrderLineItem.addon_id)
            .where(OrderLineItem.order_id == attendee.order_id, AddOn.slug == "lunch-day-1")
        ).one()
    offline_at = datetime(2025, 5, 14, 10, 15, tzinfo=UTC)  # 12:15 in Berlin
    lunch_b = StationContext(CONFERENCE, "Lunch B (offline)")
    for report in (
        ConflictReport(uuid.uuid4(), "overspend", "redeem", "AB12-CD34", attendee.id, line,
                       None, offline_at, "fully_redeemed", "Already redeemed"),
        ConflictReport(uuid.uuid4(), "conflict", "checkin", "NOPE-0000", None, None, None,
                       offline_at, "not_found", "Unknown badge"),
    ):  # fmt: skip
        assert redemption.record_conflict(lunch_b, report)

    [built] = build_reports(database.engine, CONFERENCE)
    assert (built.offline_overspends, built.offline_conflicts) == (1, 1)
    data = json.loads(json.dumps(built.as_dict()))
    assert data["offline_overspends"] == 1 and data["offline_conflicts"] == 1
    overspend = data["conflicts"][0]
    assert overspend["kind"] == "overspend" and overspend["station"] == "Lunch B (offline)"
    assert overspend["other_station"] == "Lunch A"
    assert overspend["client_at"] == "2025-05-14T10:15:00Z"
    assert datetime.fromisoformat(overspend["other_at"]) == given.redeemed_at
    assert overspend["product"] == "Lunch Day 1" and overspend["reason"] == "fully_redeemed"

    console = Console(record=True, width=200, file=io.StringIO())
    console.print(render(built))
    shown = console.export_text()
    assert "Offline overspends: 1  conflicts: 1" in shown
    row = next(line for line in shown.splitlines() if "│ overspend" in line)
    assert "Ada Lovelace" in row and "Lunch Day 1" in row and "Lunch A" in row
    assert "Lunch B (offline)" in row
    assert "Already redeemed" in row  # the reason in the station's words
    after = shown.splitlines()[shown.splitlines().index(row) + 1]
    assert "Wed 14 12:15:00" in after  # the offline scan's time, in the event's zone
    assert "unknown badge NOPE-0000" in shown


def test_report_of_an_empty_conference(database: TestDatabase) -> None:
    ConferenceBuilder(database.sessions, slug="empty-con")
    [report] = build_reports(database.engine)
    assert (report.attendees, report.checked_in, report.checked_in_percent) == (0, 0, None)
    assert report.products == report.stations == () and report.refused == {}


def test_report_renders_untrusted_names_as_text(database: TestDatabase, tmp_path: Path) -> None:
    content = HEADER + 'A-1,Ada,L,a@example.org,R-1,paid,[bold]VIP[/],"[/]Lunch\x1b[2J\x07:1"\n'
    import_into(database, write_file(tmp_path, content))
    CheckInService(database.sessions).check_in(StationContext(CONFERENCE, "[red]Desk[/red]"), "A-1")
    [report] = build_reports(database.engine, CONFERENCE)
    console = Console(record=True, width=120, file=io.StringIO())

    console.print(render(report))  # a MarkupError here would fail the test

    shown = console.export_text()
    assert "[bold]VIP[/]" in shown
    assert "[/]Lunch[2J" in shown and "\x1b" not in shown and "\x07" not in shown
    assert "[red]Desk[/red]" in shown
    assert "100.0% of 1 with an active order" in shown


# --- the commands, as real processes ------------------------------------------------------


def test_cli_import_report_export(database: TestDatabase, tmp_path: Path) -> None:
    imported = run_station(
        database,
        tmp_path,
        "import",
        str(SAMPLE_CSV),
        "--conference",
        CONFERENCE,
        "--create",
        "--name",
        "PyCon Test",
        "--timezone",
        "Europe/Berlin",
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[:3] == [
        "Imported attendees.csv into pycon-test (conference created):",
        "  rows read: 10",
        "  attendees: 10 created, 0 unchanged",
    ]
    scan_a_morning(database)

    reported = run_station(database, tmp_path, "report", "--json", "--conference", CONFERENCE)
    assert reported.returncode == 0, reported.stderr
    document = json.loads(reported.stdout)
    assert document["database"] == shown_url(database.settings)
    [data] = document["conferences"]
    assert without_times(data) == EXPECTED

    exported = run_station(
        database, tmp_path, "export", "redemptions", "--product", "meal-voucher", "-o", "out.csv"
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr.strip() == "Exported 2 redemptions rows to out.csv."
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [(r["access_code"], r["product"], r["station"]) for r in rows] == [
        ("JK90-LM12", "addon:meal-voucher", "Lunch line")
    ] * 2

    as_json = run_station(database, tmp_path, "export", "checkins", "--format", "jsonl")
    assert as_json.returncode == 0, as_json.stderr
    codes = [json.loads(line)["access_code"] for line in as_json.stdout.splitlines()]
    assert sorted(codes) == ["AB12-CD34", "AB12-CD34", "EF56-GH78", "NP34-QR56"]

    table = run_station(database, tmp_path, "report")
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(f"Database: {shown_url(database.settings)}\n")
    assert "PyCon Test (pycon-test)" in table.stdout
    assert "50.0% of 6 with an active order" in table.stdout
    assert "(Europe/Berlin, the conference's time zone)" in table.stdout
    # Refusals in the station's words, not as codes.
    for words in ("Already redeemed", "No order", "Order refunded"):
        assert words in table.stdout
    assert "fully_redeemed" not in table.stdout and "no_order" not in table.stdout


def test_cli_bad_rows_are_listed_and_nothing_is_imported(
    database: TestDatabase, tmp_path: Path
) -> None:
    content = (
        HEADER
        + "A-1,Ada,L,a@example.org,R-1,paid,Pass,Lunch:x\n"
        + "A-2,Bob,B,b@example.org,R-2,paid,Pass,\n"
        + "A-2,Cy,C,c@example.org,R-3,paid,Pass,\n"
    )
    path = write_file(tmp_path, content)
    result = run_station(database, tmp_path, "import", str(path), "--conference", "x", "--create")

    assert result.returncode == 2  # input problems exit 2, as the README says
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "attendees.csv line 2: quantity of add-on 'Lunch' must be a whole number, not 'x'",
        "attendees.csv line 4: access_code A-2 already appears on line 3",
        "station: 2 bad rows in attendees.csv; nothing was imported "
        "(fix them, or use --skip-bad-rows to import the rest).",
    ]
    report = run_station(database, tmp_path, "report", "--json")
    assert json.loads(report.stdout)["conferences"] == []


def test_cli_wrong_delimiter_is_one_clear_line(database: TestDatabase, tmp_path: Path) -> None:
    path = write_file(tmp_path, HEADER.replace(",", "\t") + "A-1\tAda\tL\t\t\t\t\t\n")
    result = run_station(database, tmp_path, "import", str(path), "--conference", "x", "--create")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "station: attendees.csv line 1: the file is separated by tabs, not commas; "
        "export it again as comma-separated CSV; nothing was imported."
    ]


def test_cli_dry_run_writes_nothing(database: TestDatabase, tmp_path: Path) -> None:
    args = ("import", str(SAMPLE_CSV), "--conference", CONFERENCE, "--create", "--dry-run")
    result = run_station(database, tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "Dry run of attendees.csv into pycon-test: nothing was written. Would be:\n"
        "  rows read: 10\n  attendees: 10 created, 0 unchanged\n"
    )
    reported = json.loads(run_station(database, tmp_path, "report", "--json").stdout)
    assert reported["conferences"] == []


def test_cli_report_watch_stops_cleanly_on_ctrl_c(database: TestDatabase, tmp_path: Path) -> None:
    import_into(database, SAMPLE_CSV)
    process = subprocess.Popen(
        [*station_command(), "report", "--watch", "--interval", "1"],
        cwd=tmp_path,
        env=station_env(database, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(4)  # start-up plus a couple of refreshes
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Traceback" not in err and "Aborted" not in err
    assert "PyCon Test (pycon-test)" in out and "Ctrl-C to stop" in out
