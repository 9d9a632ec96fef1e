"""messagerie: a message thread per dossier between its organisation and the ARS (with an
optional PDF and when the other side read it), and when the déposant last transmitted the
corrections asked

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-06 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_label", sa.String(length=254), nullable=False),
        sa.Column("side", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attachment_filename", sa.String(length=255), nullable=True),
        sa.Column("attachment_storage_name", sa.String(length=80), nullable=True),
        sa.Column("attachment_size", sa.Integer(), nullable=True),
        sa.Column("attachment_sha256", sa.String(length=64), nullable=True),
        sa.CheckConstraint("side IN ('organisation', 'ars')", name=op.f("ck_messages_known_side")),
        sa.CheckConstraint(
            "kind IN ('message', 'corrections')", name=op.f("ck_messages_known_kind")
        ),
        sa.CheckConstraint("length(trim(body)) > 0", name=op.f("ck_messages_has_body")),
        sa.CheckConstraint(
            "kind = 'message' OR side = 'ars'", name=op.f("ck_messages_corrections_from_ars")
        ),
        sa.CheckConstraint(
            "(attachment_storage_name IS NULL) = (attachment_filename IS NULL) "
            "AND (attachment_storage_name IS NULL) = (attachment_size IS NULL) "
            "AND (attachment_storage_name IS NULL) = (attachment_sha256 IS NULL)",
            name=op.f("ck_messages_attachment_whole"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_messages_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_messages_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "attachment_storage_name", name=op.f("uq_messages_attachment_storage_name")
        ),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_dossier", ["dossier_id", "id"], unique=False)
        batch_op.create_index(
            "ix_messages_unread",
            ["dossier_id", "side"],
            unique=False,
            sqlite_where=sa.text("read_at IS NULL"),
            postgresql_where=sa.text("read_at IS NULL"),
        )
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("corrections_transmitted_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_column("corrections_transmitted_at")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_unread")
        batch_op.drop_index("ix_messages_dossier")
    op.drop_table("messages")
