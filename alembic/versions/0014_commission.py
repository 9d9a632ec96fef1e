"""commission: funded posts, sessions, members, assessments, scores, promotions from the
liste complémentaire; the new state and decision kind « liste_complementaire »

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-06 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = (
    "brouillon, en_construction, en_instruction, accepte, refuse, sans_suite, confirme, "
    "en_poste, desiste"
)
NEW_STATES = OLD_STATES + ", liste_complementaire"
OLD_KINDS = "accepte, refuse, sans_suite"
NEW_KINDS = OLD_KINDS + ", liste_complementaire"


# SQLite rebuilds the dossiers table to change its CHECK: the triggers that keep the
# dashboard's FTS5 index (migration 0008) go with the old table. The same statements put them
# back, and the index is rebuilt from the table's text.
FTS = "dossiers_search"
FTS_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_insert AFTER INSERT ON dossiers BEGIN "
    f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_delete AFTER DELETE ON dossiers BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS}_update AFTER UPDATE OF search_text ON dossiers BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')",
]


def _listed(names: str) -> str:
    return ", ".join(f"'{n.strip()}'" for n in names.split(","))


def _checks(states: str, kinds: str, kind_length: int) -> None:
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_dossiers_known_state"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_dossiers_known_state"), f"state IN ({_listed(states)})"
        )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_decisions_known_kind"), type_="check")
        # « liste_complementaire » is 20 characters.
        batch_op.alter_column("kind", type_=sa.String(length=kind_length))
        batch_op.create_check_constraint(
            op.f("ck_decisions_known_kind"), f"kind IN ({_listed(kinds)})"
        )
    if op.get_bind().dialect.name == "sqlite":
        for statement in FTS_TRIGGERS:
            op.execute(statement)


def upgrade() -> None:
    _checks(NEW_STATES, NEW_KINDS, 24)
    op.create_table(
        "commission_funded_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("group_value", sa.String(length=200), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "posts >= 0", name=op.f("ck_commission_funded_posts_posts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_commission_funded_posts_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_funded_posts")),
        sa.UniqueConstraint("campaign_id", "group_value", name="one_count_per_group"),
    )
    op.create_table(
        "commission_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(trim(title)) > 0", name=op.f("ck_commission_sessions_titled")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_commission_sessions_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_commission_sessions_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_sessions")),
    )
    op.create_index(
        op.f("ix_commission_sessions_campaign_id"), "commission_sessions", ["campaign_id"]
    )
    op.create_table(
        "commission_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("quality", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column(
            "invited_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "user_id IS NOT NULL OR email IS NOT NULL",
            name=op.f("ck_commission_members_instructor_or_invited"),
        ),
        sa.CheckConstraint("length(trim(name)) > 0", name=op.f("ck_commission_members_named")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["commission_sessions.id"],
            name=op.f("fk_commission_members_session_id_commission_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_commission_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_members")),
        sa.UniqueConstraint("session_id", "user_id", name="one_seat_per_instructor"),
    )
    op.create_index(op.f("ix_commission_members_session_id"), "commission_members", ["session_id"])
    op.create_table(
        "commission_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("group_value", sa.String(length=200), nullable=False),
        sa.Column("opinion", sa.String(length=24), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("proposal", sa.String(length=24), nullable=True),
        sa.Column("adjusted", sa.Boolean(), nullable=False),
        sa.Column("adjustment", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "opinion IS NULL OR opinion IN ('favorable', 'defavorable', 'liste_complementaire')",
            name=op.f("ck_commission_assessments_known_opinion"),
        ),
        sa.CheckConstraint(
            "opinion IS NULL OR length(trim(reason)) > 0",
            name=op.f("ck_commission_assessments_opinion_has_reason"),
        ),
        sa.CheckConstraint(
            "rank IS NULL OR rank >= 1", name=op.f("ck_commission_assessments_rank_positive")
        ),
        sa.CheckConstraint(
            "proposal IS NULL OR proposal IN ('accepte', 'liste_complementaire', 'refuse')",
            name=op.f("ck_commission_assessments_known_proposal"),
        ),
        sa.CheckConstraint(
            "adjusted = false OR length(trim(adjustment)) > 0",
            name=op.f("ck_commission_assessments_adjustment_motivated"),
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_commission_assessments_dossier_id_dossiers"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["commission_sessions.id"],
            name=op.f("fk_commission_assessments_session_id_commission_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_assessments")),
        sa.UniqueConstraint("session_id", "dossier_id", name="one_per_dossier"),
    )
    op.create_index(
        op.f("ix_commission_assessments_dossier_id"), "commission_assessments", ["dossier_id"]
    )
    op.create_table(
        "commission_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("value >= 0", name=op.f("ck_commission_scores_value_not_negative")),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_commission_scores_dossier_id_dossiers")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["commission_members.id"],
            name=op.f("fk_commission_scores_member_id_commission_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["commission_sessions.id"],
            name=op.f("fk_commission_scores_session_id_commission_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_scores")),
        sa.UniqueConstraint("member_id", "dossier_id", "criterion", name="one_score_per_criterion"),
    )
    op.create_index(op.f("ix_commission_scores_session_id"), "commission_scores", ["session_id"])
    op.create_table(
        "commission_promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("group_value", sa.String(length=200), nullable=False),
        sa.Column("vacated_dossier_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=30), nullable=False),
        sa.Column("promoted_dossier_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('a_confirmer', 'promu')", name=op.f("ck_commission_promotions_known_status")
        ),
        sa.CheckConstraint(
            "status <> 'promu' OR (promoted_dossier_id IS NOT NULL AND promoted_at IS NOT NULL)",
            name=op.f("ck_commission_promotions_promoted_has_dossier"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_commission_promotions_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["users.id"],
            name=op.f("fk_commission_promotions_confirmed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["promoted_dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_commission_promotions_promoted_dossier_id_dossiers"),
        ),
        sa.ForeignKeyConstraint(
            ["vacated_dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_commission_promotions_vacated_dossier_id_dossiers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commission_promotions")),
        sa.UniqueConstraint(
            "promoted_dossier_id", name=op.f("uq_commission_promotions_promoted_dossier_id")
        ),
        sa.UniqueConstraint(
            "vacated_dossier_id", name=op.f("uq_commission_promotions_vacated_dossier_id")
        ),
    )
    op.create_index(
        op.f("ix_commission_promotions_campaign_id"), "commission_promotions", ["campaign_id"]
    )


def downgrade() -> None:
    for table in (
        "commission_promotions",
        "commission_scores",
        "commission_assessments",
        "commission_members",
        "commission_sessions",
        "commission_funded_posts",
    ):
        op.drop_table(table)
    # Dossiers on the liste complémentaire go back into instruction, without a decision,
    # before the old rule forbids them.
    op.execute("DELETE FROM decisions WHERE kind = 'liste_complementaire'")
    op.execute("UPDATE dossiers SET state = 'en_instruction' WHERE state = 'liste_complementaire'")
    _checks(OLD_STATES, OLD_KINDS, 12)
