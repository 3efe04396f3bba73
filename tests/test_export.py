"""Exports: import -> scan through the services -> export, every field checked, both databases."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from station.exporter import ExportFilter, export_rows, parse_time, write
from station.models import OfflineConflict, ProductRedemption, ScanLog, utcnow
from station.reading import read_connection
from station.services import CheckInService, RedemptionService
from station.services.errors import InvalidInput, NotEligible
from station.services.results import (
    CheckInResult,
    DoorCheckResult,
    RedemptionResult,
    StationContext,
)
from station.services.store import ConflictReport
from tests.builders import ConferenceBuilder
from tests.data_helpers import CONFERENCE, HEADER, SAMPLE_CSV, import_into, write_file

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


def export(db: TestDatabase, kind: str, fmt: str = "csv", **filters: Any) -> str:
    out = io.StringIO()
    with read_connection(db.engine) as conn:
        write(export_rows(conn, kind, ExportFilter(**filters)), out, fmt)
    return out.getvalue()


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Clock:
    """A settable service clock, so exported times are known to the microsecond."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Scanned:
    check_in: CheckInResult
    redemption: RedemptionResult
    door: DoorCheckResult
    refusal: NotEligible
    times: list[datetime]


@pytest.fixture
def scanned(database: TestDatabase) -> Scanned:
    """The sample imported; one check-in, one lunch, one door check, one refused check-in."""
    import_into(database, SAMPLE_CSV)
    builder = ConferenceBuilder(database.sessions, slug=CONFERENCE)
    ana, bob = builder.staff("Ana"), builder.staff("Bob")
    clock = Clock(datetime(2025, 5, 14, 6, 0, 0, 123456, tzinfo=UTC))
    checkin = CheckInService(database.sessions, clock=clock)
    redemption = RedemptionService(database.sessions, clock=clock)
    desk = StationContext(CONFERENCE, "Desk 1", ana)
    lunch = StationContext(CONFERENCE, "Lunch line", bob)
    door = StationContext(CONFERENCE, "Tutorial room", None)

    # The recorded times are the ones the services answer with: the station's clock on
    # SQLite, the server's on PostgreSQL (migration 0008), where they are a few ms apart.
    first = checkin.check_in(desk, "ab12-cd34")
    clock.advance(hours=4)
    meal = redemption.redeem_product(lunch, "AB12-CD34", product="lunch-day-1")
    clock.advance(hours=1)
    admitted = checkin.record_door_check(door, "AB12-CD34", product="addon:tutorial-ticket")
    clock.advance(minutes=5)
    with pytest.raises(NotEligible) as refused:
        checkin.check_in(desk, "WX12-YZ34")  # refunded order
    with database.sessions() as session:
        refused_at = session.scalars(
            select(ScanLog.scanned_at).where(ScanLog.outcome == "refused")
        ).one()
    times = [first.checked_in_at, meal.redeemed_at, admitted.checked_at, refused_at]
    return Scanned(first, meal, admitted, refused.value, times)


def test_round_trip_checkins(database: TestDatabase, scanned: Scanned) -> None:
    for fmt, parse in FORMATS.items():
        assert parse(export(database, "checkins", fmt)) == [
            {
                "checked_in_at": iso(scanned.times[0]),
                "conference": CONFERENCE,
                "access_code": "AB12-CD34",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "station": "Desk 1",
                "operator": "Ana",
                "note": "",
                "client_id": str(scanned.check_in.client_id),
                "voided_at": as_format(None, fmt),
            }
        ], fmt


def test_round_trip_redemptions(database: TestDatabase, scanned: Scanned) -> None:
    for fmt, parse in FORMATS.items():
        assert parse(export(database, "redemptions", fmt)) == [
            {
                "redeemed_at": iso(scanned.times[1]),
                "conference": CONFERENCE,
                "access_code": "AB12-CD34",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "station": "Lunch line",
                "operator": "Bob",
                "product": "addon:lunch-day-1",
                "product_name": "Lunch Day 1",
                "order_reference": "ORD-1001",
                "line_item_id": as_format(scanned.redemption.line_item_id, fmt),
                "source_line_id": as_format(None, fmt),  # not imported from django-program
                "note": "",
                "client_id": str(scanned.redemption.client_id),
                "voided_at": as_format(None, fmt),
            }
        ], fmt


def test_round_trip_door_checks(database: TestDatabase, scanned: Scanned) -> None:
    for fmt, parse in FORMATS.items():
        assert parse(export(database, "door-checks", fmt)) == [
            {
                "checked_at": iso(scanned.times[2]),
                "conference": CONFERENCE,
                "access_code": "AB12-CD34",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "station": "Tutorial room",
                "operator": as_format(None, fmt),
                "product": "addon:tutorial-ticket",
                "product_name": "Tutorial Ticket",
                "direction": "in",
                "client_id": str(scanned.door.client_id),
                "voided_at": as_format(None, fmt),
            }
        ], fmt


def test_round_trip_scan_log(database: TestDatabase, scanned: Scanned) -> None:
    rows = csv_rows(export(database, "scan-log"))
    assert [
        (r["scanned_at"], r["station"], r["operator"], r["action"], r["outcome"], r["reason"])
        for r in rows
    ] == [
        (iso(scanned.times[0]), "Desk 1", "Ana", "checkin", "accepted", "ok"),
        (iso(scanned.times[1]), "Lunch line", "Bob", "redeem", "accepted", "ok"),
        (iso(scanned.times[2]), "Tutorial room", "", "door", "accepted", "ok"),
        (iso(scanned.times[3]), "Desk 1", "Ana", "checkin", "refused", "refunded"),
    ]
    refused = rows[-1]
    assert refused["conference"] == CONFERENCE
    assert (refused["code"], refused["access_code"]) == ("WX12-YZ34", "WX12-YZ34")
    assert (refused["first_name"], refused["last_name"]) == ("Margaret", "Hamilton")
    assert refused["message"] == scanned.refusal.message
    assert [r["code"] for r in rows[:3]] == ["AB12-CD34"] * 3


def as_format(value: Any, fmt: str) -> Any:
    """What a value looks like after a CSV (text) or JSON (typed) round trip."""
    if fmt == "csv":
        return "" if value is None else str(value)
    return value


def _json_array(text: str) -> list[dict[str, Any]]:
    data = json.loads(text)
    assert isinstance(data, list)
    return data


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


FORMATS: dict[str, Callable[[str], list[dict[str, Any]]]] = {
    "csv": csv_rows,
    "json": _json_array,
    "jsonl": _json_lines,
}


# --- filters ---------------------------------------------------------------------------


def test_filters_by_station_and_product(database: TestDatabase, scanned: Scanned) -> None:
    assert len(csv_rows(export(database, "scan-log", station="Desk 1"))) == 2
    assert len(csv_rows(export(database, "redemptions", product="lunch-day-1"))) == 1
    assert len(csv_rows(export(database, "redemptions", product="addon:lunch-day-1"))) == 1
    assert csv_rows(export(database, "redemptions", product="lunch-day-2")) == []
    assert len(csv_rows(export(database, "door-checks", product="tutorial-ticket"))) == 1
    with pytest.raises(InvalidInput, match="no product 'ticket:tutorial-ticket'"):  # an add-on
        export(database, "door-checks", product="ticket:tutorial-ticket")
    with pytest.raises(InvalidInput, match="--product does not apply to checkins"):
        export(database, "checkins", product="lunch-day-1")


def test_a_product_nobody_sells_is_refused(database: TestDatabase, scanned: Scanned) -> None:
    with pytest.raises(InvalidInput, match="There is no product 'nope'; nothing was exported"):
        export(database, "redemptions", product="nope")
    with pytest.raises(InvalidInput, match="no product 'ticket:lunch-day-1'"):
        export(database, "door-checks", product="ticket:lunch-day-1")
    with pytest.raises(InvalidInput, match="in conference 'other'"):
        export(database, "redemptions", product="lunch-day-1", conference="other")


def test_a_closed_pipe_is_a_normal_end(
    database: TestDatabase, scanned: Scanned, tmp_path: Path
) -> None:
    """`station export checkins | head -1`: the reader leaving early is not an error."""
    import subprocess

    from tests.data_helpers import station_command, station_env

    process = subprocess.Popen(
        [*station_command(), "export", "checkins"],
        cwd=tmp_path,
        env=station_env(database, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()  # before the command has written a byte
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (0, "")


def test_times_without_offset_are_conference_time(database: TestDatabase, scanned: Scanned) -> None:
    # Europe/Berlin is UTC+2 in May: 08:00 there is 06:00Z.
    assert parse_time("2025-05-14T08:00:01", "Europe/Berlin") == datetime(
        2025, 5, 14, 6, 0, 1, tzinfo=UTC
    )
    # Between the check-in and the refusal, written as Berlin's local time without offset.
    berlin = ZoneInfo("Europe/Berlin")
    after_check_in = scanned.times[0].astimezone(berlin) + timedelta(microseconds=1)
    since = parse_time(after_check_in.replace(tzinfo=None).isoformat(), "Europe/Berlin")
    until = parse_time(
        (scanned.times[3] - timedelta(microseconds=1)).astimezone(berlin).isoformat(), None
    )
    rows = csv_rows(export(database, "scan-log", since=since, until=until))
    assert [r["action"] for r in rows] == ["redeem", "door"]
    with pytest.raises(InvalidInput, match="no UTC offset and there is more than one conference"):
        parse_time("2025-05-14T08:00", None)
    with pytest.raises(InvalidInput, match="is not an ISO time"):
        parse_time("yesterday", "UTC")


def test_empty_exports_are_still_well_formed(database: TestDatabase) -> None:
    assert export(database, "checkins").splitlines() == [
        "checked_in_at,conference,access_code,first_name,last_name,station,operator,note,client_id,"
        "voided_at"
    ]
    assert json.loads(export(database, "checkins", "json")) == []
    assert export(database, "checkins", "jsonl") == ""


# --- untrusted text --------------------------------------------------------------------


def test_csv_cells_that_look_like_formulas_are_defused(
    database: TestDatabase, tmp_path: Path
) -> None:
    content = (
        HEADER
        + 'EVIL-1,"=HYPERLINK(""http://x.example"",""win"")",@SUM(A1),'
        + "-1+1@example.org,R-1,paid,Pass,\n"
    )
    import_into(database, write_file(tmp_path, content))
    CheckInService(database.sessions).check_in(StationContext(CONFERENCE, "+Desk\x1b[2J"), "EVIL-1")
    [row] = csv_rows(export(database, "checkins"))
    assert row["first_name"] == '\'=HYPERLINK("http://x.example","win")'
    assert row["last_name"] == "'@SUM(A1)"
    assert row["station"] == "'+Desk[2J"  # and the escape character is gone
    [obj] = json.loads(export(database, "checkins", "json"))
    assert obj["first_name"] == '=HYPERLINK("http://x.example","win")'  # JSON is not a sheet


# --- streaming -------------------------------------------------------------------------


def test_exports_stream_in_batches(database: TestDatabase) -> None:
    """A server-side cursor with yield_per: the rows are never all in memory at once."""
    from sqlalchemy import insert

    from station.models import CheckIn

    import_into(database, SAMPLE_CSV)
    with database.engine.begin() as conn:
        attendee_id = conn.exec_driver_sql("SELECT min(id) FROM attendee").scalar_one()
        conference_id = conn.exec_driver_sql("SELECT id FROM conference").scalar_one()
        start = utcnow()
        conn.execute(
            insert(CheckIn),
            [
                {
                    "client_id": uuid.uuid4(),
                    "attendee_id": attendee_id,
                    "conference_id": conference_id,
                    "checked_in_at": start + timedelta(seconds=n),
                    "station": f"Desk {n % 3}",
                }
                for n in range(2500)
            ],
        )
    seen: list[dict[str, Any]] = []

    def spy(_conn: Any, _cursor: Any, statement: str, _p: Any, context: Any, _m: Any) -> None:
        if "check_in" in statement:
            seen.append(dict(context.execution_options))

    with read_connection(database.engine) as conn:
        event.listen(conn, "before_cursor_execute", spy)
        rows = export_rows(conn, "checkins", ExportFilter())
        first = next(rows.rows)
        remaining = sum(1 for _ in rows.rows)
    assert first[0] == start
    assert remaining == 2499
    assert seen and seen[0].get("stream_results") is True and seen[0].get("yield_per") == 1000


def test_command_choices_match_the_exporter() -> None:
    """cli_data spells the choices out (no SQLAlchemy at start-up); they must not drift."""
    import station.cli_data
    import station.exporter

    assert station.cli_data.KINDS == station.exporter.KINDS
    assert station.cli_data.FORMATS == station.exporter.FORMATS


def test_round_trip_offline_conflicts(database: TestDatabase, scanned: Scanned) -> None:
    """A refused offline replay: both stations, the station's clock, the server's time."""
    line = scanned.redemption.line_item_id
    with database.sessions() as s:
        attendee = s.scalars(select(ProductRedemption.attendee_id)).one()
    offline_at = datetime(2025, 5, 14, 10, 30, tzinfo=UTC)
    client_id = uuid.uuid4()
    RedemptionService(database.sessions).record_conflict(
        StationContext(CONFERENCE, "=Lunch B"),
        ConflictReport(client_id, "overspend", "redeem", "AB12-CD34", attendee, line, None,
                       offline_at, "fully_redeemed", "Already redeemed"),
    )  # fmt: skip
    with database.sessions() as s:
        received = s.scalars(select(OfflineConflict.received_at)).one()
    for fmt, parse in FORMATS.items():
        assert parse(export(database, "offline-conflicts", fmt)) == [
            {
                "received_at": iso(received),
                "conference": CONFERENCE,
                "kind": "overspend",
                "action": "redeem",
                "code": "AB12-CD34",
                "access_code": "AB12-CD34",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "station": "'=Lunch B" if fmt == "csv" else "=Lunch B",  # spreadsheet-safe
                "client_at": "2025-05-14T10:30:00Z",
                "operator": as_format(None, fmt),
                "product": "addon:lunch-day-1",
                "product_name": "Lunch Day 1",
                "line_item_id": as_format(line, fmt),
                "other_station": "Lunch line",
                "other_at": iso(scanned.times[1]),
                "reason": "fully_redeemed",
                "message": "Already redeemed",
                "client_id": str(client_id),
            }
        ], fmt
    assert len(csv_rows(export(database, "offline-conflicts", station="=Lunch B"))) == 1
    assert csv_rows(export(database, "offline-conflicts", station="Lunch line")) == []
    with pytest.raises(InvalidInput, match="does not apply"):
        export(database, "offline-conflicts", product="lunch-day-1")
