"""Scan writes go through guarded functions; the rule book decides, the database guards

Until now PostgreSQL's one-round-trip path decided scans in SQL (station_redeem
and the statements of station.services.hot_sql), a second copy of the rules
beside the Python one. From here the rule book (station.rulebook) decides
every scan on every path, and PostgreSQL only records a decision, through
functions that hold the invariants whatever a client sends:

- station_check_in(), station_admit(), station_redeem_line(): each runs as the
  tables' owner (SECURITY DEFINER, fixed search_path), takes the attendee's
  row lock, and refuses (SQLSTATE 23514, check_violation) a record for an
  attendee of another conference, on an order that is not active, for a staff
  id that does not exist, for a line that is not an add-on of the attendee's
  own order, for a product the order does not hold, or past a line's quantity.
  The recorded time is the server's; the station's clock goes beside it in
  client_at. Each takes the premise the rule book decided on (first check-in
  or not; how many units of the line were used) and writes nothing but answers
  'stale' when another station got there first, so the caller decides again on
  fresh facts. A client id already recorded answers 'duplicate'.
- station_log_scan(): a refused scan's log row, at server time.
- A station role bound to a conference (0007) records and logs for that one only.
- Record ids and their sequences become bigint.
- station_redeem(), station_redeem_original() and station_display_safe(), the
  SQL copies of rules and of text cleaning, are dropped.

The station role (station db grant-station-role) then gets EXECUTE on these
and no INSERT, UPDATE or DELETE on any table, nor any sequence: records are
append-only for it because it can only add them through the guards.

SQLite has no roles; it gets the insert invariants as triggers (the station is
its own server there, so its clock is the recorded time).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:30:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

from station.domain import ACTIVE_ORDER_STATUSES

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDS = ("check_in", "door_check", "product_redemption", "scan_log")
# The one place the active statuses become SQL: "'paid', 'partially_refunded'".
ACTIVE = ", ".join(f"'{status.value}'" for status in sorted(ACTIVE_ORDER_STATUSES))

# The attendee under its row lock, checked against the conference, order and staff the
# caller names. Sets v_order, v_first (no check-in yet).
_HOLDER_GUARD = f"""
    SELECT a.conference_id, a.order_id, o.status IN ({ACTIVE}), a.checked_in_at IS NULL
      INTO v_conference, v_order, v_active, v_first
      FROM attendee a LEFT JOIN "order" o ON o.id = a.order_id
     WHERE a.id = p_attendee
       FOR NO KEY UPDATE OF a;
    IF v_conference IS NULL OR v_conference <> p_conference THEN
        RAISE EXCEPTION 'attendee % is not in conference %', p_attendee, p_conference
            USING ERRCODE = 'check_violation';
    ELSIF EXISTS (SELECT 1 FROM station_role_conference b
                   WHERE b.role_name = session_user AND b.conference_id <> p_conference) THEN
        -- A station role records for the conference it was granted (migration 0007).
        RAISE EXCEPTION 'role % records only for its own conference', session_user
            USING ERRCODE = 'check_violation';
    ELSIF v_active IS NOT TRUE THEN
        RAISE EXCEPTION 'attendee % has no active order', p_attendee
            USING ERRCODE = 'check_violation';
    ELSIF p_staff IS NOT NULL AND NOT EXISTS (SELECT 1 FROM staff s WHERE s.id = p_staff) THEN
        RAISE EXCEPTION 'no staff member %', p_staff USING ERRCODE = 'check_violation';
    END IF;"""

_DECLARE = """
DECLARE
    v_conference integer;
    v_order integer;
    v_active boolean;
    v_first boolean;"""

_OPTIONS = "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp"

PG_FUNCTIONS = rf"""
CREATE FUNCTION station_check_in(
    p_attendee integer, p_conference integer, p_first boolean, p_reason text,
    p_client_id uuid, p_client_at timestamptz, p_station text, p_staff integer, p_note text,
    p_code text)
RETURNS TABLE (outcome text, recorded_at timestamptz, staff_name text)
{_OPTIONS} AS $$
{_DECLARE}
    v_id bigint;
BEGIN{_HOLDER_GUARD}
    IF v_first IS DISTINCT FROM p_first THEN
        RETURN QUERY SELECT 'stale'::text, NULL::timestamptz, NULL::text;
        RETURN;
    END IF;
    INSERT INTO check_in (client_id, attendee_id, conference_id, checked_in_at, client_at,
                          staff_id, station, note)
    VALUES (p_client_id, p_attendee, p_conference, now(), p_client_at, p_staff,
            left(p_station, 100), coalesce(p_note, ''))
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::timestamptz, NULL::text;
        RETURN;
    END IF;
    IF v_first THEN
        UPDATE attendee SET checked_in_at = now(), updated_at = now() WHERE id = p_attendee;
    END IF;
    INSERT INTO scan_log (conference_id, attendee_id, scanned_at, client_at, station, staff_id,
                          action, code, outcome, reason, message)
    VALUES (p_conference, p_attendee, now(), p_client_at, left(p_station, 100), p_staff,
            'checkin', left(p_code, 256), 'accepted', left(p_reason, 40), '');
    RETURN QUERY SELECT 'ok'::text, now(), (SELECT s.name::text FROM staff s WHERE s.id = p_staff);
END
$$;

CREATE FUNCTION station_admit(
    p_attendee integer, p_conference integer, p_kind text, p_product integer, p_reason text,
    p_client_id uuid, p_client_at timestamptz, p_station text, p_staff integer, p_code text)
RETURNS TABLE (outcome text, recorded_at timestamptz)
{_OPTIONS} AS $$
{_DECLARE}
    v_id bigint;
BEGIN{_HOLDER_GUARD}
    IF NOT EXISTS (SELECT 1 FROM order_line_item li
                    WHERE li.order_id = v_order AND li.quantity > 0
                      AND CASE WHEN p_kind = 'ticket' THEN li.ticket_type_id
                               WHEN p_kind = 'addon' THEN li.addon_id END = p_product) THEN
        RAISE EXCEPTION 'the product is not on attendee %''s order', p_attendee
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO door_check (client_id, attendee_id, conference_id, ticket_type_id, addon_id,
                            checked_at, client_at, staff_id, station)
    VALUES (p_client_id, p_attendee, p_conference,
            CASE WHEN p_kind = 'ticket' THEN p_product END,
            CASE WHEN p_kind = 'addon' THEN p_product END,
            now(), p_client_at, p_staff, left(p_station, 100))
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO scan_log (conference_id, attendee_id, scanned_at, client_at, station, staff_id,
                          action, code, outcome, reason, message)
    VALUES (p_conference, p_attendee, now(), p_client_at, left(p_station, 100), p_staff,
            'door', left(p_code, 256), 'accepted', left(p_reason, 40), '');
    RETURN QUERY SELECT 'ok'::text, now();
END
$$;

CREATE FUNCTION station_redeem_line(
    p_attendee integer, p_conference integer, p_line integer, p_used integer, p_reason text,
    p_message text, p_client_id uuid, p_client_at timestamptz, p_station text,
    p_staff integer, p_note text, p_code text)
RETURNS TABLE (outcome text, recorded_at timestamptz)
{_OPTIONS} AS $$
{_DECLARE}
    v_id bigint;
    v_quantity integer;
    v_used bigint;
BEGIN{_HOLDER_GUARD}
    -- A statement of its own, so its snapshot starts under the lock.
    SELECT li.quantity,
           (SELECT count(*) FROM product_redemption pr
             WHERE pr.order_line_item_id = li.id AND pr.attendee_id = p_attendee)
      INTO v_quantity, v_used
      FROM order_line_item li
     WHERE li.id = p_line AND li.order_id = v_order AND li.addon_id IS NOT NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'line % is not an add-on of attendee %''s order', p_line, p_attendee
            USING ERRCODE = 'check_violation';
    END IF;
    IF v_used <> p_used THEN
        RETURN QUERY SELECT 'stale'::text, NULL::timestamptz;
        RETURN;
    END IF;
    IF v_used >= v_quantity THEN
        RAISE EXCEPTION 'line % is used up (% of %)', p_line, v_used, v_quantity
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO product_redemption (client_id, attendee_id, order_line_item_id, conference_id,
                                    redeemed_at, client_at, staff_id, station, note)
    VALUES (p_client_id, p_attendee, p_line, p_conference, now(), p_client_at, p_staff,
            left(p_station, 100), coalesce(p_note, ''))
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO scan_log (conference_id, attendee_id, scanned_at, client_at, station, staff_id,
                          action, code, outcome, reason, message)
    VALUES (p_conference, p_attendee, now(), p_client_at, left(p_station, 100), p_staff,
            'redeem', left(p_code, 256), 'accepted', left(p_reason, 40), left(p_message, 300));
    RETURN QUERY SELECT 'ok'::text, now();
END
$$;

-- A refused scan's log row. The conference by slug (a scan refused before any read
-- knows no id); an attendee, if named, must be of that conference.
CREATE FUNCTION station_log_scan(
    p_conference text, p_attendee integer, p_action text, p_reason text, p_message text,
    p_client_at timestamptz, p_station text, p_staff integer, p_code text)
RETURNS bigint
{_OPTIONS} AS $$
DECLARE
    v_conference integer;
    v_id bigint;
BEGIN
    SELECT c.id INTO v_conference FROM conference c WHERE c.slug = p_conference;
    IF EXISTS (SELECT 1 FROM station_role_conference b
                WHERE b.role_name = session_user
                  AND b.conference_id IS DISTINCT FROM v_conference) THEN
        RAISE EXCEPTION 'role % logs only for its own conference', session_user
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_attendee IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM attendee a WHERE a.id = p_attendee AND a.conference_id = v_conference) THEN
        RAISE EXCEPTION 'attendee % is not in conference %', p_attendee, p_conference
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_staff IS NOT NULL AND NOT EXISTS (SELECT 1 FROM staff s WHERE s.id = p_staff) THEN
        RAISE EXCEPTION 'no staff member %', p_staff USING ERRCODE = 'check_violation';
    END IF;
    IF p_action NOT IN ('checkin', 'door', 'redeem') THEN
        RAISE EXCEPTION 'no scan action %', p_action USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO scan_log (conference_id, attendee_id, scanned_at, client_at, station, staff_id,
                          action, code, outcome, reason, message)
    VALUES (v_conference, p_attendee, now(), p_client_at, left(p_station, 100), p_staff,
            p_action, left(p_code, 256), 'refused', left(p_reason, 40), left(p_message, 300))
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
"""

NEW_FUNCTIONS = (
    "station_check_in(integer, integer, boolean, text, uuid, timestamptz, text, integer, text, "
    "text)",
    "station_admit(integer, integer, text, integer, text, uuid, timestamptz, text, integer, text)",
    "station_redeem_line(integer, integer, integer, integer, text, text, uuid, timestamptz, "
    "text, integer, text, text)",
    "station_log_scan(text, integer, text, text, text, timestamptz, text, integer, text)",
)
OLD_FUNCTIONS = (
    "station_redeem(text, text, text, text, integer, uuid, timestamptz, text, integer, text, "
    "jsonb, text)",
    "station_redeem_original(uuid, text)",
    "station_display_safe(text, integer)",
)


def _refuse(name: str, event: str, when: str, message: str) -> str:
    return f"CREATE TRIGGER {name} {event} WHEN {when} BEGIN SELECT RAISE(ABORT, '{message}'); END"


def sqlite_triggers() -> list[str]:
    """SQLite's guards on inserted records, one trigger per invariant, all named guard_*."""
    own_attendee = (
        "NOT EXISTS (SELECT 1 FROM attendee a WHERE a.id = NEW.attendee_id "
        "AND a.conference_id IS NEW.conference_id)"
    )
    active = (
        'NOT EXISTS (SELECT 1 FROM attendee a JOIN "order" o ON o.id = a.order_id '
        f"WHERE a.id = NEW.attendee_id AND o.status IN ({ACTIVE}))"
    )
    triggers = []
    for table in ("check_in", "door_check", "product_redemption"):
        insert = f"BEFORE INSERT ON {table}"
        triggers.append(
            _refuse(f"guard_{table}_conference", insert, own_attendee,
                    f"{table}: the attendee is not in this conference")
        )  # fmt: skip
        triggers.append(
            _refuse(f"guard_{table}_active_order", insert, active,
                    f"{table}: the attendee has no active order")
        )  # fmt: skip
    triggers.append(
        _refuse("guard_scan_log_conference", "BEFORE INSERT ON scan_log",
                f"NEW.attendee_id IS NOT NULL AND {own_attendee}",
                "scan_log: the attendee is not in this conference")
    )  # fmt: skip
    triggers.append(
        _refuse("guard_door_check_bought", "BEFORE INSERT ON door_check",
                "NOT EXISTS (SELECT 1 FROM attendee a JOIN order_line_item li "
                "ON li.order_id = a.order_id WHERE a.id = NEW.attendee_id AND li.quantity > 0 "
                "AND (li.ticket_type_id = NEW.ticket_type_id OR li.addon_id = NEW.addon_id))",
                "door_check: the product is not on the attendee''s order")
    )  # fmt: skip
    triggers.append(
        _refuse("guard_product_redemption_own_line", "BEFORE INSERT ON product_redemption",
                "NOT EXISTS (SELECT 1 FROM attendee a JOIN order_line_item li "
                "ON li.order_id = a.order_id WHERE a.id = NEW.attendee_id "
                "AND li.id = NEW.order_line_item_id AND li.addon_id IS NOT NULL)",
                "product_redemption: the line is not an add-on of the attendee''s order")
    )  # fmt: skip
    # SQLite runs one write transaction at a time (BEGIN IMMEDIATE): a plain count holds.
    triggers.append(
        _refuse("guard_product_redemption_quantity", "BEFORE INSERT ON product_redemption",
                "(SELECT count(*) FROM product_redemption pr "
                "WHERE pr.order_line_item_id = NEW.order_line_item_id "
                "AND pr.attendee_id = NEW.attendee_id) >= "
                "(SELECT li.quantity FROM order_line_item li WHERE li.id = NEW.order_line_item_id)",
                "product_redemption: the line is used up")
    )  # fmt: skip
    return triggers


def _revision(filename: str) -> ModuleType:
    """An earlier migration's module, for its function text (kept, so downgrades work)."""
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"station_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _schema() -> str:
    schema = str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())
    return '"' + schema.replace('"', '""') + '"'


def upgrade() -> None:
    for table in RECORDS:
        op.add_column(table, sa.Column("client_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        for trigger in sqlite_triggers():
            op.execute(trigger)
        return
    for function in OLD_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for table in RECORDS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id TYPE bigint")
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS bigint")
    op.execute(PG_FUNCTIONS.replace("@SCHEMA@", _schema()))
    for function in NEW_FUNCTIONS:  # granted to the station role by name only
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in NEW_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
        for table in RECORDS:
            op.execute(f"ALTER SEQUENCE {table}_id_seq AS integer")
            op.execute(f"ALTER TABLE {table} ALTER COLUMN id TYPE integer")
        # Yesterday's code decides in SQL: its functions come back as 0006 left them.
        first = _revision("0002_redeem_function.py")
        op.get_bind().exec_driver_sql(first.ORIGINAL)
        _revision("0006_refusals_logged_by_the_decision.py").upgrade()
    else:
        names = op.get_bind().exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'guard\\_%' "
            "ESCAPE '\\'"
        )
        for (name,) in names.all():
            op.execute(f"DROP TRIGGER {name}")
    for table in RECORDS:
        op.execute(f"ALTER TABLE {table} DROP COLUMN client_at")
