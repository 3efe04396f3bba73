"""What the screens ask of the app, as a Protocol, so screens never import the app.

The app imports every screen to push it; a screen that imported ``StationApp``
back (even only for type checkers) made the two one knot. Screens now name
this port instead, and anything with these members can host them (the real
app, or a small fake in a test). ``tests/tui/test_ports.py`` checks that
``StationApp`` keeps matching it.
"""

from __future__ import annotations

from typing import Protocol

from textual.message_pump import MessagePump

from station.services.results import VoidResult


class StationPort(Protocol):
    """The app's side of the screens: work they start and news they give.

    The three ``reply_to`` methods run in a worker and answer by posting a
    message (``StaffListed``, ``SignInChecked``, ``SearchFinished``) to
    ``reply_to``; what they return (the worker) is not the screens' business.
    """

    def list_staff(self, reply_to: MessagePump) -> object:
        """Load the operators for the sign-in list."""
        ...

    def sign_in(self, name: str, pin: str | None, reply_to: MessagePump) -> object:
        """Check an operator's name and PIN."""
        ...

    def search_attendees(self, query: str, reply_to: MessagePump) -> object:
        """Look attendees up by name, e-mail or code, for the lookup screen."""
        ...

    def void_records(self, code: str, reply_to: MessagePump) -> object:
        """A badge's scans, for a supervisor's void (answers ``VoidRecordsLoaded``)."""
        ...

    def supervisor_void(
        self,
        supervisor: str,
        pin: str,
        record: VoidResult,
        reason: str,
        reply_to: MessagePump,
    ) -> object:
        """Void ``record`` as that supervisor (answers ``VoidFinished``)."""
        ...

    def door_room(self, reply_to: MessagePump) -> object:
        """This door's room, to say how many "everyone out" counts out (``RoomLoaded``)."""
        ...

    def clear_door(self, supervisor: str, pin: str, reply_to: MessagePump) -> object:
        """Everyone out of this door's room, as that supervisor (answers ``DoorCleared``)."""
        ...

    def type_into_scan_field(self, text: str) -> None:
        """A person typed on a screen without a field: to the scan field with it."""
        ...

    def scan_screen_mounted(self) -> None:
        """The scan screen exists: the app can fill in its header and counters."""
        ...
