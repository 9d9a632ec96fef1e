"""Who is signed in, and what happened to accounts: sign-in sessions kept server-side, and
the append-only security journal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models.base import Base, JSONValue

# The kinds of security events (their labels: workflow.people.security_journal.KINDS).
SECURITY_EVENT_KINDS = (
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
    # RGPD and ProConnect (migration 0017).
    "parametre_change",
    "donnees_exportees",
    "compte_ferme",
    # Credentials and data flows for outside tools (migration 0020).
    "jeton_api_cree",
    "jeton_api_revoque",
    "webhook_enregistre",
    "webhook_arrete",
)


class SignInSession(Base):
    """One sign-in. The browser's cookie carries a random id; only its SHA-256 is stored, so
    a copy of the table opens no session. A row is live until `ended_at` is set."""

    __tablename__ = "sign_in_sessions"
    __table_args__ = (
        CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="ended_with_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The role signed in with: a session never outlives a change of role.
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(30))
    client_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))


class SecurityEvent(Base):
    """One event of an account. Rows are only ever inserted (database triggers refuse UPDATE
    and DELETE); `user_id` and `actor_id` are plain references and the address is copied, so
    the journal reads the same whatever later happens to the account."""

    __tablename__ = "security_events"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind}'" for kind in SECURITY_EVENT_KINDS) + ")",
            name="known_kind",
        ),
        Index("ix_security_events_kind_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None]
    email: Mapped[str | None] = mapped_column(String(254))
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(254))
    client_address: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
