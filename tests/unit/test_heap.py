"""heap.settle() in a process of its own: once per process, and garbage is still collected."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import gc, weakref
from station import heap

class Thing:
    pass

kept = Thing()
first = heap.settle()
assert first > 0, first
assert heap.settle() == first, "a second call freezes nothing more"

made = Thing()
made.me = made  # a cycle: only the collector frees it
gone = weakref.ref(made)
del made
gc.collect()
assert gone() is None, "objects made after settling are still collected"
print("ok", first)
"""


def test_settle_freezes_once_and_later_garbage_is_still_collected() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
