"""The event rules alone: parsing, the conference's days, and the rule book's decisions.

Pure: no database. The same decisions are checked through every store in
tests/rules and tests/offline; here the calendar's corners (midnight, daylight
saving, the last opening) and the parsers' input space.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.domain import OrderStatus
from station.rulebook import event_rules, rules
from station.rulebook.event_rules import ProductRules, RuleSyntaxError
from station.rulebook.facts import DoorState, Holder, Line, ScanFacts, ScanRequest, Target
from station.rulebook.rules import Accept
from station.services.errors import Reason, Refusal, RuleRefusal

ZONE = "Europe/Berlin"
BERLIN = ZoneInfo(ZONE)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).astimezone(UTC)


def voucher(rules_: ProductRules, used_times: tuple[datetime, ...] = (), quantity: int = 3) -> Line:
    return Line(1, "addon", 7, "voucher", "Meal voucher", "", quantity, used=len(used_times),
                rules=rules_, used_times=used_times)  # fmt: skip


def person(*lines: Line) -> Holder:
    ticket = Line(2, "ticket", 3, "general", "Conference pass", "", 1)
    return Holder(1, "CODE1", "Ada", "Lovelace", "ada", "", OrderStatus.PAID, "R1", False, None,
                  0, (ticket, *lines))  # fmt: skip


def redeem(holder: Holder, now: datetime) -> Accept | Refusal:
    target = Target("addon", 7, "voucher", "Meal voucher", holder.lines[1].rules)
    request = ScanRequest("redeem", "CODE1", uuid.uuid4(), product="voucher")
    return rules.decide(ScanFacts(request, 1, ZONE, holder, target, now=now), "con")


def door(rules_: ProductRules, state: DoorState, now: datetime, direction: str = "in") -> object:
    room = Line(4, "addon", 9, "room", "Tutorial A", "", 1, rules=rules_)
    holder = person(room)
    target = Target("addon", 9, "room", "Tutorial A", rules_)
    request = ScanRequest("door", "CODE1", uuid.uuid4(), product="addon:room",
                          direction=direction)  # type: ignore[arg-type]  # fmt: skip
    return rules.decide(ScanFacts(request, 1, ZONE, holder, target, now=now, door=state), "con")


def test_a_daily_limit_counts_the_conference_day_not_utc() -> None:
    limit = ProductRules(daily_limit=1)
    # 00:30 in Berlin is still the previous day in UTC: it is a new conference day.
    used = (at("2027-05-13T23:30"),)
    assert isinstance(redeem(person(voucher(limit, used)), at("2027-05-14T00:30")), Accept)
    refused = redeem(person(voucher(limit, used)), at("2027-05-13T23:45"))
    assert isinstance(refused, RuleRefusal) and refused.reason is Reason.DAILY_LIMIT
    assert refused.message == "Meal voucher: 1 of 1 today — next from tomorrow 00:00."


@pytest.mark.parametrize(
    ("used", "now", "same_day"),
    [
        ("2027-03-28T01:59", "2027-03-28T03:01", True),  # spring forward: 02:00 does not exist
        ("2027-03-27T23:30", "2027-03-28T00:30", False),
        ("2027-10-31T02:30", "2027-10-31T23:59", True),  # autumn: a 25-hour day
        ("2027-10-30T23:59", "2027-10-31T00:00", False),
    ],
)
def test_a_daily_limit_across_daylight_saving(used: str, now: str, same_day: bool) -> None:
    decision = redeem(person(voucher(ProductRules(daily_limit=1), (at(used),))), at(now))
    assert isinstance(decision, RuleRefusal) is same_day


def test_a_daily_limit_with_hours_says_when_the_next_one_is() -> None:
    lunch = ProductRules(daily_limit=1, hours=event_rules.parse_hours("11:30-14:30"))
    refused = redeem(person(voucher(lunch, (at("2027-05-13T12:00"),))), at("2027-05-13T12:30"))
    assert isinstance(refused, RuleRefusal)
    assert refused.message == "Meal voucher: 1 of 1 today — next from tomorrow 11:30."


def test_used_up_before_the_daily_limit() -> None:
    limit = ProductRules(daily_limit=1)
    used = (at("2027-05-12T12:00"), at("2027-05-13T12:00"))
    refused = redeem(person(voucher(limit, used, quantity=2)), at("2027-05-14T12:00"))
    assert isinstance(refused, Refusal) and refused.reason is Reason.FULLY_REDEEMED


@pytest.mark.parametrize(
    ("now", "words"),
    [
        ("2027-05-13T07:00", "Meal voucher is closed — opens 07:30."),
        ("2027-05-13T10:00", "Meal voucher is closed — opens 11:30."),
        ("2027-05-13T14:30", "Meal voucher is closed — opens 18:00."),
        ("2027-05-13T20:00", "Meal voucher is closed — opens tomorrow 07:30."),
        ("2027-05-14T20:00", "Meal voucher is closed — no later opening."),
    ],
)
def test_opening_hours_and_valid_dates_say_when_next(now: str, words: str) -> None:
    meals = ProductRules(
        hours=event_rules.parse_hours("07:30-09:00, 11:30-14:30, 18:00-19:30"),
        valid_dates=(date(2027, 5, 13), date(2027, 5, 14)),
    )
    refused = redeem(person(voucher(meals)), at(now))
    assert isinstance(refused, RuleRefusal) and refused.reason is Reason.CLOSED
    assert refused.message == words


def test_not_valid_today_names_the_days_and_the_next() -> None:
    meals = ProductRules(valid_dates=(date(2027, 5, 14),))
    refused = redeem(person(voucher(meals)), at("2027-05-12T12:00"))
    assert isinstance(refused, RuleRefusal) and refused.reason is Reason.NOT_VALID_TODAY
    assert refused.message == (
        "Meal voucher is not valid today (valid Fri 14 May) — next Fri 14 May 00:00."
    )
    assert refused.allows_at == at("2027-05-14T00:00")


def test_a_full_room_admits_who_is_already_inside_and_any_exit() -> None:
    room = ProductRules(capacity=2)
    full = DoorState(events=(), inside=2)
    refused = door(room, full, at("2027-05-13T10:00"))
    assert isinstance(refused, RuleRefusal) and refused.reason is Reason.FULL
    inside = DoorState(events=((at("2027-05-13T09:00"), "in"),), inside=2)
    assert isinstance(door(room, inside, at("2027-05-13T10:00")), Accept)
    leaving = door(room, full, at("2027-05-13T10:00"), direction="out")
    assert isinstance(leaving, Accept) and leaving.direction == "out"


def test_everyone_out_resets_who_is_inside() -> None:
    room = ProductRules(reentry="after_exit")
    state = DoorState(events=((at("2027-05-13T09:00"), "in"),))
    refused = door(room, state, at("2027-05-13T10:00"))
    assert isinstance(refused, RuleRefusal) and refused.reason is Reason.NEEDS_EXIT
    assert (
        refused.message == "Already inside Tutorial A (in at 09:00) — scan out at the exit first."
    )
    cleared = DoorState(events=state.events, cleared_at=at("2027-05-13T09:30"))
    assert isinstance(door(room, cleared, at("2027-05-13T10:00")), Accept)


def test_once_means_once_even_after_everyone_out() -> None:
    room = ProductRules(reentry="once")
    state = DoorState(
        events=((at("2027-05-13T09:00"), "in"), (at("2027-05-13T09:10"), "out")),
        cleared_at=at("2027-05-13T09:30"),
    )
    refused = door(room, state, at("2027-05-14T10:00"))
    assert isinstance(refused, RuleRefusal) and refused.reason is Reason.ALREADY_ENTERED
    assert refused.message == "Tutorial A admits once — already admitted Thu 13 May 09:00."


def test_a_check_in_needs_one_valid_ticket() -> None:
    thursday = ProductRules(valid_dates=(date(2027, 5, 13),))
    ticket = Line(2, "ticket", 3, "thu", "Thursday pass", "", 1, rules=thursday)
    holder = Holder(1, "CODE1", "Ada", "", "ada", "", OrderStatus.PAID, "R1", False, None, 0,
                    (ticket,))  # fmt: skip
    request = ScanRequest("checkin", "CODE1", uuid.uuid4())
    wrong_day = rules.decide(ScanFacts(request, 1, ZONE, holder, now=at("2027-05-14T09:00")), "c")
    assert isinstance(wrong_day, RuleRefusal) and wrong_day.reason is Reason.NOT_VALID_TODAY
    both = Line(5, "ticket", 4, "week", "Week pass", "", 1)
    holder = Holder(1, "CODE1", "Ada", "", "ada", "", OrderStatus.PAID, "R1", False, None, 0,
                    (ticket, both))  # fmt: skip
    ok = rules.decide(ScanFacts(request, 1, ZONE, holder, now=at("2027-05-14T09:00")), "c")
    assert isinstance(ok, Accept)


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("11:30-14:30", ((time(11, 30), time(14, 30)),)),
        ("18:00-20:00, 7:30-9:00", ((time(7, 30), time(9)), (time(18), time(20)))),
        ("22:00-24:00", ((time(22), time.max),)),
        ("always", ()),
    ],
)
def test_hours_parse(text: str, windows: tuple[tuple[time, time], ...]) -> None:
    parsed = event_rules.parse_hours(text)
    assert parsed == windows
    assert event_rules.parse_hours(event_rules.format_hours(parsed)) == parsed


@pytest.mark.parametrize(
    "text", ["14:30-11:30", "25:00-26:00", "11:30", "10:00-12:00, 11:00-13:00", "noon-2pm"]
)
def test_bad_hours_are_one_line(text: str) -> None:
    with pytest.raises(RuleSyntaxError) as error:
        event_rules.parse_hours(text)
    assert "\n" not in str(error.value)


@given(st.text(max_size=300))
def test_any_rule_text_parses_or_is_a_one_line_error(text: str) -> None:
    for parse in (event_rules.parse_hours, event_rules.parse_dates, event_rules.parse_reentry):
        try:
            parse(text)
        except RuleSyntaxError as error:
            assert "\n" not in str(error)


@given(
    st.one_of(st.none(), st.integers(0, 10)),
    st.lists(st.sampled_from(["09:00-10:00", "12:00-13:30", "18:00-24:00"]), unique=True),
    st.lists(st.dates(date(2027, 1, 1), date(2027, 12, 31)), max_size=5),
    st.sampled_from(event_rules.REENTRY_POLICIES),
    st.one_of(st.none(), st.integers(0, 500)),
)
def test_stored_rules_read_back_the_same(
    daily: int | None, hours: list[str], dates: list[date], reentry: str, capacity: int | None
) -> None:
    made = ProductRules(
        daily_limit=daily,
        hours=event_rules.parse_hours(", ".join(hours)),
        valid_dates=tuple(sorted(set(dates))),
        reentry=event_rules.parse_reentry(reentry),
        capacity=capacity,
    )
    columns = made.columns()
    again = ProductRules.from_columns(
        columns["daily_limit"],  # type: ignore[arg-type]
        columns["open_hours"],  # type: ignore[arg-type]
        columns["valid_dates"],  # type: ignore[arg-type]
        columns["reentry"],  # type: ignore[arg-type]
        columns["capacity"],  # type: ignore[arg-type]
    )
    assert again == made


def test_a_replayed_offline_scan_is_judged_at_its_station_time() -> None:
    lunch = ProductRules(hours=event_rules.parse_hours("11:30-14:30"))
    holder = person(voucher(lunch))
    target = Target("addon", 7, "voucher", "Meal voucher", lunch)
    request = ScanRequest("redeem", "CODE1", uuid.uuid4(), product="voucher",
                          client_at=at("2027-05-13T14:20"))  # fmt: skip
    facts = ScanFacts(request, 1, ZONE, holder, target, now=at("2027-05-13T14:45"))
    assert isinstance(rules.decide(facts, "con"), Accept)
