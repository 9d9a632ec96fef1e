"""proconnect and rgpd: administrator settings (« ProConnect obligatoire pour les agents »),
when a campaign and each dossier were purged, new security journal kinds (a setting changed,
personal data exported, an account closed), and the audit trail's triggers let the purge
pseudonymise each row once (names and addresses only; anything else stays refused)

Revision ID: 0017
Revises: 0010
Create Date: 2026-12-06 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from workflow.models.base import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    "compte_cree",
    "adresse_confirmee",
    "connexion_reussie",
    "connexion_echouee",
    "deconnexion",
    "session_expiree",
    "mot_de_passe_reinitialise",
    "mot_de_passe_choisi",
    "mot_de_passe_change",
    "role_change",
    "compte_desactive",
    "compte_reactive",
    "acces_limite",
)
NEW_KINDS = (*OLD_KINDS, "parametre_change", "donnees_exportees", "compte_ferme")
KIND_CHECK = "ck_security_events_known_kind"

# What a pseudonymisation may change: actor_label and payload, once (pseudonymised_at goes
# from NULL to a value); every other column stays as it was.
UNCHANGED = ("id", "dossier_id", "campaign_id", "actor_id", "at", "event", "from_state", "to_state")
SQLITE_PSEUDONYMISATION = (
    "OLD.pseudonymised_at IS NULL AND NEW.pseudonymised_at IS NOT NULL AND "
    + " AND ".join(f"NEW.{c} IS OLD.{c}" for c in UNCHANGED)
)
PG_PSEUDONYMISATION = (
    "OLD.pseudonymised_at IS NULL AND NEW.pseudonymised_at IS NOT NULL AND "
    + " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in UNCHANGED)
)


def _kinds(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def _security_triggers() -> None:
    # Recreating the table on SQLite (to change its CHECK) dropped its triggers: the same
    # ones as migration 0006.
    for action in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS security_events_no_{action.lower()}")
        op.execute(
            f"CREATE TRIGGER security_events_no_{action.lower()} BEFORE {action} "
            "ON security_events "
            "BEGIN SELECT RAISE(ABORT, 'security_events is append-only'); END"
        )


def _set_kinds(kinds: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE security_events DROP CONSTRAINT {KIND_CHECK}")
        op.execute(
            f"ALTER TABLE security_events ADD CONSTRAINT {KIND_CHECK} CHECK ({_kinds(kinds)})"
        )
        return
    with op.batch_alter_table("security_events", recreate="always") as batch_op:
        batch_op.drop_constraint(op.f(KIND_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(KIND_CHECK), _kinds(kinds))
    _security_triggers()


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_settings_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    with op.batch_alter_table("campaigns") as batch_op:
        batch_op.add_column(sa.Column("purged_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("dossiers") as batch_op:
        batch_op.add_column(sa.Column("purged_at", UTCDateTime(), nullable=True))
    _set_kinds(NEW_KINDS)
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("audit_events", sa.Column("pseudonymised_at", UTCDateTime(), nullable=True))
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'UPDATE' AND {PG_PSEUDONYMISATION} THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION 'audit_events is append-only'; END $$"
        )
    else:
        # ADD COLUMN without recreating the table: its triggers stay.
        op.execute("ALTER TABLE audit_events ADD COLUMN pseudonymised_at DATETIME")
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            f"WHEN NOT ({SQLITE_PSEUDONYMISATION}) "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
        )
        op.drop_column("audit_events", "pseudonymised_at")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("ALTER TABLE audit_events DROP COLUMN pseudonymised_at")
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        )
    # Events of the new kinds cannot go back under the old rule: the downgrade refuses
    # (the CHECK fails) rather than delete journal rows.
    _set_kinds(OLD_KINDS)
    with op.batch_alter_table("dossiers") as batch_op:
        batch_op.drop_column("purged_at")
    with op.batch_alter_table("campaigns") as batch_op:
        batch_op.drop_column("purged_at")
    op.drop_table("settings")
