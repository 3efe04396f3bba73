"""A least-privilege PostgreSQL role for stations.

A station reads reference data and writes only what a scan records: check-ins,
door checks, redemptions and scan-log rows, each checked by the database's
guards (migration 0007: same conference, an active order, a line of the
attendee's own order with a unit left, the server's time). It can update and
delete nothing, not even an attendee's first check-in time (a check-in's guard
sets it), and cannot read PIN hashes: operators are listed and PINs checked by
functions. Its row lock on an attendee, which the redemption limit relies on,
is taken by a function too. Role defaults cut off a transaction left idle or a
statement left running, so a stolen credential cannot sit on locks by default.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine

from station.services.errors import ConfigurationError

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

READ_ONLY = (
    "conference",
    "person",
    "attendee",
    "ticket_type",
    "addon",
    "order",
    "order_line_item",
    "alembic_version",
)
APPEND_ONLY = ("check_in", "door_check", "product_redemption", "scan_log")
# Every column of staff but pin_hash.
STAFF_COLUMNS = ("id", "name", "active")
FUNCTIONS = (
    "station_redeem_original(uuid, text)",
    "station_redeem(text, text, text, text, integer, uuid, timestamptz, text, integer, text, "
    "jsonb, text)",
    "station_display_safe(text, integer)",
    "station_lock_attendee(integer)",
    "station_staff()",
    "station_pin_parameters(text)",
    "station_check_pin(integer, text)",
)
# Role defaults: a transaction idle this long is ended, a statement running this long
# cancelled (the station sets its own, shorter ones when it connects).
IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000
STATEMENT_TIMEOUT_MS = 15_000


def _identifier(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ConfigurationError(
            f"{what} name must be lower-case letters, digits and _ (got {name!r})."
        )
    return f'"{name}"'


def station_role_sql(
    role: str,
    schema: str = "public",
    *,
    idle_in_transaction_timeout_ms: int = IDLE_IN_TRANSACTION_TIMEOUT_MS,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
) -> list[str]:
    """The statements that create (if missing) and grant the station role, in order."""
    for value, what in (
        (idle_in_transaction_timeout_ms, "Idle-in-transaction timeout"),
        (statement_timeout_ms, "Statement timeout"),
    ):
        if value < 1:
            raise ConfigurationError(f"{what} must be at least 1 ms (got {value}).")
    who = _identifier(role, "Role")
    where = _identifier(schema, "Schema")

    def tables(names: tuple[str, ...]) -> str:
        return ", ".join(f'{where}."{name}"' for name in names)

    sequences = ", ".join(f'{where}."{name}_id_seq"' for name in APPEND_ONLY)
    return [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
        f"THEN CREATE ROLE {who} LOGIN; END IF; END $$",
        # Start from nothing, so running it again also takes back anything granted by hand.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {where} FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {where} FROM {who}",
        f"GRANT USAGE ON SCHEMA {where} TO {who}",
        f"GRANT SELECT ON {tables(READ_ONLY)} TO {who}",
        f"GRANT SELECT ({', '.join(STAFF_COLUMNS)}) ON {where}.staff TO {who}",
        f"GRANT SELECT, INSERT ON {tables(APPEND_ONLY)} TO {who}",
        f"GRANT USAGE ON SEQUENCE {sequences} TO {who}",
        *(f"GRANT EXECUTE ON FUNCTION {where}.{f} TO {who}" for f in FUNCTIONS),
        f"ALTER ROLE {who} SET idle_in_transaction_session_timeout = "
        f"{int(idle_in_transaction_timeout_ms)}",
        f"ALTER ROLE {who} SET statement_timeout = {int(statement_timeout_ms)}",
    ]


def grant_station_role(
    engine: Engine,
    role: str,
    schema: str | None = None,
    *,
    idle_in_transaction_timeout_ms: int = IDLE_IN_TRANSACTION_TIMEOUT_MS,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
) -> list[str]:
    """Create and grant the role on the engine's database; returns what was run."""
    if engine.dialect.name != "postgresql":
        raise ConfigurationError("Station roles are for PostgreSQL; SQLite has no roles.")
    statements = station_role_sql(
        role,
        schema or "public",
        idle_in_transaction_timeout_ms=idle_in_transaction_timeout_ms,
        statement_timeout_ms=statement_timeout_ms,
    )
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    return statements
