"""What every service shares: transactions, error translation, the scan path.

Each public operation runs in one transaction. Database failures of any kind
(server down, timeouts, lock waits) become ``DatabaseUnavailable`` so the UI
can say "not recorded" in plain words (lock waits and timeouts as its subclass
``DatabaseBusy``: the server is there, just not now).

Every scan takes the same path (``ServiceBase._scan``): the store chosen at
start-up reads the facts, the rule book (``station.rulebook``) decides, the
store records the decision or logs the refusal. A refusal's log row is
written in the attempt that decided it: a refusal the volunteer sees is a
refusal logged (a scan refused before any query says if it was not).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, TextClause
from sqlalchemy.orm import Session, sessionmaker

from station.codes import normalise_access_code
from station.models import utcnow
from station.rulebook import Accept, ScanFacts, ScanRequest, rules
from station.services.db_errors import DuplicateClientId, database_errors
from station.services.errors import (
    DatabaseBusy,
    DatabaseUnavailable,
    Refusal,
    StationError,
)
from station.services.results import (
    CheckInResult,
    DoorCheckResult,
    RedemptionResult,
    ScanAnswer,
    StationContext,
)
from station.services.store import ConferenceRef, ConflictReport, Recorded, ScanStore

if TYPE_CHECKING:
    from station.services.store_pg import PgStore

log = logging.getLogger("station.services")

Clock = Callable[[], datetime]
_R = TypeVar("_R")


_ATTEMPTS = 8  # decisions overtaken by other stations, in a row, before "busy"


class ServiceBase:
    """The scan store is chosen here, once: ``store`` if given, else the PostgreSQL
    store on PostgreSQL (``hot_paths=False`` keeps the ORM store there too, which
    the differential test compares), else the ORM store."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Clock = utcnow,
        hot_paths: bool | None = None,
        store: ScanStore | None = None,
    ) -> None:
        from station.services.store_orm import OrmStore
        from station.services.store_pg import PgStore

        self._sessions = sessions
        self._clock = clock
        bind = sessions.kw.get("bind")
        on_postgres = isinstance(bind, Engine) and bind.dialect.name == "postgresql"
        # The engine whose held connection the PostgreSQL store and the counters use.
        self._hot: Engine | None = None
        self._store: ScanStore
        if store is not None:  # chosen by the caller (a test's, the offline one)
            self._store = store
        elif on_postgres and hot_paths is not False:
            assert isinstance(bind, Engine)
            self._hot = bind
            self._store = PgStore(bind, clock)
        else:
            self._store = OrmStore(sessions, clock, self._transaction, lock_rows=on_postgres)

    def decide_first_with(self, make: Callable[[PgStore], ScanStore]) -> None:
        """On the PostgreSQL store, put ``make(store)`` in front of it (the offline parts'
        snapshot-first store, ``station.offline.first``); elsewhere nothing changes."""
        from station.services.store_pg import PgStore

        if isinstance(self._store, PgStore):
            self._store = make(self._store)

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One transaction; database trouble surfaces as DatabaseUnavailable."""
        with database_errors(), self._sessions.begin() as session:
            yield session

    def _hot_row(self, statement: TextClause, **params: object) -> Any:
        """One read statement on the held PostgreSQL connection (the counters)."""
        from station.services import hot_sql
        from station.services.hot_connection import hot_connection

        assert self._hot is not None
        sql = hot_sql.for_psycopg(statement)
        with database_errors():
            return hot_connection(self._hot).fetch_one(sql, params)

    def _conference_ref(self, slug: str) -> ConferenceRef:
        return self._store.conference(slug)

    def log_refusal(
        self, ctx: StationContext, *, action: str, code: str, error: StationError
    ) -> None:
        """Record a scan refused outside any attempt, in one write.

        Best effort, since the refusal is shown anyway; a refusal that could not be
        logged says so (``Refusal.logged``).
        """
        try:
            with database_errors():
                self._store.log_refusal(ctx, action, code, error)
        except StationError:
            log.warning("could not log refused scan at %s", ctx.station)
            if isinstance(error, Refusal):
                error.logged = False

    def record_conflict(self, ctx: StationContext, report: ConflictReport) -> bool:
        """Record a replayed offline scan the server refused; False when that client id
        was recorded before (a replay of the replay). Database trouble raises
        DatabaseUnavailable, so the offline journal keeps the entry and tries again."""
        try:
            with database_errors():
                return self._store.record_conflict(ctx, report)
        except DuplicateClientId:  # a racing replay of the same conflict wrote it first
            return False

    def _refused(self, ctx: StationContext, action: str, code: str, error: Refusal) -> Refusal:
        self.log_refusal(ctx, action=action, code=code, error=error)
        return error

    def _normalise(self, ctx: StationContext, action: str, access_code: str) -> str:
        """The stored form of a scanned code; bad input is logged and refused before any query."""
        try:
            return normalise_access_code(access_code)
        except Refusal as invalid:
            raise self._refused(ctx, action, access_code, invalid) from None

    def _scan(self, ctx: StationContext, request: ScanRequest, access_code: str) -> ScanAnswer:
        """Facts from the store, the rule book's decision, the store's record: exactly once.

        A retry (same client id) finds its original and gets the original's answer;
        a decision overtaken by another station, or by a racing retry, is taken
        again on fresh facts. A refusal is logged in its own attempt, then raised.
        """
        code = self._normalise(ctx, request.action, access_code)
        request = request.with_code(code)
        attendee_id: int | None = None
        for _ in range(_ATTEMPTS):
            refused: Refusal | None = None
            try:
                with self._store.attempt(ctx, request, attendee_id=attendee_id) as attempt:
                    facts = attempt.facts()
                    prior = facts.prior
                    if prior is not None:
                        if facts.holder is None or facts.holder.attendee_id != prior.attendee_id:
                            attendee_id = prior.attendee_id  # a retry of another badge
                            continue
                        return rules.replayed(facts, ctx.conference)
                    decision = rules.decide(facts, ctx.conference)
                    if isinstance(decision, Refusal):
                        if not attempt.final:  # decided on a copy: ask the database
                            continue
                        refused = decision
                        try:
                            attempt.log_refusal(decision, access_code)
                        except DatabaseUnavailable:
                            # The volunteer still sees why; the screen says it is not logged.
                            log.warning("could not log refused scan at %s", ctx.station)
                            decision.logged = False
                    else:
                        recorded = attempt.record(decision, code)
                        if recorded is None:
                            continue
                        return _answer(ctx, facts, decision, recorded)
            except DuplicateClientId:
                continue
            assert refused is not None
            raise refused
        raise DatabaseBusy()

    def replay_refusal(
        self, ctx: StationContext, action: str, code: str, error: StationError, at: datetime
    ) -> None:
        """A refusal decided earlier elsewhere (offline), logged with the station's time;
        unlike ``log_refusal`` a failure raises, so the journal keeps it for later."""
        with database_errors():
            self._store.log_refusal(ctx, action, code, error, client_at=at)

    def replay_scan(self, ctx: StationContext, request: ScanRequest) -> ScanAnswer:
        """A scan decided earlier elsewhere (an offline journal entry), sent again as it was:
        same client id, product and station time; recorded at most once, like any scan."""
        return self._scan(ctx, request, request.code)

    def _replay(
        self, ctx: StationContext, request: ScanRequest
    ) -> CheckInResult | DoorCheckResult | RedemptionResult | None:
        """What was recorded under the request's client id, if anything; writes nothing."""
        attendee_id: int | None = None
        for _ in range(2):
            with self._store.attempt(ctx, request, attendee_id=attendee_id) as attempt:
                facts = attempt.facts()
            prior = facts.prior
            if prior is None:
                return None
            if facts.holder is not None and facts.holder.attendee_id == prior.attendee_id:
                return rules.replayed(facts, ctx.conference)
            attendee_id = prior.attendee_id
        return None

    def _facts(self, ctx: StationContext, code: str) -> ScanFacts:
        """A badge's facts, read only (the lookup, the picker)."""
        request = ScanRequest("lookup", normalise_access_code(code), uuid.uuid4())
        with self._store.attempt(ctx, request) as attempt:
            return attempt.facts()


def _answer(
    ctx: StationContext, facts: ScanFacts, accept: Accept, recorded: Recorded
) -> CheckInResult | DoorCheckResult | RedemptionResult:
    if accept.action == "checkin":
        return rules.checked_in(facts, accept, recorded.at, ctx.station[:100], recorded.staff_name)
    if accept.action == "door":
        return rules.admitted(facts, recorded.at)
    return rules.redeemed(facts, accept, recorded.at)
