"""Attention notes: what a volunteer must see when a badge is scanned

``checkin_attention`` on ``order``, ``ticket_type`` and ``addon`` (pretix's
``checkin_attention``/``checkin_text``): "VIP — call the host", "collect T-shirt M".
Nullable text, empty means no note; the rule book combines and cleans them
(``station.rulebook.words.attention``). Plain ``add_column``: no table is rebuilt,
so the triggers that name ``order`` (and the scan records' guards) stay as they are.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("order", "ticket_type", "addon")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("checkin_attention", sa.String(300), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (ALTER TABLE ... DROP COLUMN), no rebuild.
    for table in TABLES:
        op.drop_column(table, "checkin_attention")
