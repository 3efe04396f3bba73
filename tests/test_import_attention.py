"""The optional `attention` column of the CSV file sets, changes and clears an order's note."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from station.models import Order
from station.services import CheckInService
from station.services.results import StationContext
from tests.data_helpers import CONFERENCE, HEADER, import_into, write_file

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

WITH_NOTE = HEADER.rstrip("\n") + ",attention\n"


def notes(db: TestDatabase) -> dict[str, str | None]:
    with db.sessions() as s:
        rows = s.execute(select(Order.reference, Order.checkin_attention)).all()
        return {row.reference: row.checkin_attention for row in rows}


def test_the_attention_column_sets_the_order_s_note(database: TestDatabase, tmp_path: Path) -> None:
    content = WITH_NOTE + (
        'A-1,Ada,L,a@example.org,R-1,paid,Pass,,"VIP — call the host"\n'
        "B-2,Bob,M,b@example.org,R-2,paid,Pass,,\n"
    )
    report = import_into(database, write_file(tmp_path, content))
    assert report.written and not report.notices
    assert notes(database) == {"R-1": "VIP — call the host", "R-2": None}
    badge = CheckInService(database.sessions).get_badge_data(
        StationContext(conference=CONFERENCE, station="Desk"), "A-1"
    )
    assert badge.attention == "VIP — call the host"


def test_a_new_file_changes_or_clears_the_note_and_an_old_file_keeps_it(
    database: TestDatabase, tmp_path: Path
) -> None:
    first = WITH_NOTE + "A-1,Ada,L,a@example.org,R-1,paid,Pass,,collect T-shirt M\n"
    import_into(database, write_file(tmp_path, first))
    changed = WITH_NOTE + "A-1,Ada,L,a@example.org,R-1,paid,Pass,,collect T-shirt L\n"
    report = import_into(database, write_file(tmp_path, changed))
    assert report.counts["orders"].updated == 1
    assert notes(database) == {"R-1": "collect T-shirt L"}
    # A file without the column (the format before notes) leaves the note alone.
    old = HEADER + "A-1,Ada,L,a@example.org,R-1,paid,Pass,\n"
    report = import_into(database, write_file(tmp_path, old))
    assert report.counts["orders"].unchanged == 1
    assert notes(database) == {"R-1": "collect T-shirt L"}
    # An empty cell in a file with the column clears it.
    cleared = WITH_NOTE + "A-1,Ada,L,a@example.org,R-1,paid,Pass,,\n"
    import_into(database, write_file(tmp_path, cleared))
    assert notes(database) == {"R-1": None}


def test_a_note_without_an_order_or_too_long_is_a_bad_row(
    database: TestDatabase, tmp_path: Path
) -> None:
    content = WITH_NOTE + (
        "A-1,Ada,L,a@example.org,,,,,call the host\n"
        f"B-2,Bob,M,b@example.org,R-2,paid,Pass,,{'x' * 301}\n"
    )
    report = import_into(database, write_file(tmp_path, content))
    assert [str(p) for p in report.problems] == [
        "line 2: attention is a note on the order: it needs an order_reference",
        "line 3: attention is 301 characters long (at most 300)",
    ]
    assert not report.written
