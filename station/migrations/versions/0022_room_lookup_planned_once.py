"""The room-count triggers find their room in a statement PostgreSQL plans once

0015's triggers found a door's room row with ``r.ticket_type_id = NEW.ticket_type_id OR
r.addon_id = NEW.addon_id``. One of the two ids is always NULL, and a plan made for the
call folds that side away (one index scan) while the generic plan keeps both (a bitmap
OR), so PL/pgSQL never kept the generic plan and planned the lookup again for every door
scan, void and clear: the same trap as 0020's premise (migration 0021).

- PostgreSQL: station_room_scan(), station_room_void() and station_room_clear() pick
  the room by the one id the row has, in PL/pgSQL, each lookup a statement of its own.
  What they count and lock is 0015's, unchanged (CREATE OR REPLACE: triggers, rights
  and ownership stay).
- SQLite: nothing (its triggers have no plan cache).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 16:20:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOCK_ROOM = """
    -- The room row of @ROW@'s door, made if missing and locked into v_room; found by the
    -- one id the row has, so each lookup keeps its plan (0022).
    IF @ROW@.ticket_type_id IS NOT NULL THEN
        SELECT r.id INTO v_room FROM room_count r
         WHERE r.ticket_type_id = @ROW@.ticket_type_id FOR UPDATE;
    ELSE
        SELECT r.id INTO v_room FROM room_count r WHERE r.addon_id = @ROW@.addon_id FOR UPDATE;
    END IF;
    IF v_room IS NULL THEN
        INSERT INTO room_count (conference_id, ticket_type_id, addon_id, inside)
        VALUES (@ROW@.conference_id, @ROW@.ticket_type_id, @ROW@.addon_id, 0)
        ON CONFLICT DO NOTHING;
        IF @ROW@.ticket_type_id IS NOT NULL THEN
            SELECT r.id INTO v_room FROM room_count r
             WHERE r.ticket_type_id = @ROW@.ticket_type_id FOR UPDATE;
        ELSE
            SELECT r.id INTO v_room FROM room_count r
             WHERE r.addon_id = @ROW@.addon_id FOR UPDATE;
        END IF;
    END IF;"""


def _revision(filename: str) -> ModuleType:
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"station_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lock_room(row: str) -> str:
    return _LOCK_ROOM.replace("@ROW@", row)


def old_functions(schema: str) -> list[str]:
    """0015's three trigger functions for ``schema`` (quoted), as CREATE OR REPLACE."""
    r0015 = _revision("0015_room_counts.py")
    return [
        text.replace("@SCHEMA@", schema).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
        for text in r0015.PG_TRIGGERS
        if "CREATE FUNCTION" in text
    ]


def new_functions(schema: str) -> list[str]:
    """The same functions, each room lookup by the row's one id."""
    r0015 = _revision("0015_room_counts.py")
    made = []
    for text in old_functions(schema):
        for row in ("NEW", "v_scan"):
            old = r0015._lock_room(row)
            if old in text:
                text = text.replace(old, _lock_room(row), 1)
        assert " OR r.addon_id = " not in text, text
        made.append(text)
    assert len(made) == 3
    return made


def _schema() -> str:
    schema = str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())
    return '"' + schema.replace('"', '""') + '"'


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for text in new_functions(_schema()):
            op.execute(text)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for text in old_functions(_schema()):
            op.execute(text)
