"""Keep the garbage collector's pauses out of scans.

Every scan leaves short-lived objects behind, so the collector runs often; the
older generations it sometimes scans hold everything loaded at start-up
(Textual, SQLAlchemy, the screens): over 100,000 objects that live as
long as the station does. Once the station is ready they are frozen: moved
out of the collector's sight, so a collection looks only at what scans made.
A frozen object is still freed when nothing refers to it any more; only a
cycle among frozen objects would outlive its use, and start-up state lives
as long as the station anyway.
"""

from __future__ import annotations

import gc

_settled = False


def settle() -> int:
    """Collect, then freeze what survives; once per process (a second sign-in leaves
    the frozen set alone, so objects of that session can still be freed).

    Returns how many objects are frozen.
    """
    global _settled
    if not _settled:
        _settled = True
        gc.collect()
        gc.freeze()
    return gc.get_freeze_count()
