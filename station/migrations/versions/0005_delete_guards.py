"""Scan records: a guard on deleting what they refer to, instead of a key check per scan

A foreign key checks its parent row on every insert: a query for each key,
and a FOR KEY SHARE lock on the parent, which writes to the parent's page.
Every scan inserts a record and a scan-log row, so a meal redemption paid for
three such checks (attendee and line item for the redemption, attendee for
the log): about 22 microseconds, 5% of the scan, and a lock record on the
line item's page. The ids a scan writes are ones the same statement has just
read, under the attendee's row lock for a redemption, so the check at insert
finds nothing new.

What the keys also did, and what matters for no lost data, is refuse to delete
(or renumber) an attendee, a line item, a ticket type or an add-on while
records refer to it. That stays, moved to where it costs only the rare delete:

- PostgreSQL: a statement-level trigger after DELETE, reading the deleted
  rows as a transition table, refuses the whole statement if any record
  refers to one of them (one join per record table, however many rows go);
  a row trigger refuses changing a referred-to id.
- SQLite: a row trigger before DELETE, and one before UPDATE OF id, per
  record table.

Nothing in the station deletes these rows (the demo's reset deletes the
records first); the station's database role can delete nothing at all.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 15:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# parent table -> the (record table, column) pairs that refer to its id.
REFERRED: dict[str, tuple[tuple[str, str], ...]] = {
    "attendee": (
        ("check_in", "attendee_id"),
        ("door_check", "attendee_id"),
        ("product_redemption", "attendee_id"),
        ("scan_log", "attendee_id"),
    ),
    "order_line_item": (("product_redemption", "order_line_item_id"),),
    "ticket_type": (("door_check", "ticket_type_id"),),
    "addon": (("door_check", "addon_id"),),
}

PG_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION station_keep_records() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    i integer := 0;
    v_id bigint;
BEGIN
    -- TG_ARGV holds (record table, column) pairs; "gone" the rows just deleted.
    WHILE i < TG_NARGS LOOP
        EXECUTE format(
            'SELECT g.id FROM gone g WHERE g.id IN (SELECT r.%I FROM %I r) LIMIT 1',
            TG_ARGV[i + 1], TG_ARGV[i]) INTO v_id;
        IF v_id IS NOT NULL THEN
            RAISE EXCEPTION '% % is referred to by % (%); scan records are kept',
                TG_TABLE_NAME, v_id, TG_ARGV[i], TG_ARGV[i + 1]
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        i := i + 2;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION station_keep_record_ids() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    i integer := 0;
    v_found boolean;
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id THEN
        WHILE i < TG_NARGS LOOP
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I r WHERE r.%I = $1)',
                           TG_ARGV[i], TG_ARGV[i + 1])
               INTO v_found USING OLD.id;
            IF v_found THEN
                RAISE EXCEPTION '% % is referred to by % (%); its id stays',
                    TG_TABLE_NAME, OLD.id, TG_ARGV[i], TG_ARGV[i + 1]
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            i := i + 2;
        END LOOP;
    END IF;
    RETURN NEW;
END
$$;
"""


def _key(table: str, column: str, parent: str) -> str:
    return f"fk_{table}_{column}_{parent}"


def _records_by_table() -> dict[str, list[tuple[str, str]]]:
    """record table -> its (column, parent) keys."""
    by_table: dict[str, list[tuple[str, str]]] = {}
    for parent, records in REFERRED.items():
        for table, column in records:
            by_table.setdefault(table, []).append((column, parent))
    return by_table


def _pg_guards() -> None:
    op.execute(PG_FUNCTIONS)
    for parent, records in REFERRED.items():
        args = ", ".join(f"'{table}', '{column}'" for table, column in records)
        op.execute(
            f'CREATE TRIGGER keep_records_on_delete AFTER DELETE ON "{parent}" '
            "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
            f"EXECUTE FUNCTION station_keep_records({args})"
        )
        op.execute(
            f'CREATE TRIGGER keep_record_ids BEFORE UPDATE OF id ON "{parent}" '
            f"FOR EACH ROW EXECUTE FUNCTION station_keep_record_ids({args})"
        )


def _sqlite_guards() -> None:
    for parent, records in REFERRED.items():
        for table, column in records:
            refers = f"EXISTS (SELECT 1 FROM {table} WHERE {column} = OLD.id)"
            message = f"{parent} is referred to by {table} ({column}); scan records are kept"
            op.execute(
                f"CREATE TRIGGER keep_{table}_on_{parent}_delete BEFORE DELETE ON {parent} "
                f"WHEN {refers} BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
            op.execute(
                f"CREATE TRIGGER keep_{table}_on_{parent}_id BEFORE UPDATE OF id ON {parent} "
                f"WHEN NEW.id IS NOT OLD.id AND {refers} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def upgrade() -> None:
    for table, keys in _records_by_table().items():
        with op.batch_alter_table(table) as batch_op:
            for column, parent in keys:
                batch_op.drop_constraint(_key(table, column, parent), type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        _pg_guards()
    else:
        _sqlite_guards()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for parent in REFERRED:
            op.execute(f'DROP TRIGGER IF EXISTS keep_records_on_delete ON "{parent}"')
            op.execute(f'DROP TRIGGER IF EXISTS keep_record_ids ON "{parent}"')
        op.execute("DROP FUNCTION IF EXISTS station_keep_records()")
        op.execute("DROP FUNCTION IF EXISTS station_keep_record_ids()")
    else:
        for parent, records in REFERRED.items():
            for table, _column in records:
                op.execute(f"DROP TRIGGER IF EXISTS keep_{table}_on_{parent}_delete")
                op.execute(f"DROP TRIGGER IF EXISTS keep_{table}_on_{parent}_id")
    for table, keys in _records_by_table().items():
        with op.batch_alter_table(table) as batch_op:
            for column, parent in keys:
                batch_op.create_foreign_key(_key(table, column, parent), parent, [column], ["id"])
