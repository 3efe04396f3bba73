"""The PostgreSQL scan store: two round trips, no transaction held between them.

1. One read-only statement returns every fact of the scan (the attendee, their
   order's lines with used counts, the first check-in, the station's product,
   a record already made under the client id). It runs inside a PL/pgSQL function
   generated from ``facts_sql`` (migration 0018), so the server keeps its plan
   even behind PgBouncer, where nothing is prepared.
2. The rule book decides in Python; one call of a guarded function
   (migration 0008) records the decision with the premise it was taken on, or
   logs the refusal. The function locks the attendee and checks the premise
   under the lock: if another station got there first it writes nothing and
   answers 'stale', and the caller decides again on fresh facts.

Both run in autocommit on the connection the station keeps
(``hot_connection``), so a scan never leaves a transaction open on the server
(nothing for a dead link to hold) and works through PgBouncer's transaction
pooling. The functions run as their owner: the station role has no INSERT or
UPDATE on any table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from station.domain import OrderStatus
from station.rulebook import Accept, Holder, Line, Prior, ScanFacts, ScanRequest, Target
from station.rulebook.event_rules import ProductRules, RuleSyntaxError
from station.rulebook.facts import (
    DoorState,
    FirstEntry,
    RecordKind,
    ScanRecord,
    VoidFacts,
    VoidRequest,
)
from station.rulebook.rules import VoidAccept
from station.services import void_queries
from station.services.db_errors import database_errors
from station.services.errors import ConfigurationError, StationError
from station.services.results import StationContext
from station.services.store import ConferenceRef, ConflictReport, Recorded
from station.services.store_orm import Clock, unknown_conference, void_facts
from station.text import display_safe

if TYPE_CHECKING:  # psycopg is imported on first use
    from station.services.hot_connection import HotConnection

_CONFERENCE = "SELECT c.id, c.slug, c.name, c.timezone FROM conference c WHERE c.slug = %(slug)s"

# The attendee by code (or by id, for a replay of another badge) with what the action's
# decision and answer need, and no more: each piece is server time on every scan.
# @USED@ adds units used (all lines), @LAST@ when and where the last unit went, @ENTRIES@
# the first check-in and how many there were; the rest is added per action. Attention
# notes come with the rows already read (the order's, each line's product's): no join more.
_FACTS = """
SELECT station_now() AS now, a.id, a.access_code, a.checked_in_at, o.status, o.reference,
       o.checkin_attention AS order_attention, p.first_name, p.last_name, p.username, p.email,
       (SELECT json_agg(json_build_array(
                   li.id, li.ticket_type_id, li.addon_id, coalesce(tt.slug, ad.slug),
                   coalesce(tt.name, ad.name), li.description,
                   coalesce(tt.checkin_attention, ad.checkin_attention), li.quantity,
                   coalesce(tt.daily_limit, ad.daily_limit), coalesce(tt.open_hours, ad.open_hours),
                   coalesce(tt.valid_dates, ad.valid_dates), coalesce(tt.reentry, ad.reentry),
                   coalesce(tt.capacity, ad.capacity)
                   @USED_COLUMNS@)
                   ORDER BY li.id)
          FROM order_line_item li
          LEFT JOIN ticket_type tt ON tt.id = li.ticket_type_id
          LEFT JOIN addon ad ON ad.id = li.addon_id @USED_JOIN@
         WHERE li.order_id = a.order_id) AS lines @ENTRIES_COLUMNS@
       @EXTRA@
  FROM (SELECT 1) AS one
  LEFT JOIN attendee a ON a.conference_id = %(conference_id)s AND @WHO@
  LEFT JOIN person p ON p.id = a.person_id
  LEFT JOIN "order" o ON o.id = a.order_id @ENTRIES_JOIN@
"""
_USED_COUNT = """,
                   (SELECT count(*) FROM product_redemption pr
                     WHERE pr.order_line_item_id = li.id AND pr.attendee_id = a.id
                       AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'redeem'
                                                                  AND v.record_id = pr.id))"""
_USED_LAST_COLUMNS = ", used.n, used.last_at, used.last_station, used.times"
_USED_LAST_JOIN = """
          LEFT JOIN LATERAL (
              SELECT count(*) AS n, max(pr.redeemed_at) AS last_at,
                     (array_agg(pr.station ORDER BY pr.redeemed_at DESC, pr.id DESC))[1]
                         AS last_station,
                     array_agg(pr.redeemed_at ORDER BY pr.redeemed_at, pr.id) AS times
                FROM product_redemption pr
               WHERE pr.order_line_item_id = li.id AND pr.attendee_id = a.id
                       AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'redeem'
                                                                  AND v.record_id = pr.id)
          ) AS used ON li.addon_id IS NOT NULL"""
_ENTRIES_COLUMNS = """,
       (SELECT count(*) FROM check_in ci WHERE ci.attendee_id = a.id
                    AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'checkin'
                                                               AND v.record_id = ci.id)) AS entries,
       first.at AS first_at, first.station AS first_station, first.staff AS first_staff"""
_ENTRIES_JOIN = """
  LEFT JOIN LATERAL (
      SELECT ci.checked_in_at AS at, ci.station, s.name AS staff
        FROM check_in ci LEFT JOIN staff s ON s.id = ci.staff_id
       WHERE ci.attendee_id = a.id
                    AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'checkin'
                                                               AND v.record_id = ci.id)
       ORDER BY ci.checked_in_at, ci.id
       LIMIT 1
  ) AS first ON true"""

_TARGET = """,
       (SELECT json_build_array(t.id, t.slug, t.name, t.daily_limit, t.open_hours, t.valid_dates,
                                t.reentry, t.capacity) FROM {table} t
         WHERE t.conference_id = %(conference_id)s AND t.slug = %(slug)s) AS target"""

# A door scan: the holder's standing scans at the door, when it was last cleared, and for a
# room with a capacity how many are inside (room_count, kept by migration 0015's triggers).
_THE_TARGET = (
    "(SELECT t.id FROM {table} t WHERE t.conference_id = %(conference_id)s AND t.slug = %(slug)s)"
)
_DOOR = """,
       (SELECT json_agg(json_build_array(d.checked_at, d.direction) ORDER BY d.checked_at, d.id)
          FROM door_check d
         WHERE d.attendee_id = a.id AND d.{column} = {target}
           AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'door'
                                                      AND v.record_id = d.id)) AS door_events,
       (SELECT max(c.cleared_at) FROM door_clear c WHERE c.{column} = {target}) AS cleared_at,
       (SELECT CASE WHEN t.capacity IS NOT NULL THEN {inside} END FROM {table} t
         WHERE t.conference_id = %(conference_id)s AND t.slug = %(slug)s) AS inside"""
_INSIDE = "coalesce((SELECT r.inside FROM room_count r WHERE r.{column} = t.id), 0)"


def _door_sql(target: str) -> str:
    table = "ticket_type" if target == "ticket" else "addon"
    column = "ticket_type_id" if target == "ticket" else "addon_id"
    return _DOOR.format(
        column=column,
        table=table,
        target=_THE_TARGET.format(table=table),
        inside=_INSIDE.format(column=column),
    )


_PRIOR = {
    "checkin": """,
       (SELECT json_build_array(r.attendee_id, r.checked_in_at,
                   (SELECT count(*) FROM check_in e WHERE e.attendee_id = r.attendee_id
                       AND e.id < r.id))
          FROM check_in r WHERE r.client_id = %(client_id)s) AS prior""",
    "door": """,
       (SELECT json_build_array(r.attendee_id, r.checked_at)
          FROM door_check r WHERE r.client_id = %(client_id)s) AS prior""",
    "redeem": """,
       (SELECT json_build_array(r.attendee_id, r.redeemed_at, r.order_line_item_id,
                   (SELECT count(*) FROM product_redemption e
                     WHERE e.attendee_id = r.attendee_id
                       AND e.order_line_item_id = r.order_line_item_id AND e.id <= r.id))
          FROM product_redemption r WHERE r.client_id = %(client_id)s) AS prior""",
}


@cache
def facts_sql(action: str, target: str | None, by_id: bool) -> str:
    """The facts statement for one kind of scan ("ticket"/"addon" target or none).

    A redemption needs units used and when the last went; a check-in or a lookup the
    badge (units used, first check-in, how many); a door only the order's lines.
    """
    extra = _PRIOR.get(action, "")
    if target is not None:
        extra += _TARGET.format(table="ticket_type" if target == "ticket" else "addon")
        if action == "door":
            extra += _door_sql(target)
    sql = _FACTS.replace("@EXTRA@", extra)
    if action == "redeem":
        sql = sql.replace("@USED_COLUMNS@", _USED_LAST_COLUMNS)
        sql = sql.replace("@USED_JOIN@", _USED_LAST_JOIN)
    else:
        sql = sql.replace("@USED_COLUMNS@", _USED_COUNT if action != "door" else "")
        sql = sql.replace("@USED_JOIN@", "")
    with_entries = action in ("checkin", "lookup")
    sql = sql.replace("@ENTRIES_COLUMNS@", _ENTRIES_COLUMNS if with_entries else "")
    sql = sql.replace("@ENTRIES_JOIN@", _ENTRIES_JOIN if with_entries else "")
    who = "a.id = %(attendee_id)s" if by_id else "a.access_code = %(code)s"
    return " ".join(sql.replace("@WHO@", who).split())


# The facts read's parameters, in the order of migration 0018's functions, with server types.
FACTS_PARAMETERS = (
    ("conference_id", "integer"),
    ("code", "text"),
    ("attendee_id", "integer"),
    ("client_id", "uuid"),
    ("slug", "text"),
)


def facts_function(action: str, target: str | None, by_id: bool) -> str:
    """The name of migration 0018's function that runs ``facts_sql(action, target, by_id)``."""
    return f"station_facts_{action}_{target or 'none'}_{'id' if by_id else 'code'}"


@cache
def facts_call(action: str, target: str | None, by_id: bool) -> str:
    """The facts read through its function: the same parameters, the same row."""
    args = ", ".join(f"%({name})s" for name, _type in FACTS_PARAMETERS)
    return f"SELECT * FROM {facts_function(action, target, by_id)}({args})"


CHECK_IN = (
    "SELECT * FROM station_check_in(%(attendee)s, %(conference)s, %(first)s, %(reason)s, "
    "%(client_id)s, %(client_at)s, %(station)s, %(staff)s, %(note)s, %(code)s, "
    "%(versions)s::bigint[], %(records)s::bigint[])"
)
ADMIT = (
    "SELECT * FROM station_admit(%(attendee)s, %(conference)s, %(kind)s, %(product)s, "
    "%(direction)s, %(seen)s, %(reason)s, %(client_id)s, %(client_at)s, %(station)s, "
    "%(staff)s, %(code)s, %(versions)s::bigint[], %(records)s::bigint[])"
)
REDEEM = (
    "SELECT * FROM station_redeem_line(%(attendee)s, %(conference)s, %(line)s, %(used)s, "
    "%(reason)s, %(message)s, %(client_id)s, %(client_at)s, %(station)s, %(staff)s, "
    "%(note)s, %(code)s, %(versions)s::bigint[], %(records)s::bigint[])"
)
VOID = (
    "SELECT * FROM station_void(%(conference)s, %(kind)s, %(record)s, %(client_id)s, "
    "%(client_at)s, %(station)s, %(staff)s, %(pin_hash)s, %(reason)s)"
)
LOG_SCAN = (
    "SELECT station_log_scan(%(conference)s, %(attendee)s, %(action)s, %(reason)s, "
    "%(message)s, %(client_at)s, %(station)s, %(staff)s, %(code)s) AS id"
)

# Migration 0013: the server adds its time and, for an overspend, who else gave the unit.
OFFLINE_CONFLICT = (
    "SELECT station_offline_conflict(%(conference)s, %(attendee)s, %(kind)s, %(action)s, "
    "%(code)s, %(line)s, %(client_id)s, %(client_at)s, %(station)s, %(staff)s, %(reason)s, "
    "%(message)s) AS inserted"
)


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value).astimezone(UTC)


class PgStore:
    # The facts read goes through migration 0018's functions, whose plans the server keeps
    # with or without prepared statements; benchmarks/pooler_cost.py turns it off to time
    # the plain statement.
    facts_in_functions = True

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._held: HotConnection | None = None  # the engine's held connection, once used
        self._clock = clock
        self._conferences: dict[str, ConferenceRef] = {}
        # The server's recording clock less the station's, from the last answer that
        # carried it: a decision on the station's clock (snapshot first, station.offline.first)
        # is taken only while the two agree. None until the first answer.
        self.skew: timedelta | None = None

    def saw_server_time(self, at: datetime) -> None:
        self.skew = at - self._clock()

    def row(self, sql: str, params: dict[str, Any]) -> Any:
        held = self._held
        if held is None:
            from station.services.hot_connection import hot_connection

            held = self._held = hot_connection(self._engine)
        with database_errors():
            return held.fetch_one(sql, params)

    def conference(self, slug: str) -> ConferenceRef:
        ref = self._conferences.get(slug)
        if ref is None:
            row = self.row(_CONFERENCE, {"slug": slug})
            if row is None:
                raise unknown_conference(slug)
            ref = ConferenceRef(row.id, row.slug, display_safe(row.name), row.timezone)
            self._conferences[slug] = ref
        return ref

    @contextmanager
    def attempt(
        self, ctx: StationContext, request: ScanRequest, *, attendee_id: int | None = None
    ) -> Iterator[PgAttempt]:
        yield PgAttempt(self, ctx, request, self.conference(ctx.conference), attendee_id)

    @contextmanager
    def void_attempt(
        self, ctx: StationContext, request: VoidRequest, target: tuple[RecordKind, int] | None
    ) -> Iterator[PgVoidAttempt]:
        yield PgVoidAttempt(self, ctx, request, self.conference(ctx.conference), target)

    def reads(self) -> AbstractContextManager[Connection]:
        """A short read-only transaction for the reads of a void (not a hot path)."""
        return self._engine.connect()

    def scan_records(self, ctx: StationContext, code: str) -> tuple[ScanRecord, ...]:
        conference = self.conference(ctx.conference)
        with database_errors(), self.reads() as connection:
            return void_queries.for_attendee(connection, conference.id, code)

    def record_conflict(self, ctx: StationContext, conflict: ConflictReport) -> bool:
        row = self.row(
            OFFLINE_CONFLICT,
            {
                "conference": self.conference(ctx.conference).id,
                "attendee": conflict.attendee_id,
                "kind": conflict.kind,
                "action": conflict.action,
                "code": display_safe(conflict.code, limit=256),
                "line": conflict.line_item_id,
                "client_id": conflict.client_id,
                "client_at": conflict.client_at,
                "station": ctx.station[:100],
                "staff": conflict.staff_id,
                "reason": conflict.reason[:40],
                "message": conflict.message[:300],
            },
        )
        return bool(row.inserted)

    def log_refusal(
        self,
        ctx: StationContext,
        action: str,
        code: str,
        error: StationError,
        *,
        client_at: datetime | None = None,
    ) -> None:
        self.row(
            LOG_SCAN,
            {
                "conference": ctx.conference,
                "attendee": error.attendee_id,
                "action": action,
                "reason": str(error.reason),
                "message": error.message[:300],
                "client_at": client_at or self._clock(),
                "station": ctx.station[:100],
                "staff": ctx.staff_id,
                "code": display_safe(code, limit=256),
            },
        )


class PgAttempt:
    final = True  # facts read from the database: a refusal on them is the answer

    def __init__(
        self,
        store: PgStore,
        ctx: StationContext,
        request: ScanRequest,
        conference: ConferenceRef,
        attendee_id: int | None,
    ) -> None:
        self._store = store
        self._ctx = ctx
        self._request = request
        self._conference = conference
        self._attendee_id = attendee_id
        # The row versions the decision rests on, when not read just now (store_first).
        self.versions: str | None = None  # "{1,2,3}", a bigint[] literal
        self.records: str | None = None  # and the attendee's newest records (0020)

    def facts(self) -> ScanFacts:
        request = self._request
        wanted = request.wanted_product()
        kind, slug = wanted if wanted is not None else (None, "")
        by_id = self._attendee_id is not None
        if self._store.facts_in_functions:
            sql = facts_call(request.action, kind, by_id)
        else:
            sql = facts_sql(request.action, kind, by_id)
        row = self._store.row(
            sql,
            {
                "conference_id": self._conference.id,
                "code": request.code,
                "attendee_id": self._attendee_id,
                "client_id": request.client_id,
                "slug": slug,
            },
        )
        target = None
        if kind is not None and row.target is not None:
            target_id, target_slug, target_name, *rule_columns = row.target
            target = Target("ticket" if kind == "ticket" else "addon", target_id, target_slug,
                            target_name, _rules(*rule_columns))  # fmt: skip
        door = None
        if request.action == "door" and row.id is not None and target is not None:
            door = DoorState(
                events=tuple(
                    (_time(at), "out" if direction == "out" else "in")
                    for at, direction in (row.door_events or ())
                ),
                cleared_at=_time(row.cleared_at) if row.cleared_at is not None else None,
                inside=int(row.inside) if row.inside is not None else None,
            )
        prior = None
        raw_prior = getattr(row, "prior", None)
        if raw_prior is not None:
            if request.action == "redeem":
                prior = Prior(raw_prior[0], _time(raw_prior[1]), line_item_id=raw_prior[2],
                              used_then=int(raw_prior[3]))  # fmt: skip
            elif request.action == "checkin":
                prior = Prior(raw_prior[0], _time(raw_prior[1]), entries_before=int(raw_prior[2]))
            else:
                prior = Prior(raw_prior[0], _time(raw_prior[1]))
        return ScanFacts(
            request=request,
            conference_id=self._conference.id,
            timezone=self._conference.timezone,
            holder=_holder(row) if row.id is not None else None,
            target=target,
            target_missing=kind is not None and target is None,
            prior=prior,
            now=self._seen_now(row.now),
            door=door,
        )

    def record(self, accept: Accept, code: str) -> Recorded | None:
        ctx, request = self._ctx, self._request
        params: dict[str, Any] = {
            "attendee": accept.attendee_id,
            "conference": self._conference.id,
            "reason": str(accept.reason),
            "client_id": request.client_id,
            "client_at": request.client_at or self._store._clock(),
            "station": ctx.station[:100],
            "staff": ctx.staff_id,
            "code": display_safe(code, limit=256),
            "versions": self.versions,
            "records": self.records,
        }
        if accept.action == "checkin":
            params["first"], params["note"] = accept.first, request.note
            row = self._store.row(CHECK_IN, params)
        elif accept.action == "door":
            assert accept.target is not None
            params["kind"], params["product"] = accept.target.kind, accept.target.id
            params["direction"], params["seen"] = accept.direction, accept.door_seen
            row = self._store.row(ADMIT, params)
        else:
            assert accept.line is not None
            params["line"], params["used"] = accept.line.id, accept.line.used
            params["message"], params["note"] = accept.message[:300], request.note
            row = self._store.row(REDEEM, params)
        if row.outcome != "ok":  # stale or duplicate: nothing written, decide again
            return None
        at = _time(row.recorded_at)
        self._store.saw_server_time(at)
        return Recorded(at=at, staff_name=getattr(row, "staff_name", None))

    def _seen_now(self, raw: Any) -> datetime:
        now = _time(raw)
        self._store.saw_server_time(now)
        return now

    def log_refusal(self, error: StationError, code: str) -> None:
        self._store.log_refusal(
            self._ctx, self._request.action, code, error, client_at=self._request.client_at
        )


class PgVoidAttempt:
    """A void: the record's facts in one read, then station_void() (migration 0012)."""

    def __init__(
        self,
        store: PgStore,
        ctx: StationContext,
        request: VoidRequest,
        conference: ConferenceRef,
        target: tuple[RecordKind, int] | None,
    ) -> None:
        self._store = store
        self._ctx = ctx
        self._request = request
        self._conference = conference
        self._target = target

    def facts(self) -> VoidFacts:
        with database_errors(), self._store.reads() as connection:
            return void_facts(connection, self._ctx, self._request, self._conference, self._target)

    def record(
        self, accept: VoidAccept, staff_id: int | None, pin_hash: str | None
    ) -> Recorded | None:
        row = self._store.row(
            VOID,
            {
                "conference": self._conference.id,
                "kind": accept.kind,
                "record": accept.record_id,
                "client_id": self._request.client_id,
                "client_at": self._store._clock(),
                "station": self._ctx.station[:100],
                "staff": staff_id,
                "pin_hash": pin_hash,
                "reason": accept.reason[:300],
            },
        )
        if row.outcome != "ok":
            return None
        return Recorded(at=_time(row.recorded_at))


def _rules(
    daily_limit: int | None,
    hours: str | None,
    valid_dates: str | None,
    reentry: str | None,
    capacity: int | None,
) -> ProductRules:
    try:
        return ProductRules.from_columns(daily_limit, hours, valid_dates, reentry, capacity)
    except RuleSyntaxError as error:
        raise ConfigurationError(f"A product's rules cannot be read: {error}") from None


def _holder(row: Any) -> Holder:
    """The holder from whatever the action's statement read (missing parts stay empty)."""
    lines = []
    for li in row.lines or ():
        line_id, ticket_id, addon_id, slug, name, description, attention, quantity, *rest = li
        rule_columns, usage = rest[:5], rest[5:]
        used, last_at, last_station, times = (*usage, None, None, None, None)[:4]
        lines.append(
            Line(
                id=line_id,
                kind="addon" if addon_id is not None else "ticket",
                product_id=addon_id if addon_id is not None else ticket_id,
                slug=slug or "",
                name=name or "",
                description=description or "",
                quantity=quantity,
                used=int(used or 0),
                last_used_at=_time(last_at) if last_at else None,
                last_station=last_station or "",
                attention=attention or "",
                rules=_rules(*rule_columns),
                used_times=tuple(_time(at) for at in times or ()),
            )
        )
    entries = int(getattr(row, "entries", 0) or 0)
    first = None
    if getattr(row, "first_at", None) is not None:
        first = FirstEntry(_time(row.first_at), row.first_station, row.first_staff)
    return Holder(
        attendee_id=row.id,
        access_code=row.access_code,
        first_name=row.first_name,
        last_name=row.last_name,
        username=row.username,
        email=row.email or "",
        order_status=OrderStatus(row.status) if row.status else None,
        order_reference=row.reference,
        checked_in=row.checked_in_at is not None or entries > 0,
        first_entry=first,
        entries=entries,
        lines=tuple(lines),
        order_attention=row.order_attention or "",
    )
