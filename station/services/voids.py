"""Voids: taking back a check-in, a door admission or a redemption, never deleting it.

Every void takes the scan path's shape: the store reads the facts (the record, and
whether it is this station's last), the rule book decides (``rules.decide_void``:
the operator's last scan within the window, or a supervisor with their PIN), the
store writes the void and its scan-log row (``station_void()`` on PostgreSQL, the
ORM on SQLite). A void overtaken by another (the record voided meanwhile) is read
and decided again, and then refused as already voided.

A refused void is shown, not logged: the scan log's refusals are scans.
"""

from __future__ import annotations

import uuid

from station.rulebook import rules, words
from station.rulebook.facts import RecordKind, VoidRequest
from station.services.base import _ATTEMPTS
from station.services.errors import DatabaseBusy, Refusal
from station.services.results import StationContext, VoidResult
from station.services.staff import StaffService

DEFAULT_WINDOW_SECONDS = 120.0


class VoidService(StaffService):
    def last_scan(self, ctx: StationContext) -> VoidResult | None:
        """This station's last record, as the operator's confirm shows it (None: none yet)."""
        request = VoidRequest(uuid.uuid4(), "", False, self._clock(), 0)
        with self._store.void_attempt(ctx, request, None) as attempt:
            record = attempt.facts().record
        return rules.void_choice(record) if record is not None else None

    def records(self, ctx: StationContext, code: str) -> tuple[VoidResult, ...]:
        """A badge's records, newest first, for a supervisor to pick from."""
        from station.codes import normalise_access_code

        found = self._store.scan_records(ctx, normalise_access_code(code))
        if not found:
            raise words.not_found(code)
        return tuple(rules.void_choice(record) for record in found)

    def void_last(
        self,
        ctx: StationContext,
        *,
        client_id: uuid.UUID,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        reason: str = "",
        expected: tuple[RecordKind, int] | None = None,
    ) -> VoidResult:
        """The operator voids the station's last scan; ``expected`` (kind, id) is the one
        their confirm showed, refused if another scan came since."""
        request = VoidRequest(client_id, reason, False, self._clock(), window_seconds)
        return self._void(ctx, request, expected, staff_id=ctx.staff_id, pin_hash=None)

    def void_by_supervisor(
        self,
        ctx: StationContext,
        *,
        supervisor: str,
        pin: str,
        kind: RecordKind,
        record_id: int,
        reason: str,
        client_id: uuid.UUID,
    ) -> VoidResult:
        """A supervisor voids any record of the conference, with their PIN and a reason."""
        member, pin_hash = self.check_supervisor(supervisor, pin)
        request = VoidRequest(client_id, reason, True, self._clock(), 0)
        return self._void(
            ctx, request, (kind, record_id), staff_id=member.id, pin_hash=pin_hash, by=member.name
        )

    def _void(
        self,
        ctx: StationContext,
        request: VoidRequest,
        target: tuple[RecordKind, int] | None,
        *,
        staff_id: int | None,
        pin_hash: str | None,
        by: str | None = None,
    ) -> VoidResult:
        for _ in range(_ATTEMPTS):
            with self._store.void_attempt(ctx, request, target) as attempt:
                facts = attempt.facts()
                decision = rules.decide_void(facts)
                if isinstance(decision, Refusal):
                    raise decision
                recorded = attempt.record(decision, staff_id, pin_hash)
                if recorded is None:
                    continue
                assert facts.record is not None
                return rules.voided(facts.record, decision, recorded.at, by)
        raise DatabaseBusy()
