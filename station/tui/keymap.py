"""Every key binding of the station, in one place.

Kiosk mode (later) changes what quitting needs; keeping the bindings here
means it only has to look in one file. The app owns every binding
(``inherit_bindings=False``): nothing quits or opens a palette by surprise.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

APP: list[BindingType] = [
    Binding("ctrl+q", "request_quit", "Quit", priority=True),
    # Function keys: no scanner types them, and no code can hold them.
    Binding("f1", "help", "Help", priority=True),
    Binding("f3", "hand_over", "Hand over", priority=True),
]

SCAN: list[BindingType] = [
    # "/" only opens the lookup while the scan field is empty (see ScanScreen.check_action),
    # so a scanned link such as https://... still types its slashes.
    Binding("slash", "slash_lookup", "Find", key_display="/", priority=True),
    Binding("f2", "app.open_lookup", "Find", show=False),
    # Like "/": "?" is help only while the field is empty; a scanned link's "?" types.
    Binding("question_mark", "question_help", "Help", key_display="?", show=False, priority=True),
    # Voids: function keys too, so no scanned code can start one.
    Binding("f4", "app.void_last", "Undo", priority=True),
    Binding("f5", "app.supervisor_void", "Supervisor void", show=False, priority=True),
    # Door stations only (see StationApp.check_action): in/out, and a supervisor's
    # "everyone out".
    Binding("f6", "app.toggle_direction", "In/Out", priority=True),
    Binding("f7", "app.everyone_out", "Everyone out", show=False, priority=True),
]

SCAN_INPUT: list[BindingType] = [
    Binding("tab", "submit", show=False),
]

BADGE: list[BindingType] = [
    Binding("escape", "close", "Back"),
    Binding("r", "redeem", "Redeem"),
    Binding("slash", "find", "Find", key_display="/"),
    Binding("f2", "find", show=False),
]

PICKER: list[BindingType] = [
    Binding("escape", "close", "Back"),
    *(Binding(str(n), f"pick({n})", f"Redeem {n}", show=False) for n in range(1, 10)),
]

LOOKUP: list[BindingType] = [
    Binding("escape", "close", "Back"),
    Binding("down", "results_down", show=False),
    Binding("up", "results_up", show=False),
]

SIGN_IN: list[BindingType] = [
    Binding("escape", "back", "Back", show=False),
]

HELP: list[BindingType] = [
    Binding("escape", "close", "Back"),
]

DOOR_CLEAR: list[BindingType] = [
    Binding("escape", "close", "Cancel"),
]

SUPERVISOR_VOID: list[BindingType] = [
    Binding("escape", "close", "Cancel"),
]

CONFIRM: list[BindingType] = [
    Binding("y", "answer(True)", "Yes"),
    Binding("n", "answer(False)", "No"),
    Binding("escape", "answer(False)", "No", show=False),
]
