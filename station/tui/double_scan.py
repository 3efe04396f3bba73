"""Remember each code's last verdict for a few seconds: a meal line double-scans all the time.

Per station and in memory only: the same code again within the window gets
the earlier verdict back as "JUST SCANNED", and no service is called. Only
answers that are known (recorded, refused, choosing) are remembered; an
offline-tone verdict (database away, unexpected error, station set up
wrongly) forgets the code, so the volunteer's retry always reaches the
database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from station.tui.verdicts import Tone, Verdict


@dataclass(slots=True)
class RecentScans:
    window_s: float
    """0 turns the guard off."""
    _seen: dict[str, tuple[datetime, Verdict]] = field(default_factory=dict)

    def remember(self, code: str, verdict: Verdict, at: datetime) -> None:
        """``verdict`` was shown for ``code`` at ``at``; the window counts from here."""
        if verdict.tone is Tone.OFFLINE:
            self._seen.pop(code, None)
            return
        if self.window_s <= 0:
            return
        self._seen.pop(code, None)  # re-insert: the dict stays ordered oldest first
        self._seen[code] = (at, verdict)
        self._forget_before(at)

    def previous(self, code: str, at: datetime) -> Verdict | None:
        """The verdict to repeat if ``code`` was answered within the window before ``at``."""
        entry = self._seen.get(code)
        if entry is None:
            return None
        when, verdict = entry
        return verdict if self._within(when, at) else None

    def _within(self, when: datetime, at: datetime) -> bool:
        # A clock that jumped back counts as outside: a scan too many is safe, one too few is not.
        return 0 <= (at - when).total_seconds() < self.window_s

    def _forget_before(self, at: datetime) -> None:
        for code, (when, _verdict) in list(self._seen.items()):
            if self._within(when, at):
                break
            del self._seen[code]

    def __len__(self) -> int:
        return len(self._seen)
