"""Voids: a scan taken back is a new, append-only record; every count leaves it out

- ``scan_void``: one row per voided record (its kind, "checkin"/"door"/"redeem", and
  its id), who voided it (staff, station), why, at the server's time (the station's
  clock in client_at), under a client id. A record is voided at most once (unique
  kind + id). The voided row itself stays as it was.
- ``staff.supervisor``: who may void any scan with their PIN (``station staff add
  --supervisor``); an operator voids only the last scan of their station, within
  ``void_window_seconds`` (the rule book decides that, ``station.rulebook.voids``).
- PostgreSQL: ``station_void()``, SECURITY DEFINER like the functions of 0008: the
  record must exist in the caller's conference (and the station role's own, from
  station_role_conference), not be voided yet (else 'stale': the caller reads again),
  a named supervisor must be an active supervisor whose PIN hash the caller sends (it
  checked the PIN with station_check_pin first, which makes a miss cost a second). It
  writes the void and a scan_log row (action 'void'). Voiding a check-in that is the
  attendee's first moves ``attendee.checked_in_at`` to the next check-in left, or NULL:
  "first check-in" means the earliest check-in not voided.
  ``station_redeem_line()`` is replaced: its count of units used leaves voided
  redemptions out, so a voided unit can be redeemed again.
- SQLite: the same guards as triggers (record of this conference, not voided twice
  is the unique key, append-only), and the quantity guard counts without voids.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:00:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPTIONS = "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp"

# The record tables by kind: (table, time column).
KINDS = {
    "checkin": ("check_in", "checked_in_at"),
    "door": ("door_check", "checked_at"),
    "redeem": ("product_redemption", "redeemed_at"),
}

VOID_FUNCTION = "station_void(integer, text, bigint, uuid, timestamptz, text, integer, text, text)"
REDEEM_FUNCTION = (
    "station_redeem_line(integer, integer, integer, integer, text, text, uuid, timestamptz, "
    "text, integer, text, text)"
)

PG_VOID = rf"""
CREATE FUNCTION station_void(
    p_conference integer, p_kind text, p_record bigint, p_client_id uuid,
    p_client_at timestamptz, p_station text, p_staff integer, p_pin_hash text, p_reason text)
RETURNS TABLE (outcome text, recorded_at timestamptz)
{_OPTIONS} AS $$
DECLARE
    v_attendee integer;
    v_conference integer;
    v_at timestamptz;
    v_id bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM station_role_conference b
                WHERE b.role_name = session_user AND b.conference_id <> p_conference) THEN
        RAISE EXCEPTION 'role % voids only in its own conference', session_user
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_kind = 'checkin' THEN
        SELECT r.attendee_id, r.conference_id, r.checked_in_at INTO v_attendee, v_conference, v_at
          FROM check_in r WHERE r.id = p_record;
    ELSIF p_kind = 'door' THEN
        SELECT r.attendee_id, r.conference_id, r.checked_at INTO v_attendee, v_conference, v_at
          FROM door_check r WHERE r.id = p_record;
    ELSIF p_kind = 'redeem' THEN
        SELECT r.attendee_id, r.conference_id, r.redeemed_at INTO v_attendee, v_conference, v_at
          FROM product_redemption r WHERE r.id = p_record;
    ELSE
        RAISE EXCEPTION 'no record kind %', p_kind USING ERRCODE = 'check_violation';
    END IF;
    IF v_conference IS NULL OR v_conference <> p_conference THEN
        RAISE EXCEPTION 'no % record % in conference %', p_kind, p_record, p_conference
            USING ERRCODE = 'check_violation';
    END IF;
    IF p_staff IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM staff s WHERE s.id = p_staff AND s.active) THEN
        RAISE EXCEPTION 'no staff member %', p_staff USING ERRCODE = 'check_violation';
    END IF;
    IF p_pin_hash IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM staff s WHERE s.id = p_staff AND s.active AND s.supervisor
           AND s.pin_hash = p_pin_hash) THEN
        RAISE EXCEPTION 'staff member % is not a supervisor with that PIN', p_staff
            USING ERRCODE = 'check_violation';
    END IF;
    -- The attendee's lock orders this void with their scans (and other voids).
    PERFORM 1 FROM attendee a WHERE a.id = v_attendee FOR NO KEY UPDATE;
    IF EXISTS (SELECT 1 FROM scan_void v WHERE v.client_id = p_client_id) THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::timestamptz;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = p_kind
                                          AND v.record_id = p_record) THEN
        RETURN QUERY SELECT 'stale'::text, NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO scan_void (client_id, conference_id, attendee_id, record_kind, record_id,
                           staff_id, station, reason, voided_at, client_at)
    VALUES (p_client_id, p_conference, v_attendee, p_kind, p_record, p_staff,
            left(p_station, 100), left(coalesce(p_reason, ''), 300), now(), p_client_at)
    RETURNING id INTO v_id;
    IF p_kind = 'checkin' THEN
        UPDATE attendee a
           SET checked_in_at = (
                   SELECT min(ci.checked_in_at) FROM check_in ci
                    WHERE ci.attendee_id = v_attendee
                      AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'checkin'
                                                                   AND v.record_id = ci.id)),
               updated_at = now()
         WHERE a.id = v_attendee AND a.checked_in_at = v_at;
    END IF;
    INSERT INTO scan_log (conference_id, attendee_id, scanned_at, client_at, station, staff_id,
                          action, code, outcome, reason, message)
    VALUES (p_conference, v_attendee, now(), p_client_at, left(p_station, 100), p_staff,
            'void', p_kind || ':' || p_record, 'accepted', 'void',
            left(coalesce(p_reason, ''), 300));
    RETURN QUERY SELECT 'ok'::text, now();
END
$$;
"""

# Units used of a line: redemptions not voided.
_OLD_COUNT = """(SELECT count(*) FROM product_redemption pr
             WHERE pr.order_line_item_id = li.id AND pr.attendee_id = p_attendee)"""
_NEW_COUNT = """(SELECT count(*) FROM product_redemption pr
             WHERE pr.order_line_item_id = li.id AND pr.attendee_id = p_attendee
               AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'redeem'
                                                          AND v.record_id = pr.id))"""


def _revision(filename: str) -> ModuleType:
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"station_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _redeem_line(with_voids: bool) -> str:
    """0008's station_redeem_line, its count of units used with or without voids."""
    text: str = _revision("0008_writes_through_guarded_functions.py").PG_FUNCTIONS
    start = text.index("CREATE FUNCTION station_redeem_line(")
    end = text.index("$$;", text.index("AS $$", start) + 5) + 3
    body = text[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    assert _OLD_COUNT in body, "0008's count of units used moved"
    return body.replace(_OLD_COUNT, _NEW_COUNT) if with_voids else body


def _refuse(name: str, event: str, when: str, message: str) -> str:
    return f"CREATE TRIGGER {name} {event} WHEN {when} BEGIN SELECT RAISE(ABORT, '{message}'); END"


_SQLITE_QUANTITY_OLD = _refuse(
    "guard_product_redemption_quantity", "BEFORE INSERT ON product_redemption",
    "(SELECT count(*) FROM product_redemption pr "
    "WHERE pr.order_line_item_id = NEW.order_line_item_id "
    "AND pr.attendee_id = NEW.attendee_id) >= "
    "(SELECT li.quantity FROM order_line_item li WHERE li.id = NEW.order_line_item_id)",
    "product_redemption: the line is used up",
)  # fmt: skip
_SQLITE_QUANTITY_NEW = _refuse(
    "guard_product_redemption_quantity", "BEFORE INSERT ON product_redemption",
    "(SELECT count(*) FROM product_redemption pr "
    "WHERE pr.order_line_item_id = NEW.order_line_item_id "
    "AND pr.attendee_id = NEW.attendee_id AND NOT EXISTS (SELECT 1 FROM scan_void v "
    "WHERE v.record_kind = 'redeem' AND v.record_id = pr.id)) >= "
    "(SELECT li.quantity FROM order_line_item li WHERE li.id = NEW.order_line_item_id)",
    "product_redemption: the line is used up",
)  # fmt: skip


def sqlite_triggers() -> list[str]:
    """scan_void's guards on SQLite: a record of the void's conference; append-only."""
    exists = " OR ".join(
        f"(NEW.record_kind = '{kind}' AND EXISTS (SELECT 1 FROM {table} r "
        "WHERE r.id = NEW.record_id AND r.conference_id IS NEW.conference_id "
        "AND r.attendee_id IS NEW.attendee_id))"
        for kind, (table, _at) in KINDS.items()
    )
    return [
        _refuse("guard_scan_void_record", "BEFORE INSERT ON scan_void", f"NOT ({exists})",
                "scan_void: no such record in this conference"),
        _refuse("guard_scan_void_supervisor", "BEFORE INSERT ON scan_void",
                "NEW.staff_id IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM staff s WHERE s.id = NEW.staff_id)",
                "scan_void: no such staff member"),
        "CREATE TRIGGER guard_scan_void_update BEFORE UPDATE ON scan_void "
        "BEGIN SELECT RAISE(ABORT, 'scan_void: voids are append-only'); END",
        "CREATE TRIGGER guard_scan_void_delete BEFORE DELETE ON scan_void "
        "BEGIN SELECT RAISE(ABORT, 'scan_void: voids are append-only'); END",
    ]  # fmt: skip


def _schema() -> str:
    schema = str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())
    return '"' + schema.replace('"', '""') + '"'


def upgrade() -> None:
    # Not in batch mode: rebuilding staff on SQLite would drop 0005's triggers on it.
    op.add_column(
        "staff", sa.Column("supervisor", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_table(
        "scan_void",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("attendee_id", sa.Integer(), nullable=False),
        sa.Column("record_kind", sa.String(length=10), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "record_kind IN ('checkin', 'door', 'redeem')", name=op.f("ck_scan_void_record_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_void")),
        sa.UniqueConstraint("client_id", name=op.f("uq_scan_void_client_id")),
        sa.UniqueConstraint(
            "record_kind", "record_id", name=op.f("uq_scan_void_record_kind_record_id")
        ),
    )
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER guard_product_redemption_quantity")
        op.execute(_SQLITE_QUANTITY_NEW)
        for trigger in sqlite_triggers():
            op.execute(trigger)
        return
    schema = _schema()
    op.execute("ALTER TABLE scan_void ENABLE ROW LEVEL SECURITY")
    op.execute(PG_VOID.replace("@SCHEMA@", schema))
    op.execute(f"REVOKE ALL ON FUNCTION {VOID_FUNCTION} FROM PUBLIC")
    op.execute(_redeem_line(with_voids=True).replace("@SCHEMA@", schema))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_redeem_line(with_voids=False).replace("@SCHEMA@", _schema()))
        op.execute(f"DROP FUNCTION IF EXISTS {VOID_FUNCTION}")
    else:
        for name in ("record", "supervisor", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS guard_scan_void_{name}")
        op.execute("DROP TRIGGER guard_product_redemption_quantity")
        op.execute(_SQLITE_QUANTITY_OLD)
    op.drop_table("scan_void")
    op.drop_column("staff", "supervisor")
