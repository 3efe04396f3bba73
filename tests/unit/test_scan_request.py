"""ScanRequest.with_code: the one field it changes, every other one kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from station.rulebook import ScanRequest


def test_with_code_keeps_every_other_field() -> None:
    request = ScanRequest(
        "door",
        "",
        uuid.uuid4(),
        product="addon:lunch",
        line_item_id=7,
        note="re-scan",
        client_at=datetime(2026, 12, 3, 9, 30, tzinfo=UTC),
        direction="out",
    )
    # Every field differs from its default, so a field the copy forgot would show.
    for name, default in ScanRequest._field_defaults.items():
        assert getattr(request, name) != default, name
    assert request.with_code("ABC123") == request._replace(code="ABC123")
