"""Closing an account at its owner's request (RGPD right to erasure), by an administrator:
the account can no longer sign in, its sessions end, and its name and address are replaced
(the address by one that names the closure, since an address stays unique). The dossiers of
its organisation stay: they belong to the organisation, and the campaign's retention purges
them. Written to the security journal.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy.orm import Session

from workflow.models import Organisation, Role, User
from workflow.people.actors import Actor
from workflow.people.security_journal import record_security_event
from workflow.people.sign_in_sessions import end_all_sessions
from workflow.plumbing import clock
from workflow.plumbing.errors import TransitionRefused
from workflow.privacy.pseudonyms import MARKER

LABEL = "Fermer le compte"
CLOSED = "compte_ferme"  # the sessions' end_reason
ADMIN_ONLY = "Action réservée aux administrateurs de l'ARS."


def closed_address(user_id: int) -> str:
    """The address a closed account keeps: unique, and reaching nobody (.invalid)."""
    return f"compte-ferme-{user_id}@ferme.invalid"


def is_closed(user: User) -> bool:
    """Whether the account was closed."""
    return user.email == closed_address(user.id)


def close_account(
    session: Session,
    user: User,
    actor: Actor,
    *,
    client_address: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Closes the account in the caller's transaction; returns how many sessions ended. An
    administrator does not close their own account (another one does)."""
    if actor.role != Role.ADMINISTRATEUR.value:
        raise TransitionRefused(LABEL, [ADMIN_ONLY])
    if actor.user_id == user.id:
        raise TransitionRefused(LABEL, ["Un administrateur ne ferme pas son propre compte."])
    if is_closed(user):
        raise TransitionRefused(LABEL, ["Ce compte est déjà fermé."])
    now = now or clock.now()
    # Assumption: the security journal keeps its rows as they are (who signed in from where
    # is kept for the service's security, apart from the consent-based processing); the
    # closure's own row names the account by its id and closed address only.
    ended = end_all_sessions(session, user.id, CLOSED, now)
    user.active = False
    user.email = closed_address(user.id)
    user.full_name = None
    # No password opens it any more (not an argon2 hash).
    user.password_hash = "!" + secrets.token_hex(20)
    organisation = session.get(Organisation, user.organisation_id) if user.organisation_id else None
    # A candidate's « organisation » is the candidate: its name is theirs.
    if (
        organisation is not None
        and organisation.type == "candidat"
        and all(member.id == user.id or is_closed(member) for member in organisation.users)
    ):
        organisation.name = MARKER
        organisation.address = organisation.postal_code = organisation.city = None
    session.flush()
    record_security_event(
        session,
        "compte_ferme",
        user=user,
        actor=actor,
        client_address=client_address,
        detail={"sessions_terminees": ended},
        now=now,
    )
    return ended
