"""A door's room count kept in one row: a door with a capacity reads it, not its history

Until now who is inside a door's room was counted from the records each time: every
standing door scan of the product since the last "everyone out", walked by the facts
query and again by station_admit() under the product's lock, so a door with a capacity
ran at about 0.4 times a plain door and slowed as its day went on. From here:

- room_count: one row per door product (ticket_type_id or addon_id, as door_check),
  its conference and ``inside`` (>= 0). Nothing writes it but the triggers below; the
  station role may only read it (its conference's rows).
- Triggers, on PostgreSQL and SQLite, keep it to the definition of
  station.services.rooms (someone is inside when their last standing scan at the door
  since it was last cleared is an entry):
  - a door_check insert changes it by the person's standing after minus before (an
    entry of someone not inside +1, an exit of someone inside -1, anything else 0);
  - a scan_void of a door scan: the same for the person whose scan it takes back;
  - a door_clear recounts the room from the records (0, unless scans were recorded
    after the clear's time: a clock moved back), a walk over the scans since the clear.
- PostgreSQL: each trigger takes the room row's lock before it reads the person's
  records (a new snapshot per statement under READ COMMITTED), so two writers at one
  door change the count one after the other, each from what the other committed.
  station_admit() reads the count under that same lock (after the product's row lock
  it already took), O(1); station_door_clear() records the count it clears.
- SQLite: one writer at a time (BEGIN IMMEDIATE), so the triggers need no lock.
- The existing rows are counted once here.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 06:30:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPTIONS = "LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = @SCHEMA@, pg_temp"
TRIGGER_FUNCTIONS = ("station_room_scan()", "station_room_void()", "station_room_clear()")

# Whether one person stands inside a door's room: their last standing scan there since
# the door's last clear is an entry. @ATTENDEE@, @TICKET@, @ADDON@: the person and the
# door (one of the two ids NULL); @SCAN@ and @VOID@ leave out a scan or a void (the
# standing before the row that fired); @NEVER@ the time before any clear. The door is
# matched with @SAME@ (IS NOT DISTINCT FROM, not indexable) so that PostgreSQL reads the
# person's few scans by their own index, never the door's whole history by the room's.
_STANDING = """coalesce((SELECT d.direction = 'in' FROM door_check d
     WHERE d.attendee_id = @ATTENDEE@
       AND d.ticket_type_id @SAME@ @TICKET@ AND d.addon_id @SAME@ @ADDON@
       AND d.checked_at > coalesce((SELECT max(c.cleared_at) FROM door_clear c
                                     WHERE c.ticket_type_id = @TICKET@
                                        OR c.addon_id = @ADDON@), @NEVER@)
       AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'door'
                                                  AND v.record_id = d.id@VOID@)@SCAN@
     ORDER BY d.checked_at DESC, d.id DESC LIMIT 1), false)"""

# How many stand inside, from the records (rooms.inside_query's count): the backfill,
# and a clear's recount. @WHERE@ picks the door's scans, @CLEARS@ its clears.
_COUNT = """(SELECT count(*) FROM (
        SELECT d.direction, row_number() OVER (
                   PARTITION BY d.attendee_id ORDER BY d.checked_at DESC, d.id DESC) AS rank
          FROM door_check d
         WHERE @WHERE@
           AND d.checked_at > coalesce((SELECT max(c.cleared_at) FROM door_clear c
                                         WHERE @CLEARS@), @NEVER@)
           AND NOT EXISTS (SELECT 1 FROM scan_void v WHERE v.record_kind = 'door'
                                                      AND v.record_id = d.id)) last
     WHERE last.rank = 1 AND last.direction = 'in')"""

PG_NEVER = "'-infinity'"
SQLITE_NEVER = "''"


def standing(
    attendee: str, ticket: str, addon: str, never: str, *, scan: str = "", void: str = ""
) -> str:
    return (
        _STANDING.replace("@ATTENDEE@", attendee)
        .replace("@TICKET@", ticket)
        .replace("@ADDON@", addon)
        .replace("@NEVER@", never)
        .replace("@SAME@", "IS" if never == SQLITE_NEVER else "IS NOT DISTINCT FROM")
        .replace("@SCAN@", f"\n       AND d.id <> {scan}" if scan else "")
        .replace("@VOID@", f" AND v.id <> {void}" if void else "")
    )


def count(ticket: str, addon: str, never: str) -> str:
    """The room of the door ``ticket``/``addon`` (one of them NULL), counted from records."""
    return (
        _COUNT.replace("@WHERE@", f"(d.ticket_type_id = {ticket} OR d.addon_id = {addon})")
        .replace("@CLEARS@", f"c.ticket_type_id = {ticket} OR c.addon_id = {addon}")
        .replace("@NEVER@", never)
    )


def _pg_count(row: str) -> str:
    """PL/pgSQL: the door of ``row`` counted from records, on the index of its own column."""
    by_column = {
        column: _COUNT.replace("@WHERE@", f"d.{column} = {row}.{column}")
        .replace("@CLEARS@", f"c.{column} = {row}.{column}")
        .replace("@NEVER@", PG_NEVER)
        for column in ("ticket_type_id", "addon_id")
    }
    return (
        f"CASE WHEN {row}.ticket_type_id IS NOT NULL THEN {by_column['ticket_type_id']}\n"
        f"                  ELSE {by_column['addon_id']} END"
    )


# PL/pgSQL: the room row of @ROW@'s door, made if missing and locked into v_room.
_PG_LOCK_ROOM = """
    SELECT r.id INTO v_room FROM room_count r
     WHERE r.ticket_type_id = @ROW@.ticket_type_id OR r.addon_id = @ROW@.addon_id
       FOR UPDATE;
    IF v_room IS NULL THEN
        INSERT INTO room_count (conference_id, ticket_type_id, addon_id, inside)
        VALUES (@ROW@.conference_id, @ROW@.ticket_type_id, @ROW@.addon_id, 0)
        ON CONFLICT DO NOTHING;
        SELECT r.id INTO v_room FROM room_count r
         WHERE r.ticket_type_id = @ROW@.ticket_type_id OR r.addon_id = @ROW@.addon_id
           FOR UPDATE;
    END IF;"""


def _lock_room(row: str) -> str:
    return _PG_LOCK_ROOM.replace("@ROW@", row)


def _pg_change(row: str, *, scan: str = "", void: str = "") -> str:
    after = standing(f"{row}.attendee_id", f"{row}.ticket_type_id", f"{row}.addon_id", PG_NEVER)
    before = standing(
        f"{row}.attendee_id",
        f"{row}.ticket_type_id",
        f"{row}.addon_id",
        PG_NEVER,
        scan=scan,
        void=void,
    )
    return f"""
    -- Under the room's lock: the person's standing after this row, minus before it.
    v_change := ({after})::integer
              - ({before})::integer;
    IF v_change <> 0 THEN
        UPDATE room_count SET inside = inside + v_change WHERE id = v_room;
    END IF;"""


PG_TRIGGERS = [
    f"""
CREATE FUNCTION station_room_scan() RETURNS trigger
{_OPTIONS} AS $$
DECLARE
    v_room integer;
    v_change integer;
BEGIN{_lock_room("NEW")}{_pg_change("NEW", scan="NEW.id")}
    RETURN NULL;
END
$$;
""",
    """
CREATE TRIGGER room_count_scan AFTER INSERT ON door_check
FOR EACH ROW EXECUTE FUNCTION station_room_scan();
""",
    f"""
CREATE FUNCTION station_room_void() RETURNS trigger
{_OPTIONS} AS $$
DECLARE
    v_scan door_check%ROWTYPE;
    v_room integer;
    v_change integer;
BEGIN
    SELECT * INTO v_scan FROM door_check d WHERE d.id = NEW.record_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;{_lock_room("v_scan")}{_pg_change("v_scan", void="NEW.id")}
    RETURN NULL;
END
$$;
""",
    """
CREATE TRIGGER room_count_void AFTER INSERT ON scan_void
FOR EACH ROW WHEN (NEW.record_kind = 'door') EXECUTE FUNCTION station_room_void();
""",
    f"""
CREATE FUNCTION station_room_clear() RETURNS trigger
{_OPTIONS} AS $$
DECLARE
    v_room integer;
BEGIN{_lock_room("NEW")}
    -- Everyone out: nobody, unless scans were recorded after the clear's time.
    UPDATE room_count SET inside = {_pg_count("NEW")}
     WHERE id = v_room;
    RETURN NULL;
END
$$;
""",
    """
CREATE TRIGGER room_count_clear AFTER INSERT ON door_clear
FOR EACH ROW EXECUTE FUNCTION station_room_clear();
""",
]


def _sqlite_room(row: str) -> str:
    return f"ticket_type_id = {row}.ticket_type_id OR addon_id = {row}.addon_id"


def _sqlite_make_room(row: str) -> str:
    return (
        "INSERT OR IGNORE INTO room_count (conference_id, ticket_type_id, addon_id, inside) "
        f"VALUES ({row}.conference_id, {row}.ticket_type_id, {row}.addon_id, 0);"
    )


_SCAN = "(SELECT s.{0} FROM door_check s WHERE s.id = NEW.record_id)"


def sqlite_triggers() -> list[str]:
    new_after = standing("NEW.attendee_id", "NEW.ticket_type_id", "NEW.addon_id", SQLITE_NEVER)
    new_before = standing(
        "NEW.attendee_id", "NEW.ticket_type_id", "NEW.addon_id", SQLITE_NEVER, scan="NEW.id"
    )
    attendee, ticket, addon = (
        _SCAN.format(c) for c in ("attendee_id", "ticket_type_id", "addon_id")
    )
    void_after = standing(attendee, ticket, addon, SQLITE_NEVER)
    void_before = standing(attendee, ticket, addon, SQLITE_NEVER, void="NEW.id")
    recount = count("NEW.ticket_type_id", "NEW.addon_id", SQLITE_NEVER)
    return [
        "CREATE TRIGGER room_count_scan AFTER INSERT ON door_check BEGIN\n"
        f"{_sqlite_make_room('NEW')}\n"
        f"UPDATE room_count SET inside = inside + ({new_after}) - ({new_before})\n"
        f" WHERE {_sqlite_room('NEW')};\nEND",
        "CREATE TRIGGER room_count_void AFTER INSERT ON scan_void "
        "WHEN NEW.record_kind = 'door' BEGIN\n"
        f"UPDATE room_count SET inside = inside + ({void_after}) - ({void_before})\n"
        f" WHERE ticket_type_id = {ticket} OR addon_id = {addon};\nEND",
        "CREATE TRIGGER room_count_clear AFTER INSERT ON door_clear BEGIN\n"
        f"{_sqlite_make_room('NEW')}\n"
        f"UPDATE room_count SET inside = {recount}\n"
        f" WHERE {_sqlite_room('NEW')};\nEND",
    ]


# station_admit(): 0014's, the room read from its row under the row's lock.
def _old_room(column: str) -> str:
    return _revision("0014_event_rules.py")._room(column)  # type: ignore[no-any-return]


def _new_room(column: str) -> str:
    ticket, addon = ("p_product", "NULL") if column == "ticket_type_id" else ("NULL", "p_product")
    holder = standing("p_attendee", ticket, addon, PG_NEVER)
    return (
        f"SELECT r.inside INTO v_inside FROM room_count r WHERE r.{column} = p_product\n"
        "                   FOR UPDATE;\n"
        "                v_inside := coalesce(v_inside, 0);\n"
        f"                v_holder_inside := {holder};"
    )


def _revision(filename: str) -> ModuleType:
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"station_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _replaced(text: str) -> str:
    return text.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def pg_functions(schema: str, *, counted: bool = True) -> list[str]:
    """station_admit() and station_door_clear(): reading room_count, or (not ``counted``)
    0014's, counting the records."""
    r0014 = _revision("0014_event_rules.py")
    made = r0014.pg_functions(schema)
    admit = next(f for f in made if "FUNCTION station_admit(" in f)
    clear = next(f for f in made if "FUNCTION station_door_clear(" in f)
    if counted:
        for column in ("ticket_type_id", "addon_id"):
            old = _old_room(column)
            assert old in admit, "0014's room count in station_admit moved"
            admit = admit.replace(old, _new_room(column))
        for column in ("ticket_type_id", "addon_id"):
            old = f"v_inside := {r0014._inside(column)};"
            assert old in clear, "0014's room count in station_door_clear moved"
            clear = clear.replace(
                old,
                "SELECT coalesce((SELECT r.inside FROM room_count r "
                f"WHERE r.{column} = p_product), 0) INTO v_inside;",
            )
    return [_replaced(admit), _replaced(clear)]


def _schema() -> str:
    schema = str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())
    return '"' + schema.replace('"', '""') + '"'


def _backfill(never: str) -> str:
    return f"""
INSERT INTO room_count (conference_id, ticket_type_id, addon_id, inside)
SELECT p.conference_id, p.ticket_type_id, p.addon_id,
       {count("p.ticket_type_id", "p.addon_id", never)}
  FROM (SELECT min(d.conference_id) AS conference_id, d.ticket_type_id, d.addon_id
          FROM door_check d GROUP BY d.ticket_type_id, d.addon_id
        UNION
        SELECT min(c.conference_id), c.ticket_type_id, c.addon_id
          FROM door_clear c GROUP BY c.ticket_type_id, c.addon_id) p
 WHERE NOT EXISTS (SELECT 1 FROM room_count r WHERE r.ticket_type_id = p.ticket_type_id
                                                 OR r.addon_id = p.addon_id)"""


def upgrade() -> None:
    op.create_table(
        "room_count",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("ticket_type_id", sa.Integer(), nullable=True),
        sa.Column("addon_id", sa.Integer(), nullable=True),
        sa.Column("inside", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(ticket_type_id IS NULL) <> (addon_id IS NULL)", name=op.f("ck_room_count_one_product")
        ),
        sa.CheckConstraint("inside >= 0", name=op.f("ck_room_count_inside")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_count")),
        sa.UniqueConstraint("addon_id", name=op.f("uq_room_count_addon_id")),
        sa.UniqueConstraint("ticket_type_id", name=op.f("uq_room_count_ticket_type_id")),
    )
    op.create_index(op.f("ix_room_count_conference_id"), "room_count", ["conference_id"])
    if op.get_bind().dialect.name == "postgresql":
        schema = _schema()
        op.execute("ALTER TABLE room_count ENABLE ROW LEVEL SECURITY")
        # Counted under the record tables' write locks: nothing is recorded meanwhile.
        op.execute("LOCK TABLE door_check, scan_void, door_clear IN SHARE MODE")
        op.execute(_backfill(PG_NEVER))
        for text in PG_TRIGGERS:
            op.execute(text.replace("@SCHEMA@", schema))
        for function in TRIGGER_FUNCTIONS:
            op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
        for text in pg_functions(schema):
            op.execute(text)
    else:
        op.execute(_backfill(SQLITE_NEVER))
        for trigger in sqlite_triggers():
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        schema = _schema()
        for text in pg_functions(schema, counted=False):
            op.execute(text)
        for table, trigger in (
            ("door_check", "room_count_scan"),
            ("scan_void", "room_count_void"),
            ("door_clear", "room_count_clear"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        for function in TRIGGER_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    else:
        for trigger in ("room_count_scan", "room_count_void", "room_count_clear"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.drop_index(op.f("ix_room_count_conference_id"), table_name="room_count")
    op.drop_table("room_count")
