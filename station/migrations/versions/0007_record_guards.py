"""Guards in the database: scan records hold their invariants whatever the client sends

A station's credential (the role of `station db grant-station-role`) could write
any record it liked: redemptions past a line's quantity, on refunded orders or
for lines of someone else's order, check-ins for another conference's
attendees, any time and any staff id. The services decide and word every
refusal; these guards only make a forged or buggy write fail, with SQLSTATE
23514 (check_violation), which the services report as "The database refused
the write — scan NOT recorded".

- Every insert into check_in, door_check, product_redemption and scan_log
  passes a BEFORE INSERT trigger (PostgreSQL: SECURITY DEFINER, fixed
  search_path): the attendee is of the record's conference; a check-in, a door
  admission or a redemption needs an active order (statuses generated from
  station.domain.ACTIVE_ORDER_STATUSES); a door admission needs the product on
  the attendee's own order; a redemption needs an add-on line of the
  attendee's own order with a unit left, counted under the attendee's row lock
  as the services do, so no interleaving oversells; the staff id, if any, is a
  staff member's; one record per statement (a scan writes one). The recorded
  time is the server's transaction time; what the client sent is kept in the
  new client_at column.
- A check-in sets the attendee's first check-in time itself (the station role
  no longer updates attendees) and says in check_in.first_entry whether it was
  the first, so two desks still agree on who was first.
- The record tables are append-only: UPDATE and DELETE are refused for
  everyone, except in an administrator's maintenance transaction (the demo's
  reset, an import of earlier redemptions): `SET LOCAL station.maintenance =
  'on'` by a member of the tables' owner role, which also lets the load keep
  its own times. On SQLite the maintenance path drops these triggers inside
  its own transaction (see station.db.record_maintenance).
- station_lock_attendee() gives the ORM path its row lock without an UPDATE
  right (station_redeem(), which takes the same lock, now runs as its owner);
  station_staff(), station_pin_parameters() and station_check_pin() let a
  station sign operators in without reading PIN hashes.
- Record ids (and their sequences) become bigint.

SQLite gets the same insert invariants and append-only as triggers; its time is
the station's own (the station is the server there).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from station.domain import ACTIVE_ORDER_STATUSES

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDS = ("check_in", "door_check", "product_redemption", "scan_log")
# The record table -> its time column, which the server sets.
TIMES = {
    "check_in": "checked_in_at",
    "door_check": "checked_at",
    "product_redemption": "redeemed_at",
    "scan_log": "scanned_at",
}
# The one place the active statuses become SQL: "'paid', 'partially_refunded'".
ACTIVE = ", ".join(f"'{status.value}'" for status in sorted(ACTIVE_ORDER_STATUSES))

# Each guard function's body; @RECORD@ is the check that differs per table.
# coalesce(): unset, the setting is NULL, and NULL AND x evaluates x, so without it every
# scan's insert would call station_may_maintain() (a SQL function, parsed and planned on
# each call: half of a guard's time). With it, false AND x stops at false.
_MAINTENANCE = """
    IF coalesce(current_setting('station.maintenance', true), '') = 'on'
       AND station_may_maintain(TG_RELID) THEN
        RETURN NEW;  -- an administrator's load: its rows as given
    END IF;"""

PG_FUNCTIONS = rf"""
CREATE FUNCTION station_may_maintain(p_table oid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
    SELECT pg_has_role(session_user, c.relowner, 'MEMBER') FROM pg_class c WHERE c.oid = p_table
$$;

CREATE FUNCTION station_append_only() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
BEGIN
    IF coalesce(current_setting('station.maintenance', true), '') = 'on'
       AND station_may_maintain(TG_RELID) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '%: scan records are append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE FUNCTION station_guard_check_in() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
DECLARE
    v_conference integer;
    v_active boolean;
    v_staff boolean;
BEGIN{_MAINTENANCE}
    NEW.client_at := coalesce(NEW.client_at, NEW.checked_in_at);
    NEW.checked_in_at := now();
    -- One statement reads what the checks need and sets the first check-in time; a
    -- refusal below undoes the update with the insert. Guarded: of two desks checking
    -- the same person in at once, the second waits for the first's row lock, then
    -- finds the time set.
    WITH first AS (
        UPDATE attendee a SET checked_in_at = NEW.checked_in_at, updated_at = NEW.checked_in_at
         WHERE a.id = NEW.attendee_id AND a.checked_in_at IS NULL
        RETURNING a.id
    )
    SELECT a.conference_id, o.status IN ({ACTIVE}),
           NEW.staff_id IS NULL OR EXISTS (SELECT 1 FROM staff s WHERE s.id = NEW.staff_id),
           EXISTS (SELECT 1 FROM first)
      INTO v_conference, v_active, v_staff, NEW.first_entry
      FROM attendee a LEFT JOIN "order" o ON o.id = a.order_id
     WHERE a.id = NEW.attendee_id;
    IF v_conference IS DISTINCT FROM NEW.conference_id THEN
        RAISE EXCEPTION 'check_in: attendee % is not in conference %',
            NEW.attendee_id, NEW.conference_id USING ERRCODE = 'check_violation';
    ELSIF v_active IS NOT TRUE THEN
        RAISE EXCEPTION 'check_in: attendee % has no active order', NEW.attendee_id
            USING ERRCODE = 'check_violation';
    ELSIF NOT v_staff THEN
        RAISE EXCEPTION 'check_in: no staff member %', NEW.staff_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION station_guard_door_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
DECLARE
    v_conference integer;
    v_active boolean;
    v_bought boolean;
    v_staff boolean;
BEGIN{_MAINTENANCE}
    NEW.client_at := coalesce(NEW.client_at, NEW.checked_at);
    NEW.checked_at := now();
    SELECT a.conference_id, o.status IN ({ACTIVE}),
           EXISTS (SELECT 1 FROM order_line_item li
                    WHERE li.order_id = a.order_id AND li.quantity > 0
                      AND (li.ticket_type_id = NEW.ticket_type_id OR li.addon_id = NEW.addon_id)),
           NEW.staff_id IS NULL OR EXISTS (SELECT 1 FROM staff s WHERE s.id = NEW.staff_id)
      INTO v_conference, v_active, v_bought, v_staff
      FROM attendee a LEFT JOIN "order" o ON o.id = a.order_id
     WHERE a.id = NEW.attendee_id;
    IF v_conference IS DISTINCT FROM NEW.conference_id THEN
        RAISE EXCEPTION 'door_check: attendee % is not in conference %',
            NEW.attendee_id, NEW.conference_id USING ERRCODE = 'check_violation';
    ELSIF v_active IS NOT TRUE THEN
        RAISE EXCEPTION 'door_check: attendee % has no active order', NEW.attendee_id
            USING ERRCODE = 'check_violation';
    ELSIF NOT v_bought THEN
        RAISE EXCEPTION 'door_check: the product is not on attendee %''s order', NEW.attendee_id
            USING ERRCODE = 'check_violation';
    ELSIF NOT v_staff THEN
        RAISE EXCEPTION 'door_check: no staff member %', NEW.staff_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION station_guard_product_redemption() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
DECLARE
    v_conference integer;
    v_order integer;
    v_active boolean;
    v_staff boolean;
    v_quantity integer;
    v_used bigint;
BEGIN{_MAINTENANCE}
    NEW.client_at := coalesce(NEW.client_at, NEW.redeemed_at);
    NEW.redeemed_at := now();
    -- Redemptions of one attendee queue on this row lock, as in the services (a
    -- no-op when the caller holds it already); the count below starts after it.
    SELECT a.conference_id, a.order_id, o.status IN ({ACTIVE}),
           NEW.staff_id IS NULL OR EXISTS (SELECT 1 FROM staff s WHERE s.id = NEW.staff_id)
      INTO v_conference, v_order, v_active, v_staff
      FROM attendee a LEFT JOIN "order" o ON o.id = a.order_id
     WHERE a.id = NEW.attendee_id
       FOR NO KEY UPDATE OF a;
    IF v_conference IS DISTINCT FROM NEW.conference_id THEN
        RAISE EXCEPTION 'product_redemption: attendee % is not in conference %',
            NEW.attendee_id, NEW.conference_id USING ERRCODE = 'check_violation';
    ELSIF v_active IS NOT TRUE THEN
        RAISE EXCEPTION 'product_redemption: attendee % has no active order', NEW.attendee_id
            USING ERRCODE = 'check_violation';
    ELSIF NOT v_staff THEN
        RAISE EXCEPTION 'product_redemption: no staff member %', NEW.staff_id
            USING ERRCODE = 'check_violation';
    END IF;
    -- A statement of its own, so its snapshot is taken under the lock.
    SELECT li.quantity,
           (SELECT count(*) FROM product_redemption pr
             WHERE pr.order_line_item_id = NEW.order_line_item_id
               AND pr.attendee_id = NEW.attendee_id)
      INTO v_quantity, v_used
      FROM order_line_item li
     WHERE li.id = NEW.order_line_item_id AND li.order_id = v_order AND li.addon_id IS NOT NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'product_redemption: line % is not an add-on of attendee %''s order',
            NEW.order_line_item_id, NEW.attendee_id USING ERRCODE = 'check_violation';
    END IF;
    IF v_used >= v_quantity THEN
        RAISE EXCEPTION 'product_redemption: line % is used up (% of %)',
            NEW.order_line_item_id, v_used, v_quantity USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION station_guard_scan_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
DECLARE
    v_attendee boolean;
    v_staff boolean;
BEGIN{_MAINTENANCE}
    NEW.client_at := coalesce(NEW.client_at, NEW.scanned_at);
    NEW.scanned_at := now();
    IF NEW.attendee_id IS NOT NULL OR NEW.staff_id IS NOT NULL THEN
        SELECT NEW.attendee_id IS NULL
                   OR EXISTS (SELECT 1 FROM attendee a WHERE a.id = NEW.attendee_id
                                 AND a.conference_id = NEW.conference_id),
               NEW.staff_id IS NULL OR EXISTS (SELECT 1 FROM staff s WHERE s.id = NEW.staff_id)
          INTO v_attendee, v_staff;
        IF NOT v_attendee THEN
            RAISE EXCEPTION 'scan_log: attendee % is not in conference %',
                NEW.attendee_id, NEW.conference_id USING ERRCODE = 'check_violation';
        ELSIF NOT v_staff THEN
            RAISE EXCEPTION 'scan_log: no staff member %', NEW.staff_id
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

-- A scan writes one record per statement: a statement writing more is a bulk forgery
-- (every add-on line of a conference at once), unless it is an administrator's load.
CREATE FUNCTION station_one_record() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
BEGIN
    IF (SELECT count(*) FROM added) > 1
       AND NOT (coalesce(current_setting('station.maintenance', true), '') = 'on'
                AND station_may_maintain(TG_RELID)) THEN
        RAISE EXCEPTION '%: one record per statement', TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

-- The ORM path's lock on an attendee (FOR NO KEY UPDATE needs an UPDATE right the
-- station role does not have). It lasts to the end of the caller's transaction, and
-- only a transaction that has written nothing yet may take it: one attendee at a time.
CREATE FUNCTION station_lock_attendee(p_attendee_id integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
BEGIN
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'station_lock_attendee: only before a transaction''s first write'
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM 1 FROM attendee a WHERE a.id = p_attendee_id FOR NO KEY UPDATE;
    RETURN FOUND;
END
$$;

-- Operators as a station lists them: whether they have a PIN, never the hash.
CREATE FUNCTION station_staff() RETURNS TABLE (id integer, name text, has_pin boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
    SELECT s.id, s.name::text, s.pin_hash IS NOT NULL FROM staff s WHERE s.active ORDER BY s.name
$$;

-- An active operator by name, with their PIN's scheme and salt ("scrypt$<salt>"; NULL
-- without a PIN): enough to hash a typed PIN, nothing to test guesses against.
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

-- Whether a PIN hashed with those parameters is the operator's; a miss costs a second.
CREATE FUNCTION station_check_pin(p_staff_id integer, p_pin_hash text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp AS $$
DECLARE
    v_match boolean;
BEGIN
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

REDEEM = (
    "station_redeem(text, text, text, text, integer, uuid, timestamptz, text, integer, text, "
    "jsonb, text)"
)
PG_DROPPED_FUNCTIONS = (
    "station_append_only()",
    "station_guard_check_in()",
    "station_guard_door_check()",
    "station_guard_product_redemption()",
    "station_guard_scan_log()",
    "station_one_record()",
    "station_may_maintain(oid)",
    "station_lock_attendee(integer)",
    "station_staff()",
    "station_pin_parameters(text)",
    "station_check_pin(integer, text)",
)


def _add_columns() -> None:
    # Plain ALTER TABLE, also on SQLite: a batch copy of a record table would break the
    # delete guards of 0005, whose triggers on the parent tables name it.
    for table in RECORDS:
        op.add_column(table, sa.Column("client_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "check_in",
        sa.Column("first_entry", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # Check-ins recorded so far: the earliest of each attendee was the first.
    op.execute(
        "UPDATE check_in SET first_entry = true WHERE NOT EXISTS ("
        "SELECT 1 FROM check_in e WHERE e.attendee_id = check_in.attendee_id AND "
        "(e.checked_in_at < check_in.checked_in_at OR "
        "(e.checked_in_at = check_in.checked_in_at AND e.id < check_in.id)))"
    )


def _redeem_definition() -> str:
    return str(
        op.get_bind()
        .exec_driver_sql(
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.proname = 'station_redeem' "
            "AND p.pronamespace = current_schema()::regnamespace"
        )
        .scalar()
    )


def _redeem_record_id(old: str, new: str) -> None:
    """station_redeem() reads a redemption's id into a variable: its type follows the column."""
    definition = _redeem_definition()
    if old in definition:
        op.get_bind().exec_driver_sql(definition.replace(old, new))


def _pg_upgrade() -> None:
    bind = op.get_bind()
    for table in RECORDS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id TYPE bigint")
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS bigint")
    _redeem_record_id("v_inserted integer;", "v_inserted bigint;")
    schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar())
    quoted = '"' + schema.replace('"', '""') + '"'
    op.execute(PG_FUNCTIONS.replace("@SCHEMA@", quoted))
    for function in PG_DROPPED_FUNCTIONS:  # granted to the station role by name only
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    # station_redeem() locks the attendee row, which needs an UPDATE right the station
    # role no longer has: it runs as its owner. Its inserts still pass the guards.
    op.execute(f"ALTER FUNCTION {REDEEM} SECURITY DEFINER SET search_path = {quoted}, pg_temp")
    for table in RECORDS:
        op.execute(
            f"CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION station_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER guard_insert BEFORE INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION station_guard_{table}()"
        )
        if table != "scan_log":
            op.execute(
                f"CREATE TRIGGER one_record AFTER INSERT ON {table} "
                "REFERENCING NEW TABLE AS added "
                "FOR EACH STATEMENT EXECUTE FUNCTION station_one_record()"
            )


def _pg_downgrade() -> None:
    op.execute(f"ALTER FUNCTION {REDEEM} SECURITY INVOKER RESET search_path")
    for table in RECORDS:
        op.execute(f"DROP TRIGGER IF EXISTS append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS guard_insert ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS one_record ON {table}")
    for function in PG_DROPPED_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    _redeem_record_id("v_inserted bigint;", "v_inserted integer;")
    for table in RECORDS:
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS integer")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id TYPE integer")


def _refuse(name: str, event: str, when: str, message: str) -> str:
    return f"CREATE TRIGGER {name} {event} WHEN {when} BEGIN SELECT RAISE(ABORT, '{message}'); END"


def _sqlite_triggers() -> list[str]:
    """The SQLite guards: one trigger per invariant, all named guard_*."""
    triggers = []
    for table in RECORDS:
        for event in ("UPDATE", "DELETE"):
            triggers.append(
                _refuse(f"guard_{table}_no_{event.lower()}", f"BEFORE {event} ON {table}",
                        "1", f"{table}: scan records are append-only ({event} refused)")
            )  # fmt: skip
    own_attendee = (
        "NOT EXISTS (SELECT 1 FROM attendee a WHERE a.id = NEW.attendee_id "
        "AND a.conference_id IS NEW.conference_id)"
    )
    active = (
        'NOT EXISTS (SELECT 1 FROM attendee a JOIN "order" o ON o.id = a.order_id '
        f"WHERE a.id = NEW.attendee_id AND o.status IN ({ACTIVE}))"
    )
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
    triggers.append(
        "CREATE TRIGGER guard_check_in_first_time AFTER INSERT ON check_in "
        "BEGIN UPDATE attendee SET checked_in_at = NEW.checked_in_at, "
        "updated_at = NEW.checked_in_at "
        "WHERE id = NEW.attendee_id AND checked_in_at IS NULL; END"
    )
    return triggers


def upgrade() -> None:
    _add_columns()
    if op.get_bind().dialect.name == "postgresql":
        _pg_upgrade()
    else:
        for trigger in _sqlite_triggers():
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_downgrade()
    else:
        names = op.get_bind().exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'guard\\_%' "
            "ESCAPE '\\'"
        )
        for (name,) in names.all():
            op.execute(f"DROP TRIGGER {name}")
    for table in RECORDS:
        op.execute(f"ALTER TABLE {table} DROP COLUMN client_at")
    op.execute("ALTER TABLE check_in DROP COLUMN first_entry")
