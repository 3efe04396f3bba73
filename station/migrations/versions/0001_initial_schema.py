"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 07:57:13.791658
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "conference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference")),
        sa.UniqueConstraint("slug", name=op.f("uq_conference_slug")),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("first_name", sa.String(length=150), nullable=False),
        sa.Column("last_name", sa.String(length=150), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("username", name=op.f("uq_person_username")),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=150), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("name", name=op.f("uq_staff_name")),
    )
    op.create_table(
        "addon",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"], ["conference.id"], name=op.f("fk_addon_conference_id_conference")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addon")),
        sa.UniqueConstraint("conference_id", "slug", name=op.f("uq_addon_conference_id_slug")),
    )
    with op.batch_alter_table("addon", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_addon_conference_id"), ["conference_id"], unique=False)

    op.create_table(
        "order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "paid",
                "refunded",
                "partially_refunded",
                "cancelled",
                name="order_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["conference_id"], ["conference.id"], name=op.f("fk_order_conference_id_conference")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_order_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order")),
        sa.UniqueConstraint(
            "conference_id", "reference", name=op.f("uq_order_conference_id_reference")
        ),
    )
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_conference_id"), ["conference_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_person_id"), ["person_id"], unique=False)

    op.create_table(
        "ticket_type",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
            name=op.f("fk_ticket_type_conference_id_conference"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_type")),
        sa.UniqueConstraint(
            "conference_id", "slug", name=op.f("uq_ticket_type_conference_id_slug")
        ),
    )
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_type_conference_id"), ["conference_id"], unique=False
        )

    op.create_table(
        "attendee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("access_code", sa.String(length=256), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"], ["conference.id"], name=op.f("fk_attendee_conference_id_conference")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["order.id"], name=op.f("fk_attendee_order_id_order")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_attendee_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendee")),
        sa.UniqueConstraint("access_code", name=op.f("uq_attendee_access_code")),
        sa.UniqueConstraint(
            "conference_id", "person_id", name=op.f("uq_attendee_conference_id_person_id")
        ),
    )
    with op.batch_alter_table("attendee", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attendee_conference_id"), ["conference_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_attendee_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendee_person_id"), ["person_id"], unique=False)

    op.create_table(
        "order_line_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("ticket_type_id", sa.Integer(), nullable=True),
        sa.Column("addon_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(ticket_type_id IS NULL) <> (addon_id IS NULL)",
            name=op.f("ck_order_line_item_one_product"),
        ),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_order_line_item_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["addon_id"], ["addon.id"], name=op.f("fk_order_line_item_addon_id_addon")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["order.id"], name=op.f("fk_order_line_item_order_id_order")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
            name=op.f("fk_order_line_item_ticket_type_id_ticket_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_line_item")),
    )
    with op.batch_alter_table("order_line_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_line_item_addon_id"), ["addon_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_line_item_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_order_line_item_ticket_type_id"), ["ticket_type_id"], unique=False
        )

    op.create_table(
        "check_in",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("attendee_id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attendee_id"], ["attendee.id"], name=op.f("fk_check_in_attendee_id_attendee")
        ),
        sa.ForeignKeyConstraint(
            ["conference_id"], ["conference.id"], name=op.f("fk_check_in_conference_id_conference")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_check_in_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_in")),
        sa.UniqueConstraint("client_id", name=op.f("uq_check_in_client_id")),
    )
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_check_in_attendee_id_checked_in_at"),
            ["attendee_id", "checked_in_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_check_in_conference_id"), ["conference_id"], unique=False
        )

    op.create_table(
        "door_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("attendee_id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("ticket_type_id", sa.Integer(), nullable=True),
        sa.Column("addon_id", sa.Integer(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "(ticket_type_id IS NULL) <> (addon_id IS NULL)", name=op.f("ck_door_check_one_product")
        ),
        sa.ForeignKeyConstraint(
            ["addon_id"], ["addon.id"], name=op.f("fk_door_check_addon_id_addon")
        ),
        sa.ForeignKeyConstraint(
            ["attendee_id"], ["attendee.id"], name=op.f("fk_door_check_attendee_id_attendee")
        ),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
            name=op.f("fk_door_check_conference_id_conference"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_door_check_staff_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_type.id"],
            name=op.f("fk_door_check_ticket_type_id_ticket_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_door_check")),
        sa.UniqueConstraint("client_id", name=op.f("uq_door_check_client_id")),
    )
    with op.batch_alter_table("door_check", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_door_check_attendee_id_checked_at"),
            ["attendee_id", "checked_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_door_check_conference_id"), ["conference_id"], unique=False
        )

    op.create_table(
        "product_redemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("attendee_id", sa.Integer(), nullable=False),
        sa.Column("order_line_item_id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attendee_id"],
            ["attendee.id"],
            name=op.f("fk_product_redemption_attendee_id_attendee"),
        ),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
            name=op.f("fk_product_redemption_conference_id_conference"),
        ),
        sa.ForeignKeyConstraint(
            ["order_line_item_id"],
            ["order_line_item.id"],
            name=op.f("fk_product_redemption_order_line_item_id_order_line_item"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_product_redemption_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_redemption")),
        sa.UniqueConstraint("client_id", name=op.f("uq_product_redemption_client_id")),
    )
    with op.batch_alter_table("product_redemption", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_product_redemption_attendee_id"), ["attendee_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_product_redemption_conference_id"), ["conference_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_product_redemption_order_line_item_id_attendee_id"),
            ["order_line_item_id", "attendee_id"],
            unique=False,
        )

    op.create_table(
        "scan_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=True),
        sa.Column("attendee_id", sa.Integer(), nullable=True),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=256), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["attendee_id"], ["attendee.id"], name=op.f("fk_scan_log_attendee_id_attendee")
        ),
        sa.ForeignKeyConstraint(
            ["conference_id"], ["conference.id"], name=op.f("fk_scan_log_conference_id_conference")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_scan_log_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_log")),
    )
    with op.batch_alter_table("scan_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scan_log_attendee_id"), ["attendee_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_scan_log_conference_id_scanned_at"),
            ["conference_id", "scanned_at"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("scan_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scan_log_conference_id_scanned_at"))
        batch_op.drop_index(batch_op.f("ix_scan_log_attendee_id"))

    op.drop_table("scan_log")
    with op.batch_alter_table("product_redemption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_redemption_order_line_item_id_attendee_id"))
        batch_op.drop_index(batch_op.f("ix_product_redemption_conference_id"))
        batch_op.drop_index(batch_op.f("ix_product_redemption_attendee_id"))

    op.drop_table("product_redemption")
    with op.batch_alter_table("door_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_door_check_conference_id"))
        batch_op.drop_index(batch_op.f("ix_door_check_attendee_id_checked_at"))

    op.drop_table("door_check")
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_in_conference_id"))
        batch_op.drop_index(batch_op.f("ix_check_in_attendee_id_checked_in_at"))

    op.drop_table("check_in")
    with op.batch_alter_table("order_line_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_line_item_ticket_type_id"))
        batch_op.drop_index(batch_op.f("ix_order_line_item_order_id"))
        batch_op.drop_index(batch_op.f("ix_order_line_item_addon_id"))

    op.drop_table("order_line_item")
    with op.batch_alter_table("attendee", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendee_person_id"))
        batch_op.drop_index(batch_op.f("ix_attendee_order_id"))
        batch_op.drop_index(batch_op.f("ix_attendee_conference_id"))

    op.drop_table("attendee")
    with op.batch_alter_table("ticket_type", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_type_conference_id"))

    op.drop_table("ticket_type")
    with op.batch_alter_table("order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_person_id"))
        batch_op.drop_index(batch_op.f("ix_order_conference_id"))

    op.drop_table("order")
    with op.batch_alter_table("addon", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_addon_conference_id"))

    op.drop_table("addon")
    op.drop_table("staff")
    op.drop_table("person")
    op.drop_table("conference")
