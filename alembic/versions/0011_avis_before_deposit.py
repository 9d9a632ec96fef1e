"""avis before deposit: the déposant invites the avis givers (and the candidate) itself; an
avis keeps the annex's answers, how it was signed, its expiry and its link's version

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("avis", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("invited_by", sa.String(length=10), server_default="ars", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "answers",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("signature_mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("certified_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("certified_function", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("link_version", sa.Integer(), server_default="1", nullable=False)
        )
        # A candidate's consent is given without a verdict: a verdict only once given, and a
        # given avis has a verdict or a signature.
        batch_op.drop_constraint(op.f("ck_avis_given_has_verdict"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_avis_verdict_when_given"), "verdict IS NULL OR given_at IS NOT NULL"
        )
        batch_op.create_check_constraint(
            op.f("ck_avis_given_is_signed"),
            "given_at IS NULL OR verdict IS NOT NULL OR signature_mode IS NOT NULL",
        )
        batch_op.create_check_constraint(
            op.f("ck_avis_known_inviter"), "invited_by IN ('ars', 'deposant')"
        )
        batch_op.create_check_constraint(
            op.f("ck_avis_known_signature_mode"),
            "signature_mode IS NULL OR signature_mode IN ('pdf', 'certification')",
        )
        batch_op.create_check_constraint(
            op.f("ck_avis_certification_is_named"),
            "signature_mode IS NULL OR signature_mode <> 'certification' "
            "OR certified_name IS NOT NULL",
        )
        batch_op.create_check_constraint(op.f("ck_avis_link_version_positive"), "link_version >= 1")


def downgrade() -> None:
    # The avis collected before deposit, and consents without a verdict, have no place in
    # the old schema: they are removed rather than given an invented verdict.
    op.execute(
        "DELETE FROM avis WHERE invited_by = 'deposant' OR (given_at IS NOT NULL AND verdict IS NULL)"
    )
    with op.batch_alter_table("avis", schema=None) as batch_op:
        for name in (
            "ck_avis_link_version_positive",
            "ck_avis_certification_is_named",
            "ck_avis_known_signature_mode",
            "ck_avis_known_inviter",
            "ck_avis_given_is_signed",
            "ck_avis_verdict_when_given",
        ):
            batch_op.drop_constraint(op.f(name), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_avis_given_has_verdict"), "(verdict IS NULL) = (given_at IS NULL)"
        )
        for column in (
            "link_version",
            "expires_at",
            "certified_function",
            "certified_name",
            "signature_mode",
            "answers",
            "invited_by",
        ):
            batch_op.drop_column(column)
