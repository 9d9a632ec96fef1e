"""candidate key: the candidate's identity on each dossier (RPPS, else name and birth date)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("candidate_key", sa.String(length=160), nullable=True))
        batch_op.create_index(
            "ix_dossiers_candidate_key", ["candidate_key", "campaign_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_index("ix_dossiers_candidate_key")
        batch_op.drop_column("candidate_key")
