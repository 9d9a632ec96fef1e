"""documents: generated PDFs (decision letters, procès-verbaux) archived with their hash,
and the outbox's attachments by reference

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-06 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("storage_name", sa.String(length=80), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('lettre_decision', 'proces_verbal')", name=op.f("ck_documents_known_kind")
        ),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_documents_sha256_hex")),
        sa.CheckConstraint("size > 0", name=op.f("ck_documents_not_empty")),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_documents_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("kind", "reference", name="once_per_reference"),
        sa.UniqueConstraint("storage_name", name=op.f("uq_documents_storage_name")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_campaign_id"), ["campaign_id"])
        batch_op.create_index(batch_op.f("ix_documents_dossier_id"), ["dossier_id"])
    # What was sent stays as it was: the archive is append-only, and the database says so
    # (as audit_events, 0001).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION documents_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'documents is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER documents_append_only BEFORE UPDATE OR DELETE "
            "ON documents FOR EACH ROW EXECUTE FUNCTION documents_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER documents_no_{action.lower()} BEFORE {action} ON documents "
                "BEGIN SELECT RAISE(ABORT, 'documents is append-only'); END"
            )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "attachments",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                server_default="[]",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("attachments")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER documents_append_only ON documents")
        op.execute("DROP FUNCTION documents_append_only()")
    else:
        op.execute("DROP TRIGGER documents_no_update")
        op.execute("DROP TRIGGER documents_no_delete")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_dossier_id"))
        batch_op.drop_index(batch_op.f("ix_documents_campaign_id"))
    op.drop_table("documents")
