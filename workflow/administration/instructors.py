"""The ARS side's accounts and what each one sees: an administrateur creates instructeur
accounts, deactivates them, and chooses the campaigns each one follows. An instructeur sees
only the campaigns it follows; an administrateur sees every campaign.

Every function runs inside the caller's transaction. Following or leaving a campaign is
written to the campaign's audit trail.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from workflow.journal import outbox
from workflow.journal.audit import record_campaign_audit
from workflow.models import Campaign, CampaignInstructor, Role, User
from workflow.people.accounts import (
    INVITATION,
    MAX_AGES,
    make_token,
    normalise_email,
    user_by_email,
)
from workflow.people.actors import Actor
from workflow.people.security_journal import record_security_event
from workflow.people.sign_in_sessions import DEACTIVATED, ROLE_CHANGED, Account, end_all_sessions
from workflow.plumbing import clock, identifiers
from workflow.plumbing.errors import InvalidInput, TransitionRefused

STAFF = (Role.INSTRUCTEUR.value, Role.ADMINISTRATEUR.value)
ADMIN_ONLY = "Action réservée aux administrateurs de l'ARS."


def _require_admin(actor: Actor, label: str) -> None:
    if actor.role != Role.ADMINISTRATEUR.value:
        raise TransitionRefused(label, [ADMIN_ONLY])


# --- what an ARS user sees -------------------------------------------------------------------


def visible_campaigns(session: Session, user: User | Account) -> list[Campaign]:
    """The campaigns a user of the ARS works on, latest deadline first: every campaign for an
    administrateur, the followed ones for an instructeur, none for anyone else."""
    query = select(Campaign).order_by(Campaign.deadline_at.desc(), Campaign.id)
    if user.role == Role.ADMINISTRATEUR.value:
        return list(session.scalars(query))
    if user.role != Role.INSTRUCTEUR.value or not user.active:
        return []
    followed = select(CampaignInstructor.campaign_id).where(CampaignInstructor.user_id == user.id)
    return list(session.scalars(query.where(Campaign.id.in_(followed))))


def may_instruct(session: Session, user: User | Account, campaign_id: int) -> bool:
    """Whether the user may see and instruct the campaign's dossiers."""
    if not user.active:
        return False
    if user.role == Role.ADMINISTRATEUR.value:
        return True
    if user.role != Role.INSTRUCTEUR.value:
        return False
    return bool(
        session.scalar(
            select(
                exists().where(
                    CampaignInstructor.campaign_id == campaign_id,
                    CampaignInstructor.user_id == user.id,
                )
            )
        )
    )


def followed_ids(session: Session, user_id: int) -> set[int]:
    """The ids of the campaigns an instructeur follows."""
    return set(
        session.scalars(
            select(CampaignInstructor.campaign_id).where(CampaignInstructor.user_id == user_id)
        )
    )


def instructors(session: Session) -> list[User]:
    """Every instructeur account, active ones first, by address."""
    return list(
        session.scalars(
            select(User)
            .where(User.role == Role.INSTRUCTEUR.value)
            .order_by(User.active.desc(), User.email)
        )
    )


def followers(session: Session, campaign_id: int) -> list[User]:
    """The instructeurs who follow a campaign."""
    return list(
        session.scalars(
            select(User)
            .join(CampaignInstructor, CampaignInstructor.user_id == User.id)
            .where(CampaignInstructor.campaign_id == campaign_id)
            .order_by(User.email)
        )
    )


# --- following campaigns ---------------------------------------------------------------------


def set_followed(
    session: Session,
    instructor: User,
    campaign_ids: Iterable[int],
    actor: Actor,
    now: dt.datetime | None = None,
) -> tuple[set[int], set[int]]:
    """Makes the instructeur follow exactly these campaigns; returns the ids added and the
    ids removed. Each change is written to the campaign's audit trail."""
    now = now or clock.now()
    label = "Campagnes suivies"
    _require_admin(actor, label)
    if instructor.role != Role.INSTRUCTEUR.value:
        raise TransitionRefused(label, ["Seul un compte instructeur suit des campagnes."])
    wanted = set(campaign_ids)
    known = set(session.scalars(select(Campaign.id).where(Campaign.id.in_(wanted))))
    if wanted - known:
        raise InvalidInput("Campagne inconnue.", {"campagnes": "Campagne inconnue."})
    current = followed_ids(session, instructor.id)
    added, removed = wanted - current, current - wanted
    for campaign_id in sorted(added):
        session.add(CampaignInstructor(campaign_id=campaign_id, user_id=instructor.id, since=now))
        _audit(session, campaign_id, actor, "suivre_campagne", now, instructor.email)
    if removed:
        session.execute(
            delete(CampaignInstructor).where(
                CampaignInstructor.user_id == instructor.id,
                CampaignInstructor.campaign_id.in_(removed),
            )
        )
        for campaign_id in sorted(removed):
            _audit(session, campaign_id, actor, "ne_plus_suivre_campagne", now, instructor.email)
    session.flush()
    return added, removed


def follow(
    session: Session,
    instructor: User,
    campaign: Campaign,
    actor: Actor,
    now: dt.datetime | None = None,
) -> bool:
    """Adds one campaign to those the instructeur follows; False if it already did."""
    current = followed_ids(session, instructor.id)
    added, _ = set_followed(session, instructor, current | {campaign.id}, actor, now)
    return bool(added)


# --- accounts --------------------------------------------------------------------------------


def create_instructor(
    session: Session,
    email: str,
    full_name: str,
    actor: Actor,
    *,
    secret_key: str,
    campaign_ids: Iterable[int] = (),
    now: dt.datetime | None = None,
    client_address: str | None = None,
) -> User:
    """Creates an instructeur account and mails it a link to choose its password (the
    invitation link of `workflow.accounts`, valid for a week and once). It follows the given
    campaigns at once."""
    now = now or clock.now()
    _require_admin(actor, "Créer un compte instructeur")
    errors: dict[str, str] = {}
    address = ""
    try:
        address = normalise_email(email)
    except identifiers.IdentifierError as exc:
        errors["email"] = exc.message
    name = " ".join(full_name.split())
    if not name:
        errors["full_name"] = "Renseignez le prénom et le nom de l'instructeur."
    elif len(name) > 200:
        errors["full_name"] = "200 caractères au maximum."
    if address and "email" not in errors and user_by_email(session, address):
        errors["email"] = "Un compte existe déjà avec cette adresse."
    if errors:
        raise InvalidInput("Le compte n'a pas été créé : corrigez les champs signalés.", errors)
    user = User(
        email=address,
        # Not an argon2 hash: no password opens the account until one is chosen by the link.
        password_hash="!" + secrets.token_hex(20),
        role=Role.INSTRUCTEUR.value,
        organisation_id=None,
        full_name=name,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    record_security_event(
        session,
        "compte_cree",
        user=user,
        actor=actor,
        client_address=client_address,
        detail={"role": user.role},
        now=now,
    )
    outbox.queue(
        session,
        "invitation_instructeur",
        [user.email],
        context={
            "token": make_token(secret_key, INVITATION, user),
            "email": user.email,
            "full_name": name,
            "valid_for": MAX_AGES[INVITATION][1],
            "inviter": actor.label,
        },
        now=now,
    )
    if campaign_ids:
        set_followed(session, user, campaign_ids, actor, now)
    return user


def set_active(
    session: Session,
    user: User,
    active: bool,
    actor: Actor,
    *,
    client_address: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Deactivates an instructeur account (it can no longer sign in, and its open sessions
    end at once), or activates it again. Written to the security journal."""
    label = "Réactiver le compte" if active else "Désactiver le compte"
    _require_admin(actor, label)
    if user.role != Role.INSTRUCTEUR.value:
        raise TransitionRefused(label, ["Seuls les comptes instructeurs sont gérés ici."])
    if user.active == active:
        return
    now = now or clock.now()
    user.active = active
    session.flush()
    ended = 0 if active else end_all_sessions(session, user.id, DEACTIVATED, now)
    record_security_event(
        session,
        "compte_reactive" if active else "compte_desactive",
        user=user,
        actor=actor,
        client_address=client_address,
        detail={} if active else {"sessions_terminees": ended},
        now=now,
    )


def set_role(
    session: Session,
    user: User,
    role: str,
    actor: Actor,
    *,
    client_address: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Makes an ARS account an instructeur or an administrateur. Its open sessions end: the
    pages it may open change with the role. Written to the security journal."""
    label = "Changer le rôle"
    _require_admin(actor, label)
    if user.role not in STAFF or role not in STAFF:
        raise TransitionRefused(label, ["Seuls les comptes de l'ARS changent de rôle ici."])
    if actor.user_id == user.id:
        raise TransitionRefused(label, ["Un administrateur ne change pas son propre rôle."])
    if user.role == role:
        return
    now = now or clock.now()
    before, user.role = user.role, role
    session.flush()
    ended = end_all_sessions(session, user.id, ROLE_CHANGED, now)
    record_security_event(
        session,
        "role_change",
        user=user,
        actor=actor,
        client_address=client_address,
        detail={"avant": before, "apres": role, "sessions_terminees": ended},
        now=now,
    )


def resend_invitation(
    session: Session, user: User, actor: Actor, *, secret_key: str, now: dt.datetime | None = None
) -> None:
    """Mails a new link to choose a password to an instructeur who has not chosen one yet."""
    _require_admin(actor, "Renvoyer l'invitation")
    if user.role != Role.INSTRUCTEUR.value or not user.active:
        reason = "Ce compte n'est pas un instructeur actif."
        raise TransitionRefused("Renvoyer l'invitation", [reason])
    outbox.queue(
        session,
        "invitation_instructeur",
        [user.email],
        context={
            "token": make_token(secret_key, INVITATION, user),
            "email": user.email,
            "full_name": user.full_name or user.email,
            "valid_for": MAX_AGES[INVITATION][1],
            "inviter": actor.label,
        },
        now=now or clock.now(),
    )


def has_password(user: User) -> bool:
    """Whether the account has chosen its password (an invited one has not yet)."""
    return not user.password_hash.startswith("!")


def _audit(
    session: Session, campaign_id: int, actor: Actor, event: str, now: dt.datetime, email: str
) -> None:
    record_campaign_audit(session, campaign_id, actor, event, now, {"instructeur": email})
