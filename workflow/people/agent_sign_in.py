"""How the ARS's agents sign in with ProConnect (the State's identity service for
professionals, OpenID Connect): who a ProConnect identity is here, and the administrator's
setting « ProConnect obligatoire pour les agents ».

ProConnect creates nothing: an identity is an agent here only if an administrator created
the account (invited its address) as instructeur or administrateur, and only if ProConnect
says the agent works for one of the ARS's establishments (its `siret` claim is one of the
deployment's PROCONNECT_SIRETS). Applicants keep their password.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.orm import Session

from workflow.models import Role, Setting, User
from workflow.people.accounts import normalise_email, user_by_email
from workflow.people.actors import Actor
from workflow.people.security_journal import record_security_event
from workflow.plumbing import clock, identifiers
from workflow.plumbing.errors import TransitionRefused

STAFF = (Role.INSTRUCTEUR.value, Role.ADMINISTRATEUR.value)
PROCONNECT_REQUIRED = "proconnect_obligatoire"
SETTING_LABELS = {PROCONNECT_REQUIRED: "ProConnect obligatoire pour les agents"}

NOT_INVITED = (
    "Aucun compte de l'ARS n'est ouvert pour l'adresse {email}. Demandez à un administrateur "
    "de l'ARS de vous inviter, puis identifiez-vous de nouveau avec ProConnect."
)
OTHER_ORGANISATION = (
    "ProConnect vous identifie pour une autre organisation que l'ARS (SIRET {siret}) : "
    "choisissez l'organisation de l'ARS dans ProConnect, ou demandez à un administrateur."
)
APPLICANTS = (
    "ProConnect est réservé aux agents de l'ARS : les déposants se connectent avec leur "
    "adresse électronique et leur mot de passe."
)
CLOSED = "Ce compte est désactivé : adressez-vous à un administrateur de l'ARS."
PASSWORD_REFUSED = (
    "Les agents de l'ARS se connectent avec ProConnect : utilisez le bouton « S'identifier "
    "avec ProConnect » ci-dessous."
)


@dataclass
class SignInRefused(Exception):
    """A ProConnect identity that may not sign in here: `message` for the agent (French),
    `reason` for the security journal."""

    message: str
    reason: str


def agent_for(
    session: Session,
    email: str | None,
    siret: str | None,
    ars_sirets: Collection[str],
    now: dt.datetime | None = None,
) -> User:
    """The ARS account of a ProConnect identity, in the caller's transaction; SignInRefused
    otherwise. ProConnect checked the address: an invited agent who has not chosen a
    password yet has it confirmed now."""
    try:
        address = normalise_email(email or "")
    except identifiers.IdentifierError:
        raise SignInRefused(
            "ProConnect n'a pas transmis d'adresse électronique valide.", "adresse absente"
        ) from None
    user = user_by_email(session, address)
    if user is None:
        raise SignInRefused(NOT_INVITED.format(email=address), "adresse non invitée")
    if user.role not in STAFF:
        raise SignInRefused(APPLICANTS, "compte déposant")
    if not user.active:
        raise SignInRefused(CLOSED, "compte désactivé")
    compact = "".join((siret or "").split())
    if compact not in {"".join(s.split()) for s in ars_sirets}:
        raise SignInRefused(
            OTHER_ORGANISATION.format(siret=compact or "absent"), "organisation autre que l'ARS"
        )
    if user.email_confirmed_at is None:
        user.email_confirmed_at = now or clock.now()
        session.flush()
    return user


def proconnect_required(session: Session) -> bool:
    """Whether the administrators asked that agents sign in with ProConnect only."""
    row = session.get(Setting, PROCONNECT_REQUIRED)
    return bool(row.value) if row is not None else False


def password_refused(session: Session, user: User, proconnect_on: bool) -> bool:
    """Whether this account may not sign in with its password: an agent, while ProConnect
    is configured and required."""
    return proconnect_on and user.role in STAFF and proconnect_required(session)


def set_proconnect_required(
    session: Session,
    required: bool,
    actor: Actor,
    *,
    client_address: str | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Sets « ProConnect obligatoire pour les agents » in the caller's transaction, written
    to the security journal; False when it already had that value."""
    label = SETTING_LABELS[PROCONNECT_REQUIRED]
    if actor.role != Role.ADMINISTRATEUR.value:
        raise TransitionRefused(label, ["Action réservée aux administrateurs de l'ARS."])
    if proconnect_required(session) == required:
        return False
    now = now or clock.now()
    row = session.get(Setting, PROCONNECT_REQUIRED)
    if row is None:
        row = Setting(key=PROCONNECT_REQUIRED)
        session.add(row)
    row.value = required
    row.updated_at = now
    row.updated_by_id = actor.user_id
    session.flush()
    record_security_event(
        session,
        "parametre_change",
        actor=actor,
        client_address=client_address,
        detail={"parametre": label, "valeur": "oui" if required else "non"},
        now=now,
    )
    return True
