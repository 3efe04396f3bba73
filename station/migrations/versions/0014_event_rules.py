"""Event rules: per-day caps, opening hours, valid dates, re-entry, exits and capacity

The rule book (station.rulebook.event_rules, station.rulebook.rules) decides and words
every rule; the database stores the rules and guards what it can cheaply under the
locks it already takes:

- ticket_type and addon get the rule columns: daily_limit, open_hours, valid_dates,
  reentry ('unlimited', 'once', 'daily', 'after_exit'), capacity. Set by
  `station rules`; each update stamps change_seq (0013), so offline snapshots learn it.
- door_check.direction: 'in' (admitted) or 'out' (an exit scan), for a door's inside
  count and the 'after_exit' policy.
- door_clear: a door's "everyone out", append-only, through station_door_clear() (a
  supervisor with their PIN): who counts as inside starts again from there.
- PostgreSQL: station_now(), the recording clock of every guarded function: now(), or,
  for a session whose user may write the record tables directly anyway (the owner, a
  superuser; never a station role), now() plus the setting station.clock_offset: the
  clock a demo or a test moves to another day. check_in, log_scan and redeem_line are
  the same as before but for that clock.
- station_redeem_line() also holds a product's daily_limit: under the attendee's lock it
  counts that attendee's standing redemptions of the product on the conference's day
  (its time zone) and writes nothing ('stale') at the limit.
- station_admit() takes the direction and the premise (how many standing scans of the
  holder at this door the rule book saw: 'stale' if another station got there first),
  and for a door with a capacity locks the product's row and writes no entry ('stale')
  that would put more people inside than the capacity.
- SQLite: the station is the only writer under BEGIN IMMEDIATE, so the rule book's
  decision is final there; triggers keep door_clear append-only and direction valid.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 03:40:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRODUCTS = ("ticket_type", "addon")

OLD_ADMIT = (
    "station_admit(integer, integer, text, integer, text, uuid, timestamptz, text, integer, text)"
)
NEW_ADMIT = (
    "station_admit(integer, integer, text, integer, text, integer, text, uuid, timestamptz, "
    "text, integer, text)"
)
DOOR_CLEAR = "station_door_clear(integer, text, integer, uuid, timestamptz, text, integer, text)"
NOW = "station_now()"

_OPTIONS = "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp"

PG_NOW = r"""
CREATE FUNCTION station_now() RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = @SCHEMA@, pg_temp AS $$
    SELECT CASE
        WHEN coalesce(current_setting('station.clock_offset', true), '') = '' THEN now()
        WHEN has_table_privilege(session_user, @RECORDS@, 'INSERT')
            THEN now() + current_setting('station.clock_offset')::interval
        ELSE now()
    END
$$;
"""

# Who is inside a door's room: people whose last standing scan there since the door was
# last cleared is an entry. @COLUMN@ is door_check's product column, @PRODUCT@ its id.
INSIDE = """(SELECT count(*) FROM (
        SELECT DISTINCT ON (d.attendee_id) d.direction
          FROM door_check d
         WHERE d.@COLUMN@ = @PRODUCT@
           AND d.checked_at > coalesce((SELECT max(c.cleared_at) FROM door_clear c
                                         WHERE c.@COLUMN@ = @PRODUCT@), '-infinity')
           AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'door'
                                                      AND v.record_id = d.id)
         ORDER BY d.attendee_id, d.checked_at DESC, d.id DESC) last
     WHERE last.direction = 'in')"""

_HOLDER_INSIDE = """coalesce((SELECT d.direction = 'in'
          FROM door_check d
         WHERE d.attendee_id = p_attendee AND d.@COLUMN@ = p_product
           AND d.checked_at > coalesce((SELECT max(c.cleared_at) FROM door_clear c
                                         WHERE c.@COLUMN@ = p_product), '-infinity')
           AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'door'
                                                      AND v.record_id = d.id)
         ORDER BY d.checked_at DESC, d.id DESC LIMIT 1), false)"""


def _inside(column: str) -> str:
    return INSIDE.replace("@COLUMN@", column).replace("@PRODUCT@", "p_product")


def _room(column: str) -> str:
    """PL/pgSQL: v_inside (people inside), v_holder_inside (this attendee is)."""
    inside = INSIDE.replace("@COLUMN@", column).replace("@PRODUCT@", "p_product")
    holder = _HOLDER_INSIDE.replace("@COLUMN@", column)
    return f"v_inside := {inside};\n            v_holder_inside := {holder};"


PG_ADMIT = rf"""
CREATE FUNCTION station_admit(
    p_attendee integer, p_conference integer, p_kind text, p_product integer,
    p_direction text, p_seen integer, p_reason text, p_client_id uuid,
    p_client_at timestamptz, p_station text, p_staff integer, p_code text)
RETURNS TABLE (outcome text, recorded_at timestamptz)
{_OPTIONS} AS $$
@DECLARE@
    v_id bigint;
    v_seen bigint;
    v_capacity integer;
    v_inside bigint;
    v_holder_inside boolean;
BEGIN@HOLDER_GUARD@
    IF p_direction IS NULL OR p_direction NOT IN ('in', 'out') THEN
        RAISE EXCEPTION 'no door direction %', p_direction USING ERRCODE = 'check_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM order_line_item li
                    WHERE li.order_id = v_order AND li.quantity > 0
                      AND CASE WHEN p_kind = 'ticket' THEN li.ticket_type_id
                               WHEN p_kind = 'addon' THEN li.addon_id END = p_product) THEN
        RAISE EXCEPTION 'the product is not on attendee %''s order', p_attendee
            USING ERRCODE = 'check_violation';
    END IF;
    -- The premise: the holder's standing scans at this door, as the decision saw them.
    SELECT count(*) INTO v_seen FROM door_check d
     WHERE d.attendee_id = p_attendee
       AND CASE WHEN p_kind = 'ticket' THEN d.ticket_type_id ELSE d.addon_id END = p_product
       AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'door'
                                                  AND v.record_id = d.id);
    IF p_seen IS NOT NULL AND v_seen <> p_seen THEN
        RETURN QUERY SELECT 'stale'::text, NULL::timestamptz;
        RETURN;
    END IF;
    IF p_direction = 'in' THEN
        -- A room with a capacity: its product's row lock orders the entries, so the count
        -- read under it is the count the entry is added to.
        IF p_kind = 'ticket' THEN
            SELECT t.capacity INTO v_capacity FROM ticket_type t
             WHERE t.id = p_product AND t.capacity IS NOT NULL FOR NO KEY UPDATE;
            IF v_capacity IS NOT NULL THEN
                {_room("ticket_type_id")}
            END IF;
        ELSE
            SELECT t.capacity INTO v_capacity FROM addon t
             WHERE t.id = p_product AND t.capacity IS NOT NULL FOR NO KEY UPDATE;
            IF v_capacity IS NOT NULL THEN
                {_room("addon_id")}
            END IF;
        END IF;
        IF v_capacity IS NOT NULL AND NOT v_holder_inside AND v_inside >= v_capacity THEN
            RETURN QUERY SELECT 'stale'::text, NULL::timestamptz;
            RETURN;
        END IF;
    END IF;
    INSERT INTO door_check (client_id, attendee_id, conference_id, ticket_type_id, addon_id,
                            checked_at, client_at, staff_id, station, direction)
    VALUES (p_client_id, p_attendee, p_conference,
            CASE WHEN p_kind = 'ticket' THEN p_product END,
            CASE WHEN p_kind = 'addon' THEN p_product END,
            station_now(), p_client_at, p_staff, left(p_station, 100), p_direction)
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO scan_log (conference_id, attendee_id, scanned_at, client_at, station, staff_id,
                          action, code, outcome, reason, message)
    VALUES (p_conference, p_attendee, station_now(), p_client_at, left(p_station, 100),
            p_staff, 'door', left(p_code, 256), 'accepted', left(p_reason, 40),
            CASE WHEN p_direction = 'out' THEN 'exit' ELSE '' END);
    RETURN QUERY SELECT 'ok'::text, station_now();
END
$$;
"""

PG_DOOR_CLEAR = rf"""
CREATE FUNCTION station_door_clear(
    p_conference integer, p_kind text, p_product integer, p_client_id uuid,
    p_client_at timestamptz, p_station text, p_staff integer, p_pin_hash text)
RETURNS TABLE (outcome text, recorded_at timestamptz, inside bigint)
{_OPTIONS} AS $$
DECLARE
    v_inside bigint;
    v_id bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM station_role_conference b
                WHERE b.role_name = session_user AND b.conference_id <> p_conference) THEN
        RAISE EXCEPTION 'role % clears doors only in its own conference', session_user
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_pin_hash IS NULL OR NOT EXISTS (
        SELECT 1 FROM staff s WHERE s.id = p_staff AND s.active AND s.supervisor
           AND s.pin_hash = p_pin_hash) THEN
        RAISE EXCEPTION 'staff member % is not a supervisor with that PIN', p_staff
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_kind = 'ticket' THEN
        PERFORM 1 FROM ticket_type t WHERE t.id = p_product AND t.conference_id = p_conference
           FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no ticket type % in conference %', p_product, p_conference
                USING ERRCODE = 'check_violation';
        END IF;
        v_inside := @INSIDE_TICKET@;
    ELSIF p_kind = 'addon' THEN
        PERFORM 1 FROM addon t WHERE t.id = p_product AND t.conference_id = p_conference
           FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no add-on % in conference %', p_product, p_conference
                USING ERRCODE = 'check_violation';
        END IF;
        v_inside := @INSIDE_ADDON@;
    ELSE
        RAISE EXCEPTION 'no product kind %', p_kind USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO door_clear (client_id, conference_id, ticket_type_id, addon_id, cleared_at,
                            client_at, staff_id, station, inside)
    VALUES (p_client_id, p_conference, CASE WHEN p_kind = 'ticket' THEN p_product END,
            CASE WHEN p_kind = 'addon' THEN p_product END, station_now(), p_client_at,
            p_staff, left(p_station, 100), v_inside)
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::timestamptz, NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok'::text, station_now(), v_inside;
END
$$;
"""

# station_redeem_line(): 0012's, on the recording clock, with the daily limit held.
_DAILY_ANCHOR = """    IF v_used >= v_quantity THEN"""
_DAILY_GUARD = """    -- A product's daily limit: its standing redemptions by this attendee on the
    -- conference's day (its time zone), all lines of the product together.
    SELECT ad.daily_limit, ad.id, c.timezone INTO v_daily, v_addon, v_zone
      FROM order_line_item li JOIN addon ad ON ad.id = li.addon_id
      JOIN conference c ON c.id = ad.conference_id
     WHERE li.id = p_line;
    IF v_daily IS NOT NULL THEN
        BEGIN
            v_day := (station_now() AT TIME ZONE v_zone)::date;
        EXCEPTION WHEN invalid_parameter_value THEN  -- a zone PostgreSQL does not know: UTC
            v_zone := 'UTC';
            v_day := (station_now() AT TIME ZONE v_zone)::date;
        END;
        SELECT count(*) INTO v_today
          FROM product_redemption pr JOIN order_line_item l2 ON l2.id = pr.order_line_item_id
         WHERE pr.attendee_id = p_attendee AND l2.addon_id = v_addon
           AND pr.redeemed_at >= (v_day::timestamp AT TIME ZONE v_zone)
           AND pr.redeemed_at < ((v_day + 1)::timestamp AT TIME ZONE v_zone)
           AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'redeem'
                                                      AND v.record_id = pr.id);
        IF v_today >= v_daily THEN
            RETURN QUERY SELECT 'stale'::text, NULL::timestamptz;
            RETURN;
        END IF;
    END IF;
"""
_DAILY_DECLARE = """    v_used bigint;
    v_daily integer;
    v_addon integer;
    v_zone text;
    v_day date;
    v_today bigint;"""


def _revision(filename: str) -> ModuleType:
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"station_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _function(text: str, name: str) -> str:
    start = text.index(f"CREATE FUNCTION {name}(")
    end = text.index("$$;", text.index("AS $$", start) + 5) + 3
    return text[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def _on_recording_clock(body: str) -> str:
    assert "now()" in body
    return body.replace("now()", NOW)


def pg_functions(schema: str) -> list[str]:
    """Every function this revision creates or replaces, in order, for ``schema``."""
    r0008 = _revision("0008_writes_through_guarded_functions.py")
    r0012 = _revision("0012_scan_voids.py")
    functions = r0008.PG_FUNCTIONS
    redeem = _on_recording_clock(r0012._redeem_line(with_voids=True))
    assert _DAILY_ANCHOR in redeem and "    v_used bigint;" in redeem
    redeem = redeem.replace(_DAILY_ANCHOR, _DAILY_GUARD + _DAILY_ANCHOR, 1)
    redeem = redeem.replace("    v_used bigint;", _DAILY_DECLARE, 1)
    admit = PG_ADMIT.replace("@DECLARE@", r0008._DECLARE).replace(
        "@HOLDER_GUARD@", r0008._HOLDER_GUARD
    )
    records = "'" + f"{schema}.product_redemption".replace("'", "''") + "'"
    made = [
        PG_NOW.replace("@RECORDS@", records),
        _on_recording_clock(_function(functions, "station_check_in")),
        _on_recording_clock(_function(functions, "station_log_scan")),
        redeem,
        admit,
        PG_DOOR_CLEAR.replace("@INSIDE_TICKET@", _inside("ticket_type_id")).replace(
            "@INSIDE_ADDON@", _inside("addon_id")
        ),
    ]
    return [text.replace("@SCHEMA@", schema) for text in made]


def _refuse(name: str, event: str, when: str, message: str) -> str:
    return f"CREATE TRIGGER {name} {event} WHEN {when} BEGIN SELECT RAISE(ABORT, '{message}'); END"


def sqlite_triggers() -> list[str]:
    return [
        _refuse("guard_door_check_direction", "BEFORE INSERT ON door_check",
                "NEW.direction IS NULL OR NEW.direction NOT IN ('in', 'out')",
                "door_check: the direction is in or out"),
        _refuse("guard_door_clear_product", "BEFORE INSERT ON door_clear",
                "NOT EXISTS (SELECT 1 FROM ticket_type t WHERE t.id = NEW.ticket_type_id "
                "AND t.conference_id = NEW.conference_id) AND NOT EXISTS (SELECT 1 FROM addon t "
                "WHERE t.id = NEW.addon_id AND t.conference_id = NEW.conference_id)",
                "door_clear: no such product in this conference"),
        "CREATE TRIGGER guard_door_clear_update BEFORE UPDATE ON door_clear "
        "BEGIN SELECT RAISE(ABORT, 'door_clear: records are append-only'); END",
        "CREATE TRIGGER guard_door_clear_delete BEFORE DELETE ON door_clear "
        "BEGIN SELECT RAISE(ABORT, 'door_clear: records are append-only'); END",
    ]  # fmt: skip


def _schema() -> str:
    schema = str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())
    return '"' + schema.replace('"', '""') + '"'


def upgrade() -> None:
    for table in PRODUCTS:
        op.add_column(table, sa.Column("daily_limit", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("open_hours", sa.String(length=200), nullable=True))
        op.add_column(table, sa.Column("valid_dates", sa.String(length=400), nullable=True))
        op.add_column(
            table,
            sa.Column("reentry", sa.String(length=12), server_default="unlimited", nullable=False),
        )
        op.add_column(table, sa.Column("capacity", sa.Integer(), nullable=True))
    op.add_column(
        "door_check",
        sa.Column("direction", sa.String(length=3), server_default="in", nullable=False),
    )
    op.create_index(
        "ix_door_check_addon_room",
        "door_check",
        ["addon_id", "checked_at"],
        sqlite_where=sa.text("addon_id IS NOT NULL"),
        postgresql_where=sa.text("addon_id IS NOT NULL"),
    )
    op.create_index(
        "ix_door_check_ticket_room",
        "door_check",
        ["ticket_type_id", "checked_at"],
        sqlite_where=sa.text("ticket_type_id IS NOT NULL"),
        postgresql_where=sa.text("ticket_type_id IS NOT NULL"),
    )
    op.create_table(
        "door_clear",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("ticket_type_id", sa.Integer(), nullable=True),
        sa.Column("addon_id", sa.Integer(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("inside", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(ticket_type_id IS NULL) <> (addon_id IS NULL)", name=op.f("ck_door_clear_one_product")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_door_clear")),
        sa.UniqueConstraint("client_id", name=op.f("uq_door_clear_client_id")),
    )
    op.create_index(op.f("ix_door_clear_conference_id"), "door_clear", ["conference_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE door_check ADD CONSTRAINT ck_door_check_direction "
            "CHECK (direction IN ('in', 'out'))"
        )
        for table in PRODUCTS:
            op.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_reentry "
                "CHECK (reentry IN ('unlimited', 'once', 'daily', 'after_exit'))"
            )
        op.execute("ALTER TABLE door_clear ENABLE ROW LEVEL SECURITY")
        op.execute(f"DROP FUNCTION {OLD_ADMIT}")
        for text in pg_functions(_schema()):
            op.execute(text)
        for function in (NEW_ADMIT, DOOR_CLEAR):
            op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    else:
        for trigger in sqlite_triggers():
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        schema = _schema()
        r0008 = _revision("0008_writes_through_guarded_functions.py")
        r0012 = _revision("0012_scan_voids.py")
        op.execute(f"DROP FUNCTION IF EXISTS {DOOR_CLEAR}")
        op.execute(f"DROP FUNCTION IF EXISTS {NEW_ADMIT}")
        old = r0008.PG_FUNCTIONS
        for name in ("station_check_in", "station_log_scan"):
            op.execute(_function(old, name).replace("@SCHEMA@", schema))
        admit = _function(old, "station_admit").replace("CREATE OR REPLACE", "CREATE", 1)
        op.execute(admit.replace("@SCHEMA@", schema))
        op.execute(f"REVOKE ALL ON FUNCTION {OLD_ADMIT} FROM PUBLIC")
        op.execute(r0012._redeem_line(with_voids=True).replace("@SCHEMA@", schema))
        op.execute("DROP FUNCTION IF EXISTS station_now()")
        op.execute("ALTER TABLE door_check DROP CONSTRAINT IF EXISTS ck_door_check_direction")
        for table in PRODUCTS:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS ck_{table}_reentry")
    else:
        for name in ("door_check_direction", "door_clear_product", "door_clear_update",
                     "door_clear_delete"):  # fmt: skip
            op.execute(f"DROP TRIGGER IF EXISTS guard_{name}")
    op.drop_index(op.f("ix_door_clear_conference_id"), table_name="door_clear")
    op.drop_table("door_clear")
    op.drop_index("ix_door_check_ticket_room", table_name="door_check")
    op.drop_index("ix_door_check_addon_room", table_name="door_check")
    op.drop_column("door_check", "direction")
    for table in PRODUCTS:
        for column in ("capacity", "reentry", "valid_dates", "open_hours", "daily_limit"):
            op.drop_column(table, column)
