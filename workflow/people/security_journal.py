"""The security journal: what happened to accounts (created, confirmed, signed in or refused,
passwords, roles, deactivation, sessions ended, access limited) and to the doors opened to
outside tools (API tokens created or revoked, webhooks registered or stopped), append-only,
with who did it and from which address. It needs no campaign, unlike the dossier audit trail.

`record_security_event` writes in the caller's transaction, so an event is kept exactly when
the change it records is; a refused sign-in changes nothing else and is recorded in a
transaction of its own by the caller.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.models import SecurityEvent
from workflow.plumbing import clock
from workflow.plumbing.dates import end_instant, start_instant

if TYPE_CHECKING:
    from workflow.models import User
    from workflow.people.actors import Actor

# Every kind of event, with the label an administrator reads (the database knows the same
# list: SECURITY_EVENT_KINDS, CHECK known_kind).
KINDS = {
    "compte_cree": "Compte créé",
    "adresse_confirmee": "Adresse confirmée",
    "connexion_reussie": "Connexion réussie",
    "connexion_echouee": "Connexion refusée",
    "deconnexion": "Déconnexion",
    "session_expiree": "Session expirée",
    "mot_de_passe_reinitialise": "Mot de passe réinitialisé",
    "mot_de_passe_choisi": "Mot de passe choisi (invitation)",
    "mot_de_passe_change": "Mot de passe changé",
    "role_change": "Rôle changé",
    "compte_desactive": "Compte désactivé",
    "compte_reactive": "Compte réactivé",
    "acces_limite": "Accès limité (trop de tentatives)",
    "parametre_change": "Paramètre changé",
    "donnees_exportees": "Données personnelles exportées",
    "compte_ferme": "Compte fermé",
    "jeton_api_cree": "Jeton d'API créé",
    "jeton_api_revoque": "Jeton d'API révoqué",
    "webhook_enregistre": "Webhook enregistré",
    "webhook_arrete": "Webhook arrêté",
}
ANONYMOUS = "anonyme"
PAGE_SIZE = 50


def record_security_event(
    session: Session,
    kind: str,
    *,
    user: User | None = None,
    email: str | None = None,
    actor: Actor | None = None,
    client_address: str | None = None,
    detail: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> SecurityEvent:
    """Appends one event to the journal, in the caller's transaction. `user` is the account
    concerned (its address is copied as it is now); `email` names an address with no account,
    as typed in a refused sign-in; no `actor` means an anonymous visitor."""
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind: {kind}")
    event = SecurityEvent(
        at=now or clock.now(),
        kind=kind,
        user_id=user.id if user is not None else None,
        email=(user.email if user is not None else (email or "").strip()[:254] or None),
        actor_id=actor.user_id if actor is not None else None,
        actor_label=(actor.label if actor is not None else ANONYMOUS)[:254],
        client_address=(client_address or None) and client_address[:45],
        detail=detail or {},
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class JournalFilter:
    """What an administrator asks of the journal; every part is optional."""

    kind: str | None = None
    email_contains: str | None = None
    since: dt.date | None = None  # first day shown, in Paris
    until: dt.date | None = None  # last day shown, in Paris, included


def security_events(
    session: Session,
    wanted: JournalFilter,
    *,
    before_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[SecurityEvent], int | None]:
    """One page of the journal, newest first, and the `before_id` of the next page (None on
    the last). Pages are cut on the id, so events written meanwhile shift nothing."""
    query = select(SecurityEvent).order_by(SecurityEvent.id.desc()).limit(limit + 1)
    if wanted.kind:
        query = query.where(SecurityEvent.kind == wanted.kind)
    if wanted.email_contains:
        needle = wanted.email_contains.strip().lower()
        query = query.where(func.lower(SecurityEvent.email).contains(needle, autoescape=True))
    if wanted.since:
        query = query.where(SecurityEvent.at >= start_instant(wanted.since))
    if wanted.until:
        query = query.where(SecurityEvent.at < end_instant(wanted.until))
    if before_id is not None:
        query = query.where(SecurityEvent.id < before_id)
    rows = list(session.scalars(query))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None
