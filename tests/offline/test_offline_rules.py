"""The rule book's offline part, alone: policy, cap and duration bound what an outage risks."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from station.domain import OrderStatus
from station.rulebook import Accept, Holder, Line, ScanFacts, ScanRequest, Target, decide, rules
from station.rulebook.facts import OfflineFacts
from station.services.errors import FullyRedeemed, OfflineLimit, Reason

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
LUNCH = Target("addon", 7, "lunch", "Lunch")


def _facts(used: int, quantity: int = 1, offline: OfflineFacts | None = None) -> ScanFacts:
    line = Line(10, "addon", 7, "lunch", "Lunch", "Lunch x1", quantity, used)
    holder = Holder(1, "ABC", "Ada", "Lovelace", "ada", "", OrderStatus.PAID, "R1", False,
                    None, 0, (line,))  # fmt: skip
    request = ScanRequest("redeem", "ABC", uuid.uuid4(), product="lunch")
    return ScanFacts(request, 1, "UTC", holder, LUNCH, offline=offline)


def _offline(**changes: object) -> OfflineFacts:
    return replace(OfflineFacts(since=NOW - timedelta(minutes=5), now=NOW), **changes)  # type: ignore[arg-type]


def test_a_unit_left_is_given_offline_by_default() -> None:
    decision = decide(_facts(0, offline=_offline()), "pycon")
    assert isinstance(decision, Accept) and decision.line is not None


def test_a_used_up_lunch_is_fully_redeemed_offline_as_online() -> None:
    decision = decide(_facts(1, offline=_offline(policy="refuse", redeemed=999, cap=1)), "pycon")
    assert isinstance(decision, FullyRedeemed)


def test_a_product_kept_for_online_is_refused_offline_with_words() -> None:
    decision = decide(_facts(0, offline=_offline(policy="refuse")), "pycon")
    assert isinstance(decision, OfflineLimit)
    assert decision.reason is Reason.OFFLINE_LIMIT
    assert "Lunch cannot be redeemed while offline" in decision.message
    assert decision.attendee_name == "Ada Lovelace"


@pytest.mark.parametrize(
    ("redeemed", "cap", "refused"), [(2, 3, False), (3, 3, True), (50, None, False)]
)
def test_the_cap_bounds_one_outage(redeemed: int, cap: int | None, refused: bool) -> None:
    decision = decide(_facts(0, offline=_offline(redeemed=redeemed, cap=cap)), "pycon")
    assert isinstance(decision, OfflineLimit) is refused
    if refused:
        assert f"{cap} Lunch given out" in decision.message  # type: ignore[union-attr]


def test_after_the_longest_outage_nothing_more_is_redeemed() -> None:
    long_ago = _offline(since=NOW - timedelta(minutes=61), max_seconds=3600.0)
    decision = decide(_facts(0, offline=long_ago), "pycon")
    assert isinstance(decision, OfflineLimit)
    assert "60 minutes" in decision.message
    assert isinstance(
        decide(_facts(0, offline=replace(long_ago, max_seconds=None)), "pycon"), Accept
    )


def test_online_facts_are_never_held_back() -> None:
    assert isinstance(decide(_facts(0), "pycon"), Accept)


@pytest.mark.parametrize(
    ("reason", "kind"),
    [(Reason.FULLY_REDEEMED, "overspend"), (Reason.REFUNDED, "conflict"),
     (Reason.NOT_FOUND, "conflict"), (Reason.CANCELLED, "conflict"),
     # event rules: what other stations used up meanwhile is an overspend...
     (Reason.DAILY_LIMIT, "overspend"), (Reason.FULL, "overspend"),
     (Reason.ALREADY_ENTERED, "overspend"), (Reason.NEEDS_EXIT, "overspend"),
     # ...hours and dates are judged at the station's time: they refuse only if changed
     (Reason.CLOSED, "conflict"), (Reason.NOT_VALID_TODAY, "conflict")],
)  # fmt: skip
def test_a_refusal_on_replay_is_an_overspend_only_when_the_unit_was_used_up(
    reason: Reason, kind: str
) -> None:
    assert rules.replay_refusal_kind(reason) == kind
