"""The guarded writes' premise, in statements PostgreSQL plans once

0020 checked the premise in one IF whose expression held both subqueries and the
tests ``p_versions IS NOT NULL`` and ``p_records IS NOT NULL``. PL/pgSQL's plan cache
makes a custom plan for the first five calls of a statement and then keeps a generic
one only if it costs no more than those. With the arguments known, a custom plan
folds the NULL tests away (for a call without premises it is almost free), so the
generic plan never looked as cheap and the expression was planned again on every
call: measured on 2 cores, 0.3 ms for the versions and 0.45 ms for the records on
every scan decided on the snapshot, more than the write itself.

- PostgreSQL: station_check_in(), station_admit() and station_redeem_line() test
  each argument for NULL in PL/pgSQL and read what it is compared with in a
  statement of its own that no argument can fold away: its generic plan is kept
  after the fifth call. What is checked and what it answers are 0020's, unchanged;
  so are the signatures, rights and grants (CREATE OR REPLACE).
- Both: scan_void gets an index on attendee_id. The records premise asks for an
  attendee's newest void on every such scan, which read the whole table without it
  (empty in the benchmark, hundreds of rows by the end of an event).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 15:40:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PREMISE = """    -- What the decision rests on (0020), if the caller says: the row versions and the
    -- attendee's newest records (ids only grow). Anything changed since: stale. Each is
    -- read by a statement of its own, which PL/pgSQL plans once (0021).
    IF p_versions IS NOT NULL THEN
        SELECT array_agg(v.seq ORDER BY v.seq) INTO v_versions FROM (
            SELECT a.change_seq FROM attendee a WHERE a.id = p_attendee
            UNION ALL
            SELECT p.change_seq FROM person p
             WHERE p.id = (SELECT a.person_id FROM attendee a WHERE a.id = p_attendee)
            UNION ALL
            SELECT o.change_seq FROM "order" o WHERE o.id = v_order
            UNION ALL
            SELECT li.change_seq FROM order_line_item li WHERE li.order_id = v_order
            UNION ALL
            SELECT t.change_seq FROM ticket_type t WHERE t.conference_id = p_conference
            UNION ALL
            SELECT t.change_seq FROM addon t WHERE t.conference_id = p_conference
        ) AS v(seq);
        IF v_versions IS DISTINCT FROM p_versions THEN
            RETURN QUERY SELECT @STALE@;
            RETURN;
        END IF;
    END IF;
    IF p_records IS NOT NULL THEN
        SELECT ARRAY[
            coalesce((SELECT max(c.id) FROM check_in c WHERE c.attendee_id = p_attendee), 0),
            coalesce((SELECT max(r.id) FROM product_redemption r
                       WHERE r.attendee_id = p_attendee AND r.order_line_item_id IN (
                           SELECT li.id FROM order_line_item li WHERE li.order_id = v_order)), 0),
            coalesce((SELECT max(d.id) FROM door_check d WHERE d.attendee_id = p_attendee), 0),
            coalesce((SELECT max(s.id) FROM scan_void s WHERE s.attendee_id = p_attendee), 0)
        ]::bigint[] INTO v_records;
        IF v_records IS DISTINCT FROM p_records THEN
            RETURN QUERY SELECT @STALE@;
            RETURN;
        END IF;
    END IF;
"""
_DECLARE = "DECLARE\n"
_VARIABLES = "    v_versions bigint[];\n    v_records bigint[];\n"


def _revision(filename: str) -> ModuleType:
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"station_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def old_functions(schema: str) -> dict[str, str]:
    """0020's three guarded writes for ``schema`` (quoted), as CREATE OR REPLACE statements."""
    made = _revision("0020_row_version_premise.py").new_functions(schema)
    return {
        name: text.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
        for name, text in made.items()
    }


def new_functions(schema: str) -> dict[str, str]:
    """The same functions with the premise in statements of their own."""
    before = _revision("0020_row_version_premise.py")
    made = {}
    for name, text in old_functions(schema).items():
        old = before._PREMISE.replace("@STALE@", before._STALE[name])
        assert text.count(old) == 1 and text.count(_DECLARE) == 1, name
        text = text.replace(old, _PREMISE.replace("@STALE@", before._STALE[name]), 1)
        made[name] = text.replace(_DECLARE, _DECLARE + _VARIABLES, 1)
    return made


def _schema() -> str:
    schema = str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())
    return '"' + schema.replace('"', '""') + '"'


def upgrade() -> None:
    op.create_index("ix_scan_void_attendee_id", "scan_void", ["attendee_id"])
    if op.get_bind().dialect.name == "postgresql":
        for text in new_functions(_schema()).values():
            op.execute(text)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for text in old_functions(_schema()).values():
            op.execute(text)
    op.drop_index("ix_scan_void_attendee_id", table_name="scan_void")
