"""Verdict wording: one module, every reason covered, readable without colour."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from station.services.errors import (
    DatabaseUnavailable,
    FullyRedeemed,
    InvalidInput,
    NotEligible,
    Reason,
    StationError,
)
from station.services.results import RedemptionResult
from station.tui import verdicts
from station.tui.verdicts import Tone

NOT_REFUSALS = (Reason.OK, Reason.REENTRY, Reason.DATABASE_UNAVAILABLE, Reason.CONFIGURATION)
REFUSALS = [r for r in Reason if r not in NOT_REFUSALS]


@pytest.mark.parametrize("reason", REFUSALS)
def test_every_refusal_reason_has_plain_words_a_symbol_and_refused(reason: Reason) -> None:
    verdict = verdicts.for_error(StationError("Something.", reason=reason), code="ABC")
    assert reason in verdicts.REFUSAL_HEADLINES
    assert verdict.tone is Tone.REFUSED
    assert verdict.title.startswith("✖ REFUSED — ")
    assert verdict.rings_bell
    assert not verdict.recorded
    assert verdict.advice


def test_database_unavailable_says_not_recorded() -> None:
    verdict = verdicts.for_error(DatabaseUnavailable(), code="ABC")
    assert verdict.title == "✖ NOT RECORDED — database offline, try again"
    assert verdict.rings_bell and not verdict.recorded


def test_a_station_set_up_wrongly_says_not_ready() -> None:
    verdict = verdicts.for_error(
        StationError("Add-on 'x' does not exist.", reason=Reason.CONFIGURATION)
    )
    assert verdict.title == "✖ NOT READY — this station is set up wrongly"
    assert verdict.detail == "Add-on 'x' does not exist."
    assert not verdict.recorded


def test_fully_redeemed_shows_time_in_the_conference_zone_and_station() -> None:
    error = FullyRedeemed(
        "Lunch is fully redeemed (1/1).",
        product="Lunch",
        redeemed=1,
        quantity=1,
        last_redeemed_at=datetime(2025, 5, 16, 10, 3, tzinfo=UTC),
        last_station="Station B",
    )
    verdict = verdicts.for_error(error, timezone="Europe/Berlin")
    assert verdict.title == "✖ REFUSED — ALREADY REDEEMED 1/1 — 12:03 at Station B"


def test_a_refusal_the_scan_log_missed_says_so() -> None:
    error = InvalidInput("Code contains spaces ('a b') — not a badge code.")
    assert "scan log" not in verdicts.for_error(error, code="a b").advice
    error.logged = False
    verdict = verdicts.for_error(error, code="a b")
    assert verdict.advice.endswith("Not in the scan log (database unreachable).")
    assert verdict.tone is Tone.REFUSED


def test_status_refusals_map_to_their_own_words() -> None:
    for reason, words in [
        (Reason.CANCELLED, "ORDER CANCELLED"),
        (Reason.REFUNDED, "ORDER REFUNDED"),
        (Reason.UNPAID, "ORDER NOT PAID"),
        (Reason.NO_ORDER, "NO ORDER"),
    ]:
        assert verdicts.for_error(NotEligible("x", reason=reason)).headline == words


def test_redemption_ok_names_the_product_and_what_is_left() -> None:
    result = RedemptionResult(
        client_id=uuid.uuid4(),
        attendee_name="Ada",
        access_code="A",
        line_item_id=1,
        product="Lunch Day 1",
        redeemed=1,
        quantity=3,
        redeemed_at=datetime(2025, 5, 16, tzinfo=UTC),
        timezone="UTC",
    )
    verdict = verdicts.for_redemption(result)
    assert verdict.title == "✔ LUNCH DAY 1 OK — 2 left"
    assert not verdict.rings_bell


def test_unknown_timezone_falls_back_to_utc() -> None:
    moment = datetime(2025, 5, 16, 10, 3, tzinfo=UTC)
    assert verdicts.local_time(moment, "Not/AZone") == "10:03"
