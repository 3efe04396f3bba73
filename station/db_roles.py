"""A least-privilege PostgreSQL role for stations.

A station reads reference data and writes only what a scan records: check-ins,
door checks, redemptions and scan-log rows, plus an attendee's first check-in
time. It can delete nothing and change no order, line item or quantity, so a
lost or compromised station laptop cannot rewrite who bought what. (Locking an
attendee row, which the redemption limit relies on, needs an UPDATE right on
some column of it: the role has exactly the two check-in columns.)
"""

from __future__ import annotations

import re

from sqlalchemy import Engine

from station.services.errors import ConfigurationError

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

READ_ONLY = (
    "conference",
    "person",
    "staff",
    "ticket_type",
    "addon",
    "order",
    "order_line_item",
    "alembic_version",
)
APPEND_ONLY = ("check_in", "door_check", "product_redemption", "scan_log")
FUNCTIONS = (
    "station_redeem_original(uuid, text)",
    "station_redeem(text, text, text, text, integer, uuid, timestamptz, text, integer, text, "
    "jsonb, text)",
    "station_display_safe(text, integer)",
)


def _identifier(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ConfigurationError(
            f"{what} name must be lower-case letters, digits and _ (got {name!r})."
        )
    return f'"{name}"'


def station_role_sql(role: str, schema: str = "public") -> list[str]:
    """The statements that create (if missing) and grant the station role, in order."""
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
        f"GRANT SELECT ON {where}.attendee TO {who}",
        f"GRANT UPDATE (checked_in_at, updated_at) ON {where}.attendee TO {who}",
        f"GRANT SELECT, INSERT ON {tables(APPEND_ONLY)} TO {who}",
        f"GRANT USAGE ON SEQUENCE {sequences} TO {who}",
        *(f"GRANT EXECUTE ON FUNCTION {where}.{f} TO {who}" for f in FUNCTIONS),
    ]


def grant_station_role(engine: Engine, role: str, schema: str | None = None) -> list[str]:
    """Create and grant the role on the engine's database; returns what was run."""
    if engine.dialect.name != "postgresql":
        raise ConfigurationError("Station roles are for PostgreSQL; SQLite has no roles.")
    statements = station_role_sql(role, schema or "public")
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    return statements
