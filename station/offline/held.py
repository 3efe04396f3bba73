"""Every holder of the station's copy, built once and kept in memory for the first tries.

Reading a holder from the SQLite copy is a statement and a few dozen objects per scan:
measured in ``benchmarks/scan_cpu.py``, about a third of the station's own CPU for a meal
decided on the copy, and more in wall time, because each scan starts on a cold cache.
A station that decides on its copy first therefore keeps each holder as built, with the
per-attendee half of its premise (the versions and records of their rows), and joins the
copy-wide half (the sync's start and the product versions) when it hands one out.

The entries follow the copy, never lead it:

- a sync that writes an attendee, their order's lines or their code drops their entry
  when it commits; one that changes a product or fills the copy again drops them all
  (the lines carry product names and rules), and the copy is read whole again;
- an entry is stored only from a read of the same state of the copy as the entries
  already held (the generation, which every commit moves, and the copy-wide marks).

An entry that is behind all the same (another process writing the same file) costs what
a behind copy always costs: the guarded write checks every premise and answers 'stale',
and the scan is read and decided again. Memory: about 2 KB per attendee (60 MB at
30,000, measured with tracemalloc).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import NamedTuple

from station.rulebook.facts import Holder


class Entry(NamedTuple):
    holder: Holder
    versions: tuple[int, ...]
    records: str


class Wide(NamedTuple):
    """The copy-wide half of a premise, as meta holds it."""

    synced_at: str
    products: str


class HeldHolders:
    """The entries of one state of the copy, from any thread (see the module)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}  # by access code
        self._codes: dict[int, str] = {}  # attendee id -> the code their entry is under
        self._wide: Wide | None = None
        self.generation = 0
        self.complete = False

    def get(self, code: str) -> tuple[Entry, Wide] | None:
        with self._lock:
            entry = self._entries.get(code)
            if entry is None or self._wide is None:
                return None
            return entry, self._wide

    def store(self, generation: int, wide: Wide, entry: Entry) -> None:
        """Keep an entry read while ``generation`` was current, if the copy has not moved."""
        with self._lock:
            if generation != self.generation or wide != self._wide:
                return
            self._entries[entry.holder.access_code] = entry
            self._codes[entry.holder.attendee_id] = entry.holder.access_code

    def committed(
        self, wide: Wide | None, *, everything: bool, ids: Iterable[int], codes: Iterable[str]
    ) -> None:
        """A sync committed: drop what it wrote (or everything) and move to its marks."""
        with self._lock:
            self.generation += 1
            if everything or wide is None or self._wide is None:
                self._entries.clear()
                self._codes.clear()
                self.complete = False
            else:
                for attendee_id in ids:
                    code = self._codes.pop(attendee_id, None)
                    if code is not None:
                        self._entries.pop(code, None)
                for code in codes:
                    self._entries.pop(code, None)
            self._wide = wide

    def replace(self, generation: int, wide: Wide, entries: Iterable[Entry]) -> bool:
        """Hold exactly ``entries`` (the whole copy, read while ``generation`` was current)."""
        by_code = {entry.holder.access_code: entry for entry in entries}
        with self._lock:
            if generation != self.generation:
                return False
            self._entries = by_code
            self._codes = {e.holder.attendee_id: code for code, e in by_code.items()}
            self._wide = wide
            self.complete = True
            return True

    def __len__(self) -> int:
        return len(self._entries)
