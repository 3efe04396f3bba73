"""The app keeps offering the screens what ``StationPort`` promises them.

Screens reach the app only through that Protocol (they cannot import the app
without an import cycle), and the screens' casts are unchecked. mypy cannot
check the match either: Textual's ``@work(...)`` types the worker methods as
``(*Any, **Any)``. So this test compares the signatures themselves.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from station.tui.app import StationApp
from station.tui.ports import StationPort

MEMBERS = sorted(
    name
    for name, value in vars(StationPort).items()
    if not name.startswith("_") and inspect.isfunction(value)
)


def _parameters(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    signature = inspect.signature(function)  # follows @work's functools.wraps
    return [(p.name, p.kind, p.annotation) for p in signature.parameters.values()]


def test_the_port_lists_what_the_screens_use() -> None:
    assert MEMBERS == [
        "clear_door",
        "door_room",
        "list_staff",
        "scan_screen_mounted",
        "search_attendees",
        "sign_in",
        "supervisor_void",
        "type_into_scan_field",
        "void_records",
    ]


@pytest.mark.parametrize("name", MEMBERS)
def test_station_app_matches_the_port(name: str) -> None:
    promised = getattr(StationPort, name)
    offered = getattr(StationApp, name, None)
    assert callable(offered), f"StationApp has no {name}()"
    assert _parameters(offered) == _parameters(promised)
    returns = inspect.signature(promised).return_annotation
    if returns != "object":  # the worker methods: any return will do
        assert inspect.signature(offered).return_annotation == returns
