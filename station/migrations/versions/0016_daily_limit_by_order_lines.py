"""The daily limit's count reads the attendee's own order lines, not every redemption

0014's station_redeem_line() counted an attendee's redemptions of a product today by
``product_redemption.attendee_id``, which has no index of its own: PostgreSQL walked
the (order_line_item_id, attendee_id) index from end to end, about 0.2 ms with 8,000
redemptions and growing with every meal of the event (measured with `station bench
rules`). From here the count starts from the attendee's order's lines of that product
(``order_line_item.order_id``, indexed) and reads each line's redemptions by the
index's leading column: a handful of rows whatever the size of the event.

It also counts what the rule book counts: the lines of the holder's order (the lines
the scan's facts carry), no longer a redemption of a line of another order.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 07:30:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_COUNT = """        SELECT count(*) INTO v_today
          FROM product_redemption pr JOIN order_line_item l2 ON l2.id = pr.order_line_item_id
         WHERE pr.attendee_id = p_attendee AND l2.addon_id = v_addon
"""
NEW_COUNT = """        SELECT count(*) INTO v_today
          FROM order_line_item l2
          JOIN product_redemption pr
            ON pr.order_line_item_id = l2.id AND pr.attendee_id = p_attendee
         WHERE l2.order_id = (SELECT a.order_id FROM attendee a WHERE a.id = p_attendee)
           AND l2.addon_id = v_addon
"""


def _revision(filename: str) -> ModuleType:
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"station_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pg_functions(schema: str, *, by_lines: bool = True) -> list[str]:
    """station_redeem_line() counting by the order's lines, or (not ``by_lines``) 0014's."""
    made = _revision("0014_event_rules.py").pg_functions(schema)
    redeem = next(f for f in made if "FUNCTION station_redeem_line(" in f)
    assert OLD_COUNT in redeem, "0014's daily count in station_redeem_line moved"
    return [redeem.replace(OLD_COUNT, NEW_COUNT) if by_lines else redeem]


def _schema() -> str:
    schema = str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar())
    return '"' + schema.replace('"', '""') + '"'


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for text in pg_functions(_schema()):
            op.execute(text)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for text in pg_functions(_schema(), by_lines=False):
            op.execute(text)
