"""The station role: PINs checked without reading hashes, one conference's people only

What a station's credential (the role of `station db grant-station-role`) could
read: every operator's PIN hash (a 4-digit PIN falls to an offline search in
minutes) and every conference's people, orders and scan records. Now (PostgreSQL):

- station_staff(), station_pin_parameters(name) and station_check_pin(id, hash)
  sign operators in without the hash ever leaving the database: a station gets
  a PIN's scheme and salt, hashes the typed PIN itself (station.pins) and the
  database compares. A miss costs a second, and the checks of one operator's
  PIN queue one at a time (an advisory lock held through that second), so more
  connections do not guess faster: at most about one wrong PIN a second per
  operator. The station role keeps SELECT on staff's other columns only.
- Row-level security is on for attendee, person, "order", order_line_item and
  the scan records. Each station role gets its own policies from `station db
  grant-station-role NAME --conference SLUG` (station.db_roles): the rows of
  that one conference, its id written into the policy as a constant (looking
  it up per statement cost 20-150 % more per lookup; see the README).
  A role without policies sees none of these rows. The tables' owner
  (migrations, import, demo, report, export) is not subject to them, nor are
  superusers, nor SECURITY DEFINER functions the owner owns. Until a station
  role is granted again with --conference it sees nobody.
- station_role_conference records the same binding for those functions, which
  see every conference: station_caller_conference() is the conference of the
  login role calling (session_user), NULL for a role that is not a station's.

SQLite gets the table (the models describe one schema) and nothing else: there
the file is the station's own.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each advisory lock of station_check_pin() is (this, staff id): "PIN" in ASCII.
PIN_LOCK_CLASS = 0x50494E

PG_FUNCTIONS = rf"""
-- The conference of the station role that logged in, for SECURITY DEFINER functions (in
-- which current_user is their owner). NULL: not a station role.
CREATE FUNCTION station_caller_conference() RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
    SELECT b.conference_id FROM station_role_conference b WHERE b.role_name = session_user
$$;

-- Operators as a station lists them: whether they have a PIN, never the hash.
CREATE FUNCTION station_staff() RETURNS TABLE (id integer, name text, has_pin boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
    SELECT s.id, s.name::text, s.pin_hash IS NOT NULL FROM staff s WHERE s.active ORDER BY s.name
$$;

-- An active operator by name, with their PIN's scheme and salt ("scrypt$<salt>"; NULL
-- without a PIN, '' for a hash of another form): enough to hash a typed PIN the same
-- way, nothing to test guesses against.
CREATE FUNCTION station_pin_parameters(p_name text)
RETURNS TABLE (id integer, name text, parameters text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
    SELECT s.id, s.name::text,
           CASE WHEN s.pin_hash IS NULL THEN NULL
                WHEN s.pin_hash ~ '^[a-z0-9]+\$[^$]+\$[^$]+$'
                THEN split_part(s.pin_hash, '$', 1) || '$' || split_part(s.pin_hash, '$', 2)
                ELSE '' END
      FROM staff s WHERE s.name = p_name AND s.active
$$;

-- Whether a PIN hashed with those parameters is the active operator's. Checks of one
-- operator take turns (the lock lasts to the end of the caller's transaction), and a
-- miss costs a second before it answers: about one guess a second per operator, however
-- many connections ask.
CREATE FUNCTION station_check_pin(p_staff_id integer, p_pin_hash text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
DECLARE
    v_match boolean;
BEGIN
    PERFORM pg_advisory_xact_lock({PIN_LOCK_CLASS}, p_staff_id);
    SELECT s.pin_hash = p_pin_hash INTO v_match
      FROM staff s WHERE s.id = p_staff_id AND s.active AND s.pin_hash IS NOT NULL;
    IF v_match IS NOT TRUE THEN
        PERFORM pg_sleep(1);
        RETURN false;
    END IF;
    RETURN true;
END
$$;
"""

FUNCTIONS = (
    "station_caller_conference()",
    "station_staff()",
    "station_pin_parameters(text)",
    "station_check_pin(integer, text)",
)

# The tables whose rows belong to one conference: a station role sees only its own.
RESTRICTED = (
    "attendee",
    "person",
    '"order"',
    "order_line_item",
    "check_in",
    "door_check",
    "product_redemption",
    "scan_log",
)


def upgrade() -> None:
    op.create_table(
        "station_role_conference",
        sa.Column("role_name", sa.String(length=63), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
            name=op.f("fk_station_role_conference_conference_id_conference"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("role_name", name=op.f("pk_station_role_conference")),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar())
    quoted = '"' + schema.replace('"', '""') + '"'
    op.execute(PG_FUNCTIONS.replace("@SCHEMA@", quoted))
    for function in FUNCTIONS:  # granted by name only: the PIN ones to station roles
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    for table in RESTRICTED:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.drop_table("station_role_conference")
        return
    for table in RESTRICTED:
        # The station roles' own policies (station.db_roles) go with it.
        for (policy,) in op.get_bind().exec_driver_sql(
            "SELECT polname FROM pg_policy WHERE polrelid = %(table)s::regclass",
            {"table": table},
        ):
            op.execute(f'DROP POLICY "{policy}" ON {table}')
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_table("station_role_conference")
