"""`station attention`: set, show and clear a note by order reference or slug; one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from station.attention import AttentionInputError, attention
from station.models import Order
from station.services import CheckInService
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.test_cli import assert_one_line_failure, station

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


def test_notes_set_on_an_order_a_ticket_type_and_an_add_on_reach_the_badge(
    database: TestDatabase,
) -> None:
    conf = ConferenceBuilder(database.sessions)
    conf.ticket_type("vip", "VIP pass")
    conf.addon("t-shirt-m", "T-shirt M")
    built = conf.attendee(ticket="vip", addons={"t-shirt-m": 1})
    engine = database.engine
    with database.sessions() as s:
        reference = s.get_one(Order, built.order_id).reference
    assert attention(engine, "order", reference, note="  wheelchair user ").key == reference
    attention(engine, "ticket", "vip", note="VIP — call the host", conference=conf.slug)
    changed = attention(engine, "addon", "t-shirt-m", note="collect T-shirt M")
    assert changed.note == "collect T-shirt M" and changed.conference == conf.slug
    ctx = StationContext(conference=conf.slug, station="Desk")
    badge = CheckInService(database.sessions).get_badge_data(ctx, built.access_code)
    assert badge.attention == "wheelchair user · VIP — call the host · collect T-shirt M"
    assert attention(engine, "ticket", "vip").note == "VIP — call the host"  # shown, not changed
    assert attention(engine, "ticket", "vip", clear=True).note is None
    badge = CheckInService(database.sessions).get_badge_data(ctx, built.access_code)
    assert badge.attention == "wheelchair user · collect T-shirt M"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("seat", "x"), "unknown kind 'seat': say order (by reference), ticket or addon (by slug)"),
        (("order", "NOPE"), "order reference 'NOPE' does not exist in conference 'c1'"),
        (("addon", "vip"), "add-on slug 'vip' does not exist in conference 'c1'"),
        (("ticket", "vip", "x" * 301), "the note is 301 characters long (at most 300)"),
        (("ticket", "vip", "  "), "the note is empty; use --clear to remove a note"),
    ],
)
def test_bad_input_is_refused_with_one_line(
    database: TestDatabase, args: tuple[str, ...], message: str
) -> None:
    ConferenceBuilder(database.sessions, slug="c1").ticket_type("vip")
    with pytest.raises(AttentionInputError) as refused:
        attention(database.engine, args[0], args[1], note=args[2] if len(args) > 2 else None)
    assert str(refused.value) == message


def test_several_conferences_need_the_conference_named(database: TestDatabase) -> None:
    ConferenceBuilder(database.sessions, slug="c1").ticket_type("vip")
    ConferenceBuilder(database.sessions, slug="c2").ticket_type("vip")
    with pytest.raises(AttentionInputError, match=r"--conference \(this database has: c1, c2\)"):
        attention(database.engine, "ticket", "vip", note="x")
    assert attention(database.engine, "ticket", "vip", note="x", conference="c2").note == "x"
    with pytest.raises(AttentionInputError, match="conference 'c3' does not exist"):
        attention(database.engine, "ticket", "vip", note="x", conference="c3")


def test_the_command_sets_shows_and_clears_a_note(tmp_path: Path) -> None:
    env = {"STATION_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    (tmp_path / "a.csv").write_text(
        "access_code,first_name,last_name,email,order_reference,order_status,ticket_type,addons\n"
        "A-1,Ada,L,a@example.org,R-1,paid,VIP,T-shirt M:1\n"
    )
    imported = station(tmp_path, "import", "a.csv", "--conference", "c", "--create", env=env)
    assert imported.returncode == 0, imported.stderr
    done = station(tmp_path, "attention", "order", "R-1", "VIP — call the host", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Order R-1 (c): attention note set to 'VIP — call the host'.\n"
    shown = station(tmp_path, "attention", "addon", "t-shirt-m", env=env)
    assert shown.stdout == "Add-on t-shirt-m (c): attention note none.\n"
    cleared = station(tmp_path, "attention", "order", "R-1", "--clear", env=env)
    assert cleared.stdout == "Order R-1 (c): attention note cleared.\n"
    bad = station(tmp_path, "attention", "order", "R-2", "x", env=env)
    assert assert_one_line_failure(bad, 2) == (
        "station: order reference 'R-2' does not exist in conference 'c'"
    )
    both = station(tmp_path, "attention", "order", "R-1", "x", "--clear", env=env)
    assert assert_one_line_failure(both, 2) == "station: give a note or --clear, not both"
    missing = station(tmp_path, "attention", "order", "R-1", "x",
                      env={"STATION_DATABASE_URL": f"sqlite:///{tmp_path / 'y.db'}"})  # fmt: skip
    assert "There is no database at" in assert_one_line_failure(missing, 2)
    assert not (tmp_path / "y.db").exists()
