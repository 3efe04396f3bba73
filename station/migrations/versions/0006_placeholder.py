"""Placeholder for revision 0006, written in parallel on another branch (a fix of station_redeem)

Empty here so 0007 has its parent; dropped when the branches are merged.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
