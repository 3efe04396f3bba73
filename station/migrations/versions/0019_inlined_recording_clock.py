"""The recording clock, station_now(), without a search_path of its own

0014 gave station_now() ``SET search_path``. A function with a SET clause is never
inlined: every call switches search_path on and back off, and each switch makes the
calling PL/pgSQL function check its cached plans again. A check-in's write called it
six times; measured on one connection (alternated, 2 cores) that was about a third of
every scan: check-in 2.37 -> 1.61 ms and meal redeem 2.12 -> 1.54 ms per scan with
this change alone.

- PostgreSQL: the same clock, written so the planner inlines it into each caller: a
  plain SQL expression with no SET clause. Nothing in it depends on search_path: the
  functions are pg_catalog's, named so, and the table is named with its schema. It is
  SECURITY INVOKER as before; inlined into a guarded function it runs there under that
  function's search_path and rights, which is where it matters.
- SQLite: nothing (the station's clock is the recording clock there).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 12:40:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_NOW = r"""
CREATE OR REPLACE FUNCTION station_now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN COALESCE(pg_catalog.current_setting('station.clock_offset', true), '') = ''
            THEN pg_catalog.now()
        WHEN pg_catalog.has_table_privilege(session_user, @RECORDS@, 'INSERT')
            THEN pg_catalog.now()
                 + pg_catalog.current_setting('station.clock_offset')::pg_catalog.interval
        ELSE pg_catalog.now()
    END
$$;
"""


def _schema() -> str:
    return str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())


def pg_now(schema: str) -> str:
    """0019's station_now() for ``schema`` (unquoted name)."""
    quoted = '"' + schema.replace('"', '""') + '"'
    records = "'" + f"{quoted}.product_redemption".replace("'", "''") + "'"
    return PG_NOW.replace("@RECORDS@", records)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(pg_now(_schema()))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    path = Path(__file__).with_name("0014_event_rules.py")
    spec = importlib.util.spec_from_file_location("station_migration_0014", path)
    assert spec is not None and spec.loader is not None
    r0014 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(r0014)
    quoted = '"' + _schema().replace('"', '""') + '"'
    clock = r0014.pg_functions(quoted)[0]
    assert clock.lstrip().startswith("CREATE FUNCTION station_now()")
    op.execute(clock.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
