"""Order lines keep the id they had in django-program

The preload import used to fold django-program's line items into one line per
product and forget their ids. Now each imported line item is a line here with
its django-program id in ``source_line_id``: an organiser can trace a line (and
the redemptions on it) back to django-program, and a newer preload updates
that very line in place. NULL for lines made here or by a CSV import.

A unique index on (order_id, source_line_id) keeps one line per source id in
an order (NULLs do not collide). Both are plain ALTERs on SQLite as on
PostgreSQL: no table rebuild, so 0005's triggers on the table stay.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_order_line_item_order_id_source_line_id"


def upgrade() -> None:
    op.add_column("order_line_item", sa.Column("source_line_id", sa.String(64), nullable=True))
    op.create_index(INDEX, "order_line_item", ["order_id", "source_line_id"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="order_line_item")
    op.drop_column("order_line_item", "source_line_id")
