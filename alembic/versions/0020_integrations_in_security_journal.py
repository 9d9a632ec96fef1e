"""integrations in the security journal: API tokens created and revoked, webhooks registered
and stopped are security events (a token opens the API on its campaigns; a webhook sends
their events outside), so the journal's CHECK accepts four more kinds.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 21:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND_CHECK = "ck_security_events_known_kind"
# The kinds as migration 0017 left them.
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
    "parametre_change",
    "donnees_exportees",
    "compte_ferme",
)
NEW_KINDS = (
    *OLD_KINDS,
    "jeton_api_cree",
    "jeton_api_revoque",
    "webhook_enregistre",
    "webhook_arrete",
)


def _set_kinds(kinds: tuple[str, ...]) -> None:
    check = "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE security_events DROP CONSTRAINT {KIND_CHECK}")
        op.execute(f"ALTER TABLE security_events ADD CONSTRAINT {KIND_CHECK} CHECK ({check})")
        return
    with op.batch_alter_table("security_events", recreate="always") as batch_op:
        batch_op.drop_constraint(op.f(KIND_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(KIND_CHECK), check)
    # Recreating the table on SQLite dropped its triggers: the same ones as 0006 and 0017.
    for action in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS security_events_no_{action.lower()}")
        op.execute(
            f"CREATE TRIGGER security_events_no_{action.lower()} BEFORE {action} "
            "ON security_events "
            "BEGIN SELECT RAISE(ABORT, 'security_events is append-only'); END"
        )


def upgrade() -> None:
    _set_kinds(NEW_KINDS)


def downgrade() -> None:
    # Events of the new kinds cannot go back under the old rule: the downgrade refuses (the
    # CHECK fails) rather than delete journal rows, like 0017's.
    _set_kinds(OLD_KINDS)
