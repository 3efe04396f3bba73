"""A least-privilege PostgreSQL role for stations.

A station reads reference data and records scans only by calling the guarded
functions of migration 0007 (check-in, door admission, redemption, a refused
scan's log row), which refuse a record for another conference, on an inactive
order, for a line not on the attendee's own order or past its quantity, and
stamp the server's time. The role has no INSERT, UPDATE or DELETE on any table
and no sequence, so a lost or stolen station credential cannot rewrite who
bought what, forge a redemption, or undo a check-in.
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
    "station_check_in(integer, integer, boolean, text, uuid, timestamptz, text, integer, text, "
    "text)",
    "station_admit(integer, integer, text, integer, text, uuid, timestamptz, text, integer, text)",
    "station_redeem_line(integer, integer, integer, integer, text, text, uuid, timestamptz, "
    "text, integer, text, text)",
    "station_log_scan(text, integer, text, text, text, timestamptz, text, integer, text)",
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

    return [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
        f"THEN CREATE ROLE {who} LOGIN; END IF; END $$",
        # Start from nothing, so running it again also takes back anything granted by hand.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {where} FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {where} FROM {who}",
        f"GRANT USAGE ON SCHEMA {where} TO {who}",
        f"GRANT SELECT ON {tables(READ_ONLY)} TO {who}",
        f"GRANT SELECT ON {where}.attendee TO {who}",
        # Records only through the guarded functions: no INSERT, UPDATE or DELETE here.
        f"GRANT SELECT ON {tables(APPEND_ONLY)} TO {who}",
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
