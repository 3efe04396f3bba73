"""Check-in desk rules: order statuses, conference scope, re-entry, badge data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from station.domain import OrderStatus
from station.models import Attendee, CheckIn, Person, ScanLog
from station.services import CheckInService
from station.services.errors import AttendeeNotFound, InvalidInput, NotEligible, Reason
from station.services.results import StationContext
from tests.builders import ConferenceBuilder
from tests.services.conftest import World, counting_statements


@pytest.mark.parametrize("status", [OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED])
def test_active_orders_check_in(world: World, status: OrderStatus) -> None:
    built = world.conf.attendee(status=status)
    result = world.checkin.check_in(world.ctx, built.access_code)
    assert result.reason is Reason.OK
    assert world.count(CheckIn, attendee_id=built.attendee_id) == 1


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [
        (None, Reason.NO_ORDER, "Attendee has no order — check-in not allowed."),
        (OrderStatus.PENDING, Reason.UNPAID, "Order status is 'Pending' — check-in not allowed."),
        (
            OrderStatus.CANCELLED,
            Reason.CANCELLED,
            "Order status is 'Cancelled' — check-in not allowed.",
        ),
        (
            OrderStatus.REFUNDED,
            Reason.REFUNDED,
            "Order status is 'Refunded' — check-in not allowed.",
        ),
    ],
)
def test_inactive_orders_are_refused_with_a_reason(
    world: World, status: OrderStatus | None, reason: Reason, message: str
) -> None:
    built = world.conf.attendee(status=status)
    with pytest.raises(NotEligible) as refused:
        world.checkin.check_in(world.ctx, built.access_code)
    assert refused.value.reason is reason
    assert refused.value.message == message
    assert world.count(CheckIn) == 0
    with world.sessions() as s:
        assert s.get(Attendee, built.attendee_id).checked_in_at is None  # type: ignore[union-attr]


def test_validate_order_status_is_pure_and_names_the_status() -> None:
    assert CheckInService.validate_order_status(OrderStatus.PAID) is None
    refusal = CheckInService.validate_order_status(OrderStatus.CANCELLED, action="entry")
    assert refusal is not None
    assert str(refusal) == "Order status is 'Cancelled' — entry not allowed."


def test_lookup_is_scoped_to_the_station_conference(world: World) -> None:
    other = ConferenceBuilder(world.sessions, slug="other-con", name="Other")
    built = other.attendee(code="ELSEWHERE1")
    with pytest.raises(AttendeeNotFound) as refused:
        world.checkin.check_in(world.ctx, built.access_code)
    assert refused.value.reason is Reason.NOT_FOUND
    assert "not found" in refused.value.message
    assert world.count(CheckIn) == 0


def test_unknown_code_is_not_found(world: World) -> None:
    with pytest.raises(AttendeeNotFound):
        world.checkin.lookup_attendee(world.ctx, "NOSUCHCODE")


@pytest.mark.parametrize("typed", ["abcd1234", "AbCd1234", "  ABCD1234\t", "abcd1234\n"])
def test_codes_match_whatever_case_the_scanner_types(world: World, typed: str) -> None:
    world.conf.attendee(code="ABCD1234")
    assert world.checkin.lookup_attendee(world.ctx, typed).access_code == "ABCD1234"


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "A" * 257, "ABC\x1b[2J", "AB\x00CD", "AB\u202eCD", "AB CD"],
    ids=["empty", "blank", "too-long", "escape", "nul", "bidi", "inner-space"],
)
def test_bad_input_is_refused_before_any_query(world: World, bad: str) -> None:
    world.conf.attendee(code="ABCD1234")
    with counting_statements(world.db.engine) as statements, pytest.raises(InvalidInput) as refused:
        world.checkin.lookup_attendee(world.ctx, bad)
    assert statements == []
    assert "\n" not in refused.value.message
    assert refused.value.reason is Reason.INVALID_INPUT


def test_every_check_in_is_a_new_record_and_the_first_sets_the_time(world: World) -> None:
    built = world.conf.attendee()
    first = world.checkin.check_in(world.ctx, built.access_code)
    with world.sessions() as s:
        first_time = s.get(Attendee, built.attendee_id).checked_in_at  # type: ignore[union-attr]
    later_ctx = StationContext(world.ctx.conference, "Door B", None)
    second = world.checkin.check_in(later_ctx, built.access_code)

    assert first.reason is Reason.OK and not first.reentry
    assert second.reason is Reason.REENTRY and second.reentry
    assert world.count(CheckIn, attendee_id=built.attendee_id) == 2
    with world.sessions() as s:
        assert s.get(Attendee, built.attendee_id).checked_in_at == first_time  # type: ignore[union-attr]
    assert first_time == first.checked_in_at
    # The re-entry names when, where and by whom the attendee first came in.
    assert second.badge.first_check_in is not None
    assert second.badge.first_check_in.station == "Door A"
    assert second.badge.first_check_in.staff_name == "Ana"
    assert second.badge.first_check_in.at == first.checked_in_at
    assert second.badge.check_in_count == 2


def test_badge_data_has_every_field(world: World) -> None:
    world.conf.ticket_type("speaker", "Speaker pass")
    world.conf.addon("lunch", "Lunch Day 1")
    built = world.conf.attendee(
        first_name="Zoë",
        last_name="Ødegaard",
        email="zoe@example.org",
        ticket="speaker",
        addons={"lunch": 2},
    )
    before = world.checkin.get_badge_data(world.ctx, built.access_code)
    assert before.checked_in is False and before.first_check_in is None
    assert before.check_in_count == 0

    world.checkin.check_in(world.ctx, built.access_code)
    badge = world.checkin.get_badge_data(world.ctx, built.access_code.lower())
    assert badge.name == "Zoë Ødegaard"
    assert badge.email == "zoe@example.org"
    assert badge.access_code == built.access_code
    assert badge.ticket_type == "Speaker pass"
    assert badge.checked_in is True
    assert badge.check_in_count == 1
    assert badge.first_check_in is not None
    assert badge.first_check_in.at.tzinfo is not None
    assert badge.order_status is OrderStatus.PAID
    assert badge.timezone == "Europe/Berlin"
    assert [(p.name, p.quantity, p.remaining) for p in badge.products] == [("Lunch Day 1", 2, 2)]


def test_badge_falls_back_to_username_and_general_admission(world: World) -> None:
    built = world.conf.attendee(first_name="", last_name="", username="guido", ticket=None)
    badge = world.checkin.get_badge_data(world.ctx, built.access_code)
    assert badge.name == "guido"
    assert badge.ticket_type == "General Admission"


def test_untrusted_names_come_back_without_control_characters(world: World) -> None:
    built = world.conf.attendee(first_name="[bold]Bob[/]", last_name="Evil\x1b]0;pwned\x07\u202e")
    badge = world.checkin.get_badge_data(world.ctx, built.access_code)
    assert badge.name == "[bold]Bob[/] Evil]0;pwned"


def test_partially_refunded_orders_get_an_attention_note(world: World) -> None:
    built = world.conf.attendee(status=OrderStatus.PARTIALLY_REFUNDED)
    result = world.checkin.check_in(world.ctx, built.access_code)
    assert result.badge.attention is not None
    assert "partially refunded" in result.badge.attention


def test_every_scan_attempt_is_in_the_scan_log(world: World) -> None:
    ok = world.conf.attendee()
    cancelled = world.conf.attendee(status=OrderStatus.CANCELLED)
    world.checkin.check_in(world.ctx, ok.access_code)
    world.checkin.check_in(world.ctx, ok.access_code)
    for code in (cancelled.access_code, "NOSUCH", "bad\x1bcode"):
        with pytest.raises((NotEligible, AttendeeNotFound, InvalidInput)):
            world.checkin.check_in(world.ctx, code)
    with world.sessions() as s:
        rows = s.query(ScanLog).order_by(ScanLog.id).all()
    assert [(r.outcome, r.reason) for r in rows] == [
        ("accepted", "ok"),
        ("accepted", "reentry"),
        ("refused", "cancelled"),
        ("refused", "not_found"),
        ("refused", "invalid_input"),
    ]
    assert all(r.station == "Door A" and r.staff_id == world.ctx.staff_id for r in rows)
    assert rows[2].attendee_id == cancelled.attendee_id
    assert rows[3].code == "NOSUCH"
    assert "\x1b" not in rows[4].code


def test_search_finds_by_part_of_name_email_or_code(world: World) -> None:
    world.conf.attendee(code="FINDME01", first_name="Siobhán", last_name="Murphy", email="sm@x.org")
    world.conf.attendee(code="OTHER001", first_name="Ngozi", last_name="Okafor", email="n@y.org")
    assert [m.access_code for m in world.checkin.search_attendees(world.ctx, "murph")] == [
        "FINDME01"
    ]
    assert [m.access_code for m in world.checkin.search_attendees(world.ctx, "Ngozi Oka")] == [
        "OTHER001"
    ]
    assert [m.access_code for m in world.checkin.search_attendees(world.ctx, "@y.org")] == [
        "OTHER001"
    ]
    assert [m.access_code for m in world.checkin.search_attendees(world.ctx, "dme0")] == [
        "FINDME01"
    ]
    assert world.checkin.search_attendees(world.ctx, "%") == ()
    assert world.checkin.search_attendees(world.ctx, "_%") == ()


def test_counts_count_this_station_today(world: World) -> None:
    now = datetime.now(UTC)  # PostgreSQL records the server's time: today is today
    svc = CheckInService(world.sessions, clock=lambda: now)
    a, b = world.conf.attendee(), world.conf.attendee()
    world.conf.attendee()
    svc.check_in(world.ctx, a.access_code)
    svc.check_in(StationContext(world.ctx.conference, "Door B"), b.access_code)
    counts = svc.counts(world.ctx)
    assert (counts.station_today, counts.conference_checked_in, counts.conference_attendees) == (
        1,
        2,
        3,
    )
    tomorrow = CheckInService(world.sessions, clock=lambda: now + timedelta(days=1))
    assert tomorrow.counts(world.ctx).station_today == 0


def test_person_rows_are_untouched_by_a_check_in(world: World) -> None:
    built = world.conf.attendee(first_name="Ada")
    world.checkin.check_in(world.ctx, built.access_code)
    assert world.count(Person, first_name="Ada") == 1
