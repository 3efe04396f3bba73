"""The scan's facts read in PL/pgSQL functions, so the server keeps its plan

- PostgreSQL: one function per kind of facts read (station_facts_<action>_<target>_<code|id>),
  generated from store_pg.facts_sql by station.services.facts_functions. Behind PgBouncer
  a station prepares no statement; PL/pgSQL keeps the plan of the read per server backend
  instead, so the scan is not planned again each time. SECURITY INVOKER: the caller's
  rights and row-level security apply as to the plain statement.
- FINGERPRINT pins what this migration builds: when facts_sql changes, a test fails until
  a new migration builds the functions again (facts_functions.build) and pins the new one.
- SQLite: nothing (no server-side plans to keep).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

from alembic import op

from station.services import facts_functions

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINGERPRINT = "e21391336d2d290a"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    facts_functions.build(bind.exec_driver_sql, lambda sql: list(bind.exec_driver_sql(sql).all()))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in facts_functions.drop_statements():
        op.execute(statement)
