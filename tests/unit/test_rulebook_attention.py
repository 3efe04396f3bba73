"""The rule book combines attention notes: the order's, its ticket types', the add-ons a scan
concerns, and a partial refund, cleaned and cut, into one text for every result."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from station.domain import OrderStatus
from station.rulebook import (
    Accept,
    Holder,
    Line,
    ScanFacts,
    ScanRequest,
    Target,
    decide,
    rules,
    words,
)

AT = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TICKET = Line(1, "ticket", 10, "vip", "VIP pass", "", 1, attention="VIP — call the host")
SHIRT = Line(2, "addon", 20, "shirt", "T-shirt", "", 1, attention="collect T-shirt M")
LUNCH = Line(3, "addon", 30, "lunch", "Lunch", "", 1, attention="vegan")
PLAIN = Line(4, "addon", 40, "social", "Social event", "", 1)


def holder(
    *lines: Line,
    status: OrderStatus = OrderStatus.PAID,
    note: str = "",
) -> Holder:
    return Holder(
        attendee_id=7,
        access_code="ADA1",
        first_name="Ada",
        last_name="Lovelace",
        username="ada",
        email="ada@example.org",
        order_status=status,
        order_reference="ORD-1",
        checked_in=False,
        first_entry=None,
        entries=0,
        lines=lines,
        order_attention=note,
    )


def facts(
    who: Holder, action: str, product: str | None = None, target: Target | None = None
) -> ScanFacts:
    request = ScanRequest(action, "ADA1", uuid.uuid4(), product=product)  # type: ignore[arg-type]
    return ScanFacts(request, 1, "UTC", who, target=target)


def test_no_notes_and_a_paid_order_means_no_attention() -> None:
    assert rules.badge(holder(PLAIN), "UTC").attention is None


def test_the_badge_shows_the_order_s_then_the_ticket_s_then_every_add_on_s_note() -> None:
    shown = rules.badge(holder(LUNCH, TICKET, SHIRT, note="wheelchair user"), "UTC")
    assert shown.attention == ("wheelchair user · VIP — call the host · collect T-shirt M · vegan")


def test_a_partial_refund_is_one_case_of_attention_and_comes_last() -> None:
    partly = holder(TICKET, status=OrderStatus.PARTIALLY_REFUNDED)
    assert rules.badge(partly, "UTC").attention == (
        f"VIP — call the host · {words.PARTLY_REFUNDED}"
    )
    assert rules.badge(holder(status=OrderStatus.PARTIALLY_REFUNDED), "UTC").attention == (
        words.PARTLY_REFUNDED
    )


def test_a_check_in_result_carries_the_attention() -> None:
    scan = facts(holder(TICKET, note="call the host"), "checkin")
    accept = decide(scan, "con")
    assert isinstance(accept, Accept)
    result = rules.checked_in(scan, accept, AT, "Desk", "Ana")
    assert result.badge.attention == "call the host · VIP — call the host"


def test_a_meal_line_shows_the_redeemed_add_on_s_note_not_the_others() -> None:
    scan = facts(holder(TICKET, SHIRT, LUNCH), "redeem", "lunch", Target("addon", 30, "lunch", "L"))
    accept = decide(scan, "con")
    assert isinstance(accept, Accept)
    assert rules.redeemed(scan, accept, AT).attention == "VIP — call the host · vegan"


def test_a_door_shows_the_ticket_s_and_its_own_product_s_note() -> None:
    target = Target("addon", 20, "shirt", "T-shirt")
    scan = facts(holder(TICKET, SHIRT, LUNCH), "door", "addon:shirt", target)
    assert isinstance(decide(scan, "con"), Accept)
    assert rules.admitted(scan, AT).attention == "VIP — call the host · collect T-shirt M"
    plain = facts(holder(PLAIN), "door", "addon:social", Target("addon", 40, "social", "S"))
    assert rules.admitted(plain, AT).attention is None


def test_notes_are_cleaned_one_line_deduplicated_and_cut() -> None:
    hostile = Line(5, "addon", 50, "x", "X", "", 1, attention="VIP\x1b]0;owned\x07\n\u202e[b]x[/b]")
    twice = Line(6, "addon", 60, "y", "Y", "", 1, attention="  VIP — call the host ")
    shown = rules.badge(holder(TICKET, hostile, twice), "UTC").attention
    assert shown == "VIP — call the host · VIP]0;owned [b]x[/b]"
    assert all(ch.isprintable() for ch in shown)
    many = [
        Line(i, "addon", i, f"a{i}", "A", "", 1, attention=chr(i + 87) * 200) for i in range(10, 14)
    ]
    long = holder(*many, note="n" * 500)
    text = rules.badge(long, "UTC").attention
    assert text is not None and len(text) == words.ATTENTION_LIMIT and text.endswith("…")
    assert text.startswith("n" * (words.NOTE_LIMIT - 1) + "…")


def test_blank_notes_count_as_none() -> None:
    blank = Line(5, "addon", 50, "x", "X", "", 1, attention=" \n\t ")
    assert rules.badge(holder(blank, note="   "), "UTC").attention is None
