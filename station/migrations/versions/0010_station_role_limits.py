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
- station_role_conference maps a station role to the one conference it may
  see; row-level security on attendee, person, "order", order_line_item and the
  scan records shows such a role only that conference's rows (a person: one
  with an attendee or an order there), and lets it write no record of another.
  A role not in the table sees none of them. The tables' owner (migrations,
  import, demo, report, export) is not subject to the policies, nor are
  superusers; nor are SECURITY DEFINER functions the owner owns.
  station_role_conference_id(role) is the policies' one look-up, made once per
  statement and table (an InitPlan), not once per row.

SQLite gets the mapping table (the models describe one schema) and nothing else:
there the file is the station's own.

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-02 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each advisory lock of station_check_pin() is (this, staff id): "PIN" in ASCII.
PIN_LOCK_CLASS = 0x50494E

PG_FUNCTIONS = rf"""
CREATE FUNCTION station_role_conference_id(p_role name) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
    SELECT b.conference_id FROM station_role_conference b WHERE b.role_name = p_role
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
    "station_role_conference_id(name)",
    "station_staff()",
    "station_pin_parameters(text)",
    "station_check_pin(integer, text)",
)

# The bound conference of the role running the statement, looked up once per statement.
BOUND = "(SELECT station_role_conference_id(current_user))"
# Table -> who of it a station role sees (and may write).
POLICIES = {
    "attendee": f"conference_id = {BOUND}",
    '"order"': f"conference_id = {BOUND}",
    "order_line_item": (
        f'EXISTS (SELECT 1 FROM "order" o WHERE o.id = order_id AND o.conference_id = {BOUND})'
    ),
    "person": (
        f"EXISTS (SELECT 1 FROM attendee a WHERE a.person_id = person.id "
        f"AND a.conference_id = {BOUND}) "
        f'OR EXISTS (SELECT 1 FROM "order" o WHERE o.person_id = person.id '
        f"AND o.conference_id = {BOUND})"
    ),
    "check_in": f"conference_id = {BOUND}",
    "door_check": f"conference_id = {BOUND}",
    "product_redemption": f"conference_id = {BOUND}",
    "scan_log": f"conference_id = {BOUND}",
}


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
    for function in FUNCTIONS:  # granted to the station role by name only
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    for table, visible in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY station_conference ON {table} USING ({visible})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in POLICIES:
            op.execute(f"DROP POLICY IF EXISTS station_conference ON {table}")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_table("station_role_conference")
