"""partner and dates: the partner's co-signature, each dossier's ARS contact and the
campaign's functional mailbox

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-06 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cosignatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("partner_email", sa.String(length=254), nullable=False),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("signer_function", sa.String(length=200), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "length(trim(signer_name)) > 0", name=op.f("ck_cosignatures_signer_named")
        ),
        sa.CheckConstraint(
            "length(trim(signer_function)) > 0", name=op.f("ck_cosignatures_function_named")
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_cosignatures_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cosignatures")),
        sa.UniqueConstraint("dossier_id", name=op.f("uq_cosignatures_dossier_id")),
    )
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ars_contact_email", sa.String(length=254), nullable=True))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_mailbox", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("contact_mailbox")
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_column("ars_contact_email")
    op.drop_table("cosignatures")
