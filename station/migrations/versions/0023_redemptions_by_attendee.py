"""An index on product_redemption(attendee_id), for the records premise

The records premise (0020, 0021) asks for an attendee's newest redemption of their
order's lines on every scan decided on the snapshot. The only index began with the line
(order_line_item_id, attendee_id), so the plan PL/pgSQL keeps, made on a station's sixth
scan, read the whole table whenever it was a few thousand rows or fewer then: a kept plan
is not made again as the table grows (only an ANALYZE makes it so). Measured with
``station bench``'s seed: the premise went from 0.14 to 0.31 ms per meal within 2,000
scans and was most of the write. With this index, the attendee's few rows are found by
it at any table size from a few hundred rows up.

- Both: the index ``ix_product_redemption_attendee_id``. Nothing else changes.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_product_redemption_attendee_id", "product_redemption", ["attendee_id"])


def downgrade() -> None:
    op.drop_index("ix_product_redemption_attendee_id", table_name="product_redemption")
