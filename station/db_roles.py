"""A least-privilege PostgreSQL role for stations.

A station reads reference data and records scans only by calling the guarded
functions of migration 0008 (check-in, door admission, redemption, a refused
scan's log row; 0012's void and 0013's offline conflict), which refuse a record
for another conference, on an inactive order, for a line not on the attendee's
own order or past its quantity, and stamp the server's time. The role has no
INSERT, UPDATE or DELETE on any table and no sequence, so a lost or stolen
station credential cannot rewrite who bought what, forge a redemption, or undo
a check-in.

It never reads a PIN hash: staff is readable without its pin_hash column, and
operators sign in through functions (migration 0007). It sees one conference's
people, orders and scan records: row-level security (migration 0007) with a
policy of its own on each of those tables, the conference's id in it. Role defaults end a
transaction left idle and a statement left running (a client may lower or
raise them for its own session: they are defaults, not limits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from station.services.errors import ConfigurationError
from station.slugs import SLUG_CHARACTERS

if TYPE_CHECKING:
    from sqlalchemy import Engine

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

READ_ONLY = (
    "conference",
    "person",
    "ticket_type",
    "addon",
    "order",
    "order_line_item",
    "alembic_version",
)
APPEND_ONLY = (
    "check_in",
    "door_check",
    "product_redemption",
    "scan_log",
    "scan_void",
    "offline_conflict",
    "door_clear",
)
# Kept by the database's own triggers (migration 0015's room counts): read, never written.
KEPT = ("room_count",)
FUNCTIONS = (
    # Migration 0020: each guarded write also takes the row versions and records it saw.
    "station_check_in(integer, integer, boolean, text, uuid, timestamptz, text, integer, text, "
    "text, bigint[], bigint[])",
    # Migration 0014: a door's direction and premise; "everyone out"; the recording clock.
    "station_admit(integer, integer, text, integer, text, integer, text, uuid, timestamptz, "
    "text, integer, text, bigint[], bigint[])",
    "station_door_clear(integer, text, integer, uuid, timestamptz, text, integer, text)",
    "station_now()",
    "station_redeem_line(integer, integer, integer, integer, text, text, uuid, timestamptz, "
    "text, integer, text, text, bigint[], bigint[])",
    "station_log_scan(text, integer, text, text, text, timestamptz, text, integer, text)",
    # Migration 0012: a void of a record, and by whom.
    "station_void(integer, text, bigint, uuid, timestamptz, text, integer, text, text)",
    # Migration 0013: a replayed offline scan the server refused.
    "station_offline_conflict(integer, integer, text, text, text, integer, uuid, timestamptz, "
    "text, integer, text, text)",
    # Migration 0017: the station's heartbeat (it cannot read the table).
    "station_heartbeat(text, text, text, text, text, text, boolean, boolean, integer, "
    "timestamptz, integer, integer, double precision, double precision, double precision, "
    "timestamptz)",
)

# Every column of staff but pin_hash.
STAFF_COLUMNS = ("id", "name", "active", "supervisor")
# Sign-in without the hash (migration 0007).
PIN_FUNCTIONS = (
    "station_staff()",
    "station_pin_parameters(text)",
    "station_check_pin(integer, text)",
)
# Table -> the rows of conference %s a station role sees and may write (row-level security,
# enabled by migration 0007). @S@ is the schema. The id is a constant in each role's own
# policy: no look-up per statement (see the README for what the look-up cost).
CONFERENCE_POLICIES = {
    "attendee": "conference_id = %s",
    "order": "conference_id = %s",
    # One index probe per row read. (IN (SELECT ...) instead made hashed subplans that read
    # the whole conference in every lookup: 5-10 times slower; see benchmarks/rls_lookup.py.)
    "order_line_item": (
        'EXISTS (SELECT 1 FROM @S@."order" o WHERE o.id = order_line_item.order_id '
        "AND o.conference_id = %s)"
    ),
    "person": (
        "EXISTS (SELECT 1 FROM @S@.attendee a WHERE a.person_id = person.id "
        "AND a.conference_id = %s)"
    ),
    "check_in": "conference_id = %s",
    "door_check": "conference_id = %s",
    "product_redemption": "conference_id = %s",
    "scan_log": "conference_id = %s",
    "scan_void": "conference_id = %s",
    "offline_conflict": "conference_id = %s",
    "door_clear": "conference_id = %s",
    "room_count": "conference_id = %s",
}

IDLE_IN_TRANSACTION_TIMEOUT_MS = 5_000
STATEMENT_TIMEOUT_MS = 5_000
LOCK_TIMEOUT_MS = 3_000
MIN_TIMEOUT_MS = 100
MAX_TIMEOUT_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class RoleTimeouts:
    """Role defaults, in milliseconds: what a session of the role gets unless it sets its own.

    The station sets its own when it connects (``[database]`` settings); these
    hold for any other client of the credential, psql included.
    """

    idle_in_transaction_ms: int = IDLE_IN_TRANSACTION_TIMEOUT_MS
    statement_ms: int = STATEMENT_TIMEOUT_MS
    lock_ms: int = LOCK_TIMEOUT_MS

    def __post_init__(self) -> None:
        for value, what in (
            (self.idle_in_transaction_ms, "Idle-in-transaction timeout"),
            (self.statement_ms, "Statement timeout"),
            (self.lock_ms, "Lock timeout"),
        ):
            if not MIN_TIMEOUT_MS <= value <= MAX_TIMEOUT_MS:
                raise ConfigurationError(
                    f"{what} must be {MIN_TIMEOUT_MS}-{MAX_TIMEOUT_MS} ms (got {value})."
                )


_SLUG = re.compile(rf"{SLUG_CHARACTERS}{{1,100}}\Z")  # Django's rule, at most 100


def _identifier(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ConfigurationError(
            f"{what} name must be lower-case letters, digits and _ (got {name!r})."
        )
    return f'"{name}"'


def _conference_slug(slug: str) -> str:
    if not _SLUG.match(slug):
        raise ConfigurationError(
            f"Conference slug must be letters, digits, - and _ (got {slug!r})."
        )
    return slug


def _policies_sql(who: str, role: str, where: str, slug: str) -> str:
    """One block: the role's policy on each table, for the conference with that slug."""
    lines = []
    for table, visible in CONFERENCE_POLICIES.items():
        on = f'{where}."{table}"'
        expression = visible.replace("@S@", where)
        lines.append(f"    DROP POLICY IF EXISTS {who} ON {on};")
        lines.append(
            f"    EXECUTE format('CREATE POLICY {who} ON {on} TO {who} USING ({expression})', "
            "v_conference);"
        )
    body = "\n".join(lines)
    return (
        "DO $$\nDECLARE\n    v_conference integer;\nBEGIN\n"
        f"    SELECT c.id INTO v_conference FROM {where}.conference c WHERE c.slug = '{slug}';\n"
        "    IF v_conference IS NULL THEN\n"
        f"        RAISE EXCEPTION 'No conference {slug} in this database';\n"
        "    END IF;\n"
        f"{body}\n"
        # The same binding, for SECURITY DEFINER functions (station_caller_conference()).
        f"    INSERT INTO {where}.station_role_conference (role_name, conference_id)\n"
        f"    VALUES ('{role}', v_conference) ON CONFLICT (role_name)\n"
        "    DO UPDATE SET conference_id = excluded.conference_id;\n"
        "END $$"
    )


def station_role_sql(
    role: str,
    conference: str,
    schema: str = "public",
    timeouts: RoleTimeouts | None = None,
) -> list[str]:
    """The statements that create (if missing), grant and bind the station role, in order.

    ``conference`` is the slug of the one conference whose people, orders and scan
    records the role sees; with no such conference, the statements fail (in the
    transaction of them all).
    """
    who = _identifier(role, "Role")
    where = _identifier(schema, "Schema")
    slug = _conference_slug(conference)
    limits = timeouts or RoleTimeouts()

    def tables(names: tuple[str, ...]) -> str:
        return ", ".join(f'{where}."{name}"' for name in names)

    return [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
        f"THEN CREATE ROLE {who} LOGIN; END IF; END $$",
        # Start from nothing, so running it again also takes back anything granted by hand.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {where} FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {where} FROM {who}",
        f"GRANT USAGE ON SCHEMA {where} TO {who}",
        f"GRANT SELECT ON {tables(READ_ONLY)} TO {who}",
        f"GRANT SELECT ({', '.join(STAFF_COLUMNS)}) ON {where}.staff TO {who}",
        f"GRANT SELECT ON {where}.attendee TO {who}",
        # Records only through the guarded functions: no INSERT, UPDATE or DELETE here.
        f"GRANT SELECT ON {tables(APPEND_ONLY)} TO {who}",
        f"GRANT SELECT ON {tables(KEPT)} TO {who}",
        *(f"GRANT EXECUTE ON FUNCTION {where}.{f} TO {who}" for f in FUNCTIONS),
        *(f"GRANT EXECUTE ON FUNCTION {where}.{f} TO {who}" for f in PIN_FUNCTIONS),
        _policies_sql(who, role, where, slug),
        f"ALTER ROLE {who} SET idle_in_transaction_session_timeout = "
        f"{limits.idle_in_transaction_ms}",
        f"ALTER ROLE {who} SET statement_timeout = {limits.statement_ms}",
        f"ALTER ROLE {who} SET lock_timeout = {limits.lock_ms}",
    ]


def grant_station_role(
    engine: Engine,
    role: str,
    conference: str,
    schema: str | None = None,
    timeouts: RoleTimeouts | None = None,
) -> list[str]:
    """Create, grant and bind the role on the engine's database; returns what was run."""
    if engine.dialect.name != "postgresql":
        raise ConfigurationError("Station roles are for PostgreSQL; SQLite has no roles.")
    statements = station_role_sql(role, conference, schema or "public", timeouts)
    with engine.begin() as connection:
        where = _identifier(schema or "public", "Schema")
        slugs = [
            str(slug)
            for slug in connection.exec_driver_sql(
                f"SELECT slug FROM {where}.conference ORDER BY slug"
            ).scalars()
        ]
        if conference not in slugs:
            listed = ", ".join(slugs[:10]) + (", …" if len(slugs) > 10 else "")
            raise ConfigurationError(
                f"No conference {conference!r} in this database "
                f"({'known: ' + listed if slugs else 'it has none yet'})."
            )
        for statement in statements:
            # A '%' of format() in the policies' block is not a driver placeholder.
            connection.exec_driver_sql(statement.replace("%", "%%"))
    return statements
