"""The copy's products as a holder's read sees them (station.offline.snapshot).

The holder's read joins its lines to the products in Python, from products kept for
one state of the copy. A sync that changes a product must show on the next read,
and a product whose rules cannot be read must stop only the badges that hold it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from station.offline.snapshot import LineRow, ProductRow, Snapshot
from station.services.errors import ConfigurationError
from tests.offline.conftest import ada_and_bob

PASS = ProductRow("ticket", 1, "general", "Pass", "")
LUNCH = ProductRow("addon", 7, "lunch", "Lunch", "")
ADA_SEES = [("general", "Pass", ""), ("lunch", "Lunch", "")]


def _fill(snapshot: Snapshot, synced_at: str, products: list[ProductRow], versions: str) -> None:
    """What one sync writes: the products and the meta that names this state."""
    with snapshot.writing() as writer:
        writer.products(products)
        writer.set_meta({"synced_at": synced_at, "product_versions": versions})


def _people(snapshot: Snapshot) -> None:
    with snapshot.writing() as writer:
        writer.attendees(ada_and_bob())
        writer.lines(
            [
                LineRow(100, 10, "ticket", 1, "Pass", 1, 0, None, ""),
                LineRow(101, 10, "addon", 7, "Lunch", 2, 1, None, ""),
                LineRow(200, 20, "addon", 8, "Dinner", 1, 0, None, ""),
            ]
        )


def _product_names(snapshot: Snapshot, code: str) -> list[tuple[str, str, str]]:
    found = snapshot.premised_holder(code=code)
    assert found is not None
    return [(line.slug, line.name, line.attention) for line in found[0].lines]


def test_a_sync_that_renames_a_product_shows_on_the_next_read(tmp_path: Path) -> None:
    snapshot = Snapshot(tmp_path / "s.sqlite3")
    _people(snapshot)
    _fill(snapshot, "2026-12-04T09:00:00+00:00", [PASS, LUNCH], "5,6")
    assert _product_names(snapshot, "ADA1") == ADA_SEES

    _fill(
        snapshot,
        "2026-12-04T09:00:05+00:00",
        [PASS, ProductRow("addon", 7, "lunch", "Hot lunch", "Vegan on request")],
        "5,9",
    )
    found = snapshot.premised_holder(code="ADA1")
    assert found is not None
    holder, premise = found
    assert [(line.name, line.attention) for line in holder.lines] == [
        ("Pass", ""),
        ("Hot lunch", "Vegan on request"),
    ]
    assert premise is not None and premise.products == "5,9"
    # A line whose product the copy lacks still reads, with no name and no rules.
    assert _product_names(snapshot, "BOB2") == [("", "", "")]


def test_a_product_whose_rules_cannot_be_read_stops_only_its_holders(tmp_path: Path) -> None:
    snapshot = Snapshot(tmp_path / "s.sqlite3")
    _people(snapshot)
    _fill(
        snapshot,
        "2026-12-04T09:00:00+00:00",
        [PASS, LUNCH, ProductRow("addon", 8, "dinner", "Dinner", "", open_hours="25:00-26:00")],
        "5,6,7",
    )
    assert _product_names(snapshot, "ADA1") == ADA_SEES
    with pytest.raises(ConfigurationError, match="rules cannot be read"):
        snapshot.premised_holder(code="BOB2")
