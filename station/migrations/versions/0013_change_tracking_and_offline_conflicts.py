"""Offline mode's server side: change numbers for snapshot sync, offline conflicts recorded

A station that lost the shared database decides scans from a local snapshot and replays
them later (issue 17). The server side of that:

- ``change_seq`` (bigint, NOT NULL, default 0, indexed) on person, "order",
  order_line_item, attendee, ticket_type and addon: every INSERT or UPDATE of a row
  stamps it with a new value of one global counter, larger than every value given
  before, so a station syncs its snapshot by asking for ``change_seq > last seen``.
  Except on attendee, where only an INSERT and an UPDATE of a column a snapshot reads
  from that row besides the check-in's own (``ATTENDEE_TRACKED``: access_code, order_id,
  person_id, conference_id) stamp it: a check-in's update (checked_in_at, updated_at)
  changes no indexed column and stays a HOT update on PostgreSQL, and stations learn of
  check-ins from the check_in records (ids only grow) instead. An update that sets
  change_seq itself is stamped too, so nobody chooses the number.
  PostgreSQL: the sequence ``station_change_seq`` and BEFORE row triggers (they run as
  whoever writes, so also as the owner inside the guarded functions); the value a writer
  sends is overwritten. SQLite: the one-row table ``station_change_counter`` and AFTER
  INSERT / AFTER UPDATE triggers that bump it and stamp the row (their own update of the
  row does not fire them again, recursive triggers or not). Rows already there get numbers
  here. A later migration that rebuilds one of these tables in batch mode on SQLite drops
  its triggers with it and must create them again (``sqlite_tracking()``).
- PostgreSQL: ``pg_notify('station_changes', <conference id or ''>)`` from the same
  stamping trigger, so for every row stamped (inserted or updated person, order, line,
  ticket type, add-on; new attendee or one whose code, order, person or conference
  changed), the changes made outside scans that a station must learn quickly. PostgreSQL
  sends each distinct payload once per transaction, at commit. No scan notifies: a
  transaction that notifies takes a database-wide lock at commit and holds it until the
  commit is flushed, which serialised concurrent scans (-35 % with 4 stations). Records
  (check_in, door_check, product_redemption, scan_void, offline_conflict) have no trigger;
  stations learn of them through their periodic sync.
- ``offline_conflict``: one row per replayed offline scan the server refused, append-only,
  unique by the offline scan's client id. ``kind`` 'overspend' (the unit was given away
  twice) or 'conflict' (any other refusal); for an overspend, ``other_station`` and
  ``other_at`` name the latest redemption of that line that stands, by another station if
  there is one, found by the server. ``received_at`` is the server's time.
  PostgreSQL: the station role writes it only through ``station_offline_conflict()``
  (SECURITY DEFINER, the conventions of 0008); SQLite: guards as triggers.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The snapshot's tables, and which of them carry a conference_id (the notify's payload).
TRACKED = ("person", "order", "order_line_item", "attendee", "ticket_type", "addon")
WITHOUT_CONFERENCE = ("person", "order_line_item")
# The attendee columns whose update stamps the row (and notifies): what a snapshot reads of
# it other than the check-in's own checked_in_at (and updated_at, search_key: not read).
ATTENDEE_TRACKED = ("access_code", "order_id", "person_id", "conference_id")

_OPTIONS = "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp"

CONFLICT_FUNCTION = (
    "station_offline_conflict(integer, integer, text, text, text, integer, uuid, timestamptz, "
    "text, integer, text, text)"
)

PG_TRACKING = r"""
CREATE SEQUENCE station_change_seq AS bigint;

-- BEFORE row triggers: the number and the notification in one call, and no after-trigger
-- event to queue. They run as the writer (in a guarded function: the owner). The sequence
-- is schema-qualified, so a caller's search_path cannot point it elsewhere. A notification
-- is sent at commit only, so one for a row that then fails (or an ON CONFLICT DO NOTHING
-- that inserts nothing) is at worst a station reading and finding nothing new. No scan
-- fires them (a check-in's update of the attendee is left out by the trigger's WHEN).
CREATE FUNCTION station_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := nextval(@SEQUENCE@);
    PERFORM pg_notify('station_changes', coalesce(NEW.conference_id::text, ''));
    RETURN NEW;
END
$$;

-- The same for the tables without a conference (person, order_line_item).
CREATE FUNCTION station_stamp_shared_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := nextval(@SEQUENCE@);
    PERFORM pg_notify('station_changes', '');
    RETURN NEW;
END
$$;
"""

TRACKING_FUNCTIONS = ("station_stamp_change()", "station_stamp_shared_change()")


def _attendee_changed() -> str:
    """PostgreSQL: when an updated attendee is stamped: a column of ATTENDEE_TRACKED changed,
    or the writer set change_seq itself (it is then overwritten)."""
    columns = (*ATTENDEE_TRACKED, "change_seq")
    return " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in columns)


PG_CONFLICT = rf"""
CREATE FUNCTION station_offline_conflict(
    p_conference integer, p_attendee integer, p_kind text, p_action text, p_code text,
    p_line integer, p_client_id uuid, p_client_at timestamptz, p_station text, p_staff integer,
    p_reason text, p_message text)
RETURNS boolean
{_OPTIONS} AS $$
DECLARE
    v_order integer;
    v_other_station text;
    v_other_at timestamptz;
    v_id bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM station_role_conference b
                WHERE b.role_name = session_user AND b.conference_id <> p_conference) THEN
        RAISE EXCEPTION 'role % records only for its own conference', session_user
            USING ERRCODE = 'check_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM conference c WHERE c.id = p_conference) THEN
        RAISE EXCEPTION 'no conference %', p_conference USING ERRCODE = 'check_violation';
    END IF;
    IF p_attendee IS NOT NULL THEN
        SELECT a.order_id INTO v_order FROM attendee a
         WHERE a.id = p_attendee AND a.conference_id = p_conference;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'attendee % is not in conference %', p_attendee, p_conference
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    IF p_line IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM order_line_item li JOIN "order" o ON o.id = li.order_id
         WHERE li.id = p_line AND o.conference_id = p_conference
           AND (p_attendee IS NULL OR li.order_id = v_order)) THEN
        RAISE EXCEPTION 'line % is not on an order of attendee % in conference %',
            p_line, p_attendee, p_conference USING ERRCODE = 'check_violation';
    END IF;
    IF p_staff IS NOT NULL AND NOT EXISTS (SELECT 1 FROM staff s WHERE s.id = p_staff) THEN
        RAISE EXCEPTION 'no staff member %', p_staff USING ERRCODE = 'check_violation';
    END IF;
    IF p_kind IS NULL OR p_kind NOT IN ('overspend', 'conflict') THEN
        RAISE EXCEPTION 'no conflict kind %', p_kind USING ERRCODE = 'check_violation';
    END IF;
    IF p_action IS NULL OR p_action NOT IN ('checkin', 'door', 'redeem') THEN
        RAISE EXCEPTION 'no scan action %', p_action USING ERRCODE = 'check_violation';
    END IF;
    IF p_kind = 'overspend' AND p_line IS NOT NULL THEN
        -- Who else gave the unit: another station's latest redemption that stands, else
        -- this station's own.
        SELECT pr.station, pr.redeemed_at INTO v_other_station, v_other_at
          FROM product_redemption pr
         WHERE pr.order_line_item_id = p_line
           AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'redeem'
                                                      AND v.record_id = pr.id)
         ORDER BY pr.station = left(p_station, 100), pr.redeemed_at DESC, pr.id DESC
         LIMIT 1;
    END IF;
    INSERT INTO offline_conflict (client_id, conference_id, attendee_id, kind, action, code,
                                  order_line_item_id, station, staff_id, client_at,
                                  received_at, reason, message, other_station, other_at)
    VALUES (p_client_id, p_conference, p_attendee, p_kind, p_action, left(p_code, 256), p_line,
            left(p_station, 100), p_staff, p_client_at, now(), left(p_reason, 40),
            left(coalesce(p_message, ''), 300), v_other_station, v_other_at)
    ON CONFLICT (client_id) DO NOTHING
    RETURNING id INTO v_id;
    RETURN v_id IS NOT NULL;
END
$$;
"""


def _quoted(name: str) -> str:
    return '"' + name + '"'


def _schema() -> str:
    schema = str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())
    return '"' + schema.replace('"', '""') + '"'


def _refuse(name: str, event: str, when: str, message: str) -> str:
    return f"CREATE TRIGGER {name} {event} WHEN {when} BEGIN SELECT RAISE(ABORT, '{message}'); END"


def sqlite_tracking() -> list[str]:
    """The counter's triggers: stamp a row inserted or updated with the next number.

    The inner UPDATE sets change_seq to the counter's new value, which the WHEN clause
    of the update trigger leaves alone, so it never fires itself again. An attendee's
    update is stamped only when a column of ATTENDEE_TRACKED changed (not a check-in's)
    or the writer set change_seq.
    """
    bump = "UPDATE station_change_counter SET value = value + 1 WHERE id = 1;"
    triggers = []
    counter = "(SELECT value FROM station_change_counter WHERE id = 1)"
    for table in TRACKED:
        stamp = (
            f"UPDATE {_quoted(table)} SET change_seq = "
            "(SELECT value FROM station_change_counter WHERE id = 1) WHERE rowid = NEW.rowid;"
        )
        triggers.append(
            f"CREATE TRIGGER change_seq_{table}_insert AFTER INSERT ON {_quoted(table)} "
            f"BEGIN {bump} {stamp} END"
        )
        if table == "attendee":
            columns = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in ATTENDEE_TRACKED)
            when = (
                f"(NEW.change_seq IS OLD.change_seq AND ({columns})) OR "
                f"(NEW.change_seq IS NOT OLD.change_seq AND NEW.change_seq IS NOT {counter})"
            )
        else:
            when = f"NEW.change_seq IS OLD.change_seq OR NEW.change_seq IS NOT {counter}"
        triggers.append(
            f"CREATE TRIGGER change_seq_{table}_update AFTER UPDATE ON {_quoted(table)} "
            f"WHEN {when} BEGIN {bump} {stamp} END"
        )
    return triggers


def sqlite_conflict_guards() -> list[str]:
    """offline_conflict's guards on SQLite: its attendee and line of its conference;
    append-only."""
    return [
        _refuse("guard_offline_conflict_attendee", "BEFORE INSERT ON offline_conflict",
                "NEW.attendee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM attendee a "
                "WHERE a.id = NEW.attendee_id AND a.conference_id IS NEW.conference_id)",
                "offline_conflict: the attendee is not in this conference"),
        _refuse("guard_offline_conflict_line", "BEFORE INSERT ON offline_conflict",
                "NEW.order_line_item_id IS NOT NULL AND NOT EXISTS (SELECT 1 "
                'FROM order_line_item li JOIN "order" o ON o.id = li.order_id '
                "WHERE li.id = NEW.order_line_item_id AND o.conference_id IS NEW.conference_id "
                "AND (NEW.attendee_id IS NULL OR li.order_id = "
                "(SELECT a.order_id FROM attendee a WHERE a.id = NEW.attendee_id)))",
                "offline_conflict: the line is not on the attendee''s order"),
        _refuse("guard_offline_conflict_staff", "BEFORE INSERT ON offline_conflict",
                "NEW.staff_id IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM staff s WHERE s.id = NEW.staff_id)",
                "offline_conflict: no such staff member"),
        "CREATE TRIGGER guard_offline_conflict_update BEFORE UPDATE ON offline_conflict "
        "BEGIN SELECT RAISE(ABORT, 'offline_conflict: conflicts are append-only'); END",
        "CREATE TRIGGER guard_offline_conflict_delete BEFORE DELETE ON offline_conflict "
        "BEGIN SELECT RAISE(ABORT, 'offline_conflict: conflicts are append-only'); END",
    ]  # fmt: skip


def _create_conflict_table() -> None:
    op.create_table(
        "offline_conflict",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("attendee_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=256), nullable=False),
        sa.Column("order_line_item_id", sa.Integer(), nullable=True),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("client_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("other_station", sa.String(length=100), nullable=True),
        sa.Column("other_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('overspend', 'conflict')", name=op.f("ck_offline_conflict_kind")
        ),
        sa.CheckConstraint(
            "action IN ('checkin', 'door', 'redeem')", name=op.f("ck_offline_conflict_action")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offline_conflict")),
        sa.UniqueConstraint("client_id", name=op.f("uq_offline_conflict_client_id")),
    )
    op.create_index(
        op.f("ix_offline_conflict_conference_id"), "offline_conflict", ["conference_id"]
    )


def _add_change_seq() -> None:
    for table in TRACKED:
        op.add_column(
            table, sa.Column("change_seq", sa.BigInteger(), server_default="0", nullable=False)
        )


def _pg_upgrade() -> None:
    schema = _schema()
    sequence = "'" + f"{schema}.station_change_seq".replace("'", "''") + "'::regclass"
    op.execute(PG_TRACKING.replace("@SEQUENCE@", sequence))
    for table in TRACKED:  # the rows already there, before the trigger takes over
        op.execute(f"UPDATE {_quoted(table)} SET change_seq = nextval({sequence})")
        function = (
            "station_stamp_shared_change" if table in WITHOUT_CONFERENCE else "station_stamp_change"
        )
        if table == "attendee":  # a check-in's update: no trigger, so still a HOT update
            op.execute(
                "CREATE TRIGGER stamp_change_seq BEFORE INSERT ON attendee "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
            op.execute(
                "CREATE TRIGGER stamp_change_seq_update BEFORE UPDATE ON attendee FOR EACH ROW "
                f"WHEN ({_attendee_changed()}) EXECUTE FUNCTION {function}()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER stamp_change_seq BEFORE INSERT OR UPDATE ON {_quoted(table)} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
    op.execute("ALTER TABLE offline_conflict ENABLE ROW LEVEL SECURITY")
    op.execute(PG_CONFLICT.replace("@SCHEMA@", schema))
    op.execute(f"REVOKE ALL ON FUNCTION {CONFLICT_FUNCTION} FROM PUBLIC")


def _sqlite_upgrade() -> None:
    op.create_table(
        "station_change_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_station_change_counter_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_change_counter")),
    )
    # The rows already there: numbered table after table, in id order.
    offset = 0
    for table in TRACKED:
        quoted = _quoted(table)
        op.execute(f"UPDATE {quoted} SET change_seq = id + {offset}")
        top = op.get_bind().exec_driver_sql(f"SELECT max(id) FROM {quoted}").scalar()
        offset += int(top or 0)
    op.execute(f"INSERT INTO station_change_counter (id, value) VALUES (1, {offset})")
    for trigger in (*sqlite_tracking(), *sqlite_conflict_guards()):
        op.execute(trigger)


def upgrade() -> None:
    _add_change_seq()
    for table in TRACKED:
        op.create_index(op.f(f"ix_{table}_change_seq"), table, ["change_seq"])
    _create_conflict_table()
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {CONFLICT_FUNCTION}")
        for table in TRACKED:
            op.execute(f"DROP TRIGGER IF EXISTS stamp_change_seq ON {_quoted(table)}")
        op.execute("DROP TRIGGER IF EXISTS stamp_change_seq_update ON attendee")
        for function in TRACKING_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
        op.execute("DROP SEQUENCE IF EXISTS station_change_seq")
    else:
        for table in TRACKED:
            for event in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS change_seq_{table}_{event}")
        for name in ("attendee", "line", "staff", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS guard_offline_conflict_{name}")
        op.drop_table("station_change_counter")
    op.drop_table("offline_conflict")
    for table in TRACKED:
        op.drop_index(op.f(f"ix_{table}_change_seq"), table_name=table)
        # SQLite 3.35+ drops a column in place (no rebuild, the other triggers stay).
        op.drop_column(table, "change_seq")
