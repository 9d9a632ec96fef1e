"""A commission session: its date, its members (instructors, and invited members who read
through a signed link) and its agenda, the dossiers en instruction of the campaign grouped
by the campaign's grouping field, in the déposants' order of priority then by number."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from workflow.commission.groups import commission_of, group_label, group_value, quotas_of
from workflow.commission.links import LINK_LIFETIME, member_token
from workflow.journal import outbox
from workflow.journal.audit import record_campaign_audit
from workflow.models import Assessment, Campaign, CommissionMember, CommissionSession, Dossier, User
from workflow.people.actors import Actor
from workflow.plumbing import clock, identifiers
from workflow.plumbing.errors import InvalidInput, TransitionRefused

STAFF = ("instructeur", "administrateur")


def _staff_only(actor: Actor, label: str) -> None:
    if actor.role not in STAFF:
        raise TransitionRefused(label, ["Action réservée à l'ARS."])


def member_quality(user: User) -> str:
    """How the minutes name an ARS member's role."""
    return "administrateur ARS" if user.role == "administrateur" else "instructeur ARS"


def create_session(
    session: Session,
    campaign: Campaign,
    actor: Actor,
    title: str,
    held_on: dt.date,
    now: dt.datetime | None = None,
) -> CommissionSession:
    """Opens a session of the commission: its creator sits in it, and its agenda holds every
    dossier of the campaign then en instruction, each in its group."""
    now = now or clock.now()
    _staff_only(actor, "Créer une séance de commission")
    if not title.strip():
        raise InvalidInput("Le titre de la séance est obligatoire.", {"title": "Obligatoire."})
    sitting = CommissionSession(
        campaign_id=campaign.id,
        title=title.strip(),
        held_on=held_on,
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(sitting)
    session.flush()
    creator = session.get(User, actor.user_id) if actor.user_id else None
    if creator is not None:
        session.add(
            CommissionMember(
                session_id=sitting.id,
                user_id=creator.id,
                name=creator.full_name or creator.email,
                quality=member_quality(creator),
                invited_at=now,
            )
        )
    added = refresh_agenda(session, sitting)
    record_campaign_audit(
        session,
        campaign.id,
        actor,
        "creer_seance_commission",
        now,
        {
            "seance": sitting.id,
            "titre": sitting.title,
            "date": held_on.isoformat(),
            "dossiers": added,
        },
    )
    return sitting


def refresh_agenda(session: Session, sitting: CommissionSession) -> int:
    """Adds to the agenda the dossiers en instruction not on it yet (a session whose
    decisions are applied is settled); returns how many were added."""
    if sitting.applied_at is not None:
        return 0
    campaign = session.get(Campaign, sitting.campaign_id)
    assert campaign is not None
    _, commission = commission_of(session, campaign)
    present = set(
        session.scalars(select(Assessment.dossier_id).where(Assessment.session_id == sitting.id))
    )
    dossiers = session.scalars(
        select(Dossier).where(Dossier.campaign_id == campaign.id, Dossier.state == "en_instruction")
    ).all()
    added = 0
    for dossier in dossiers:
        if dossier.id not in present:
            session.add(
                Assessment(
                    session_id=sitting.id,
                    dossier_id=dossier.id,
                    group_value=group_value(commission, dossier),
                    adjusted=False,
                )
            )
            added += 1
    session.flush()
    return added


def add_instructor(
    session: Session, sitting: CommissionSession, user: User, actor: Actor, now: dt.datetime
) -> CommissionMember:
    """Seats an ARS user (who follows the campaign) in the session."""
    _staff_only(actor, "Ajouter un membre")
    present = session.scalar(
        select(CommissionMember).where(
            CommissionMember.session_id == sitting.id, CommissionMember.user_id == user.id
        )
    )
    if present is not None:
        return present
    member = CommissionMember(
        session_id=sitting.id,
        user_id=user.id,
        name=user.full_name or user.email,
        quality=member_quality(user),
        invited_at=now,
    )
    session.add(member)
    session.flush()
    record_campaign_audit(
        session,
        sitting.campaign_id,
        actor,
        "ajouter_membre_commission",
        now,
        {"seance": sitting.id, "membre": member.name},
    )
    return member


def invite_member(
    session: Session,
    sitting: CommissionSession,
    name: str,
    quality: str,
    email: str,
    actor: Actor,
    *,
    secret_key: str,
    base_url: str,
    now: dt.datetime | None = None,
) -> CommissionMember:
    """Invites a member without an application account: they are mailed a personal link
    through which they read the agenda (and score, where the campaign lets them)."""
    now = now or clock.now()
    _staff_only(actor, "Inviter un membre")
    problems: dict[str, str] = {}
    if not name.strip():
        problems["name"] = "Le nom du membre est obligatoire."
    if not quality.strip():
        problems["quality"] = "La qualité du membre est obligatoire."
    try:
        address = identifiers.check_email(email).value
    except identifiers.IdentifierError as exc:
        problems["email"] = exc.message
        address = ""
    if problems:
        raise InvalidInput(" ".join(problems.values()), problems)
    member = CommissionMember(
        session_id=sitting.id,
        name=name.strip(),
        quality=quality.strip(),
        email=address,
        invited_at=now,
    )
    session.add(member)
    session.flush()
    campaign = session.get(Campaign, sitting.campaign_id)
    link = f"{base_url.rstrip('/')}/commission/{member_token(member.id, secret_key)}"
    context = {
        "member_name": member.name,
        "session_title": sitting.title,
        "held_on": sitting.held_on.isoformat(),
        "link": link,
        "expires_at": (now + LINK_LIFETIME).isoformat(),
    }
    outbox.queue(
        session, "invitation_commission", [address], campaign=campaign, context=context, now=now
    )
    record_campaign_audit(
        session,
        sitting.campaign_id,
        actor,
        "inviter_membre_commission",
        now,
        {"seance": sitting.id, "membre": member.name, "email": address},
    )
    return member


@dataclass(frozen=True)
class AgendaRow:
    assessment: Assessment
    dossier: Dossier
    organisation: str


@dataclass(frozen=True)
class AgendaGroup:
    value: str
    label: str
    funded_posts: int
    rows: list[AgendaRow]


def agenda(session: Session, sitting: CommissionSession) -> list[AgendaGroup]:
    """The session's dossiers by group (in the groups' label order), each group in the
    déposants' order of priority (unordered last) then by number."""
    campaign = session.get(Campaign, sitting.campaign_id)
    assert campaign is not None
    definition, commission = commission_of(session, campaign)
    quotas = quotas_of(session, campaign)
    rows = session.execute(
        select(Assessment, Dossier)
        .join(Dossier, Dossier.id == Assessment.dossier_id)
        .where(Assessment.session_id == sitting.id)
        .options(joinedload(Dossier.organisation))
    ).all()
    groups: dict[str, list[AgendaRow]] = {}
    for assessment, dossier in rows:
        groups.setdefault(assessment.group_value, []).append(
            AgendaRow(assessment, dossier, dossier.organisation.name)
        )
    result = [
        AgendaGroup(
            value,
            group_label(definition, commission, value),
            quotas.posts(value),
            sorted(
                members,
                key=lambda r: (
                    r.dossier.priority is None,
                    r.dossier.priority or 0,
                    r.dossier.number or 0,
                ),
            ),
        )
        for value, members in groups.items()
    ]
    return sorted(result, key=lambda g: (g.value == "", g.label.casefold()))


def sessions_of(session: Session, campaign: Campaign) -> list[CommissionSession]:
    """The campaign's sessions, the latest first."""
    return list(
        session.scalars(
            select(CommissionSession)
            .where(CommissionSession.campaign_id == campaign.id)
            .order_by(CommissionSession.held_on.desc(), CommissionSession.id.desc())
        )
    )
