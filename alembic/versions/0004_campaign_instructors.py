"""campaign instructors: which instructeurs follow which campaigns

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25 14:15:54.952316
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_instructors",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_instructors_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_campaign_instructors_user_id_users")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", name=op.f("pk_campaign_instructors")),
    )
    op.create_index(
        op.f("ix_campaign_instructors_user_id"), "campaign_instructors", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_campaign_instructors_user_id"), table_name="campaign_instructors")
    op.drop_table("campaign_instructors")
