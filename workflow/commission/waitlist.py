"""The liste complémentaire that fills itself.

When a laureate gives the post up (« Renoncer au poste ») or lets the maintien window pass
without confirming, its post is free: the first dossier of the same group on the liste
complémentaire (in the commission's rank order) is promoted to accepted, with its mail to the
dossier and to the ARS contact. The scheduler's sweep does it; on a campaign whose commission
says `promotion: confirmed`, it only reserves the promotion and an instructor confirms it.

Exactly once: a freed post is a row of `commission_promotions` whose vacated dossier is unique,
inserted in the same transaction as the promotion; a second sweep, concurrent or later, fails
on that row (or on the promoted dossier, unique too) and changes nothing. A group whose
laureates still fill its funded posts (a post freed beyond the quota) promotes nobody.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from workflow.campaigns.commission import CommissionDef
from workflow.campaigns.store import definition_of
from workflow.commission.groups import commission_of, group_value, quotas_of
from workflow.journal.audit import record_campaign_audit
from workflow.machine.guards import confirmation_end
from workflow.machine.operations import fire, load_dossier
from workflow.models import Assessment, Campaign, CommissionSession, Decision, Dossier, Promotion
from workflow.people.actors import SCHEDULER, Actor
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import ConflictError, TransitionRefused

log = logging.getLogger(__name__)

HOLDING = ("accepte", "confirme", "en_poste")
CAUSE_LABELS = {
    "desistement": "renonciation au poste",
    "maintien_non_confirme": "maintien du recrutement non confirmé dans les délais",
}


def _lapsed(session: Session, dossier: Dossier, today: dt.date) -> bool:
    """An accepted dossier whose maintien window (its own) ended without its confirmation."""
    end = confirmation_end(dossier, definition_of(session, dossier.campaign_version_id))
    return dossier.state == "accepte" and end is not None and today > end


@dataclass(frozen=True)
class Ranking:
    """What the commission said of a campaign's dossiers, read once per sweep: the group each
    was ranked in (its latest session) and its rank in the latest applied session."""

    commission: CommissionDef
    groups: dict[int, str]
    ranks: dict[int, int | None]

    def group_of(self, dossier: Dossier) -> str:
        """The group the commission ranked the dossier in, else the one its values give."""
        found = self.groups.get(dossier.id)
        return found if found is not None else group_value(self.commission, dossier)


def ranking(session: Session, campaign: Campaign) -> Ranking:
    """The campaign's groups and ranks, in two queries whatever the number of dossiers."""
    _, commission = commission_of(session, campaign)
    sessions_of_campaign = select(CommissionSession.id).where(
        CommissionSession.campaign_id == campaign.id
    )
    groups: dict[int, str] = {}
    for dossier_id, group in session.execute(
        select(Assessment.dossier_id, Assessment.group_value)
        .where(Assessment.session_id.in_(sessions_of_campaign))
        .order_by(Assessment.id)
    ):
        groups[dossier_id] = group  # the latest session's wins
    ranks: dict[int, int | None] = {}
    for dossier_id, rank in session.execute(
        select(Assessment.dossier_id, Assessment.rank)
        .join(CommissionSession, CommissionSession.id == Assessment.session_id)
        .where(
            CommissionSession.campaign_id == campaign.id,
            CommissionSession.applied_at.is_not(None),
        )
        .order_by(CommissionSession.applied_at, Assessment.id)
    ):
        ranks[dossier_id] = rank
    return Ranking(commission, groups, ranks)


@dataclass(frozen=True)
class Vacancy:
    vacated_id: int
    cause: str
    group: str


def vacancies(session: Session, campaign: Campaign, now: dt.datetime) -> list[Vacancy]:
    """The posts freed in the campaign and not yet given to the liste complémentaire, in
    groups whose laureates no longer fill the funded posts."""
    if campaign.results_published_at is None:
        return []
    ranks = ranking(session, campaign)
    today = paris_date(now)
    quotas = quotas_of(session, campaign)
    taken = set(
        session.scalars(
            select(Promotion.vacated_dossier_id).where(Promotion.campaign_id == campaign.id)
        )
    )
    dossiers = session.scalars(
        select(Dossier)
        .join(Decision, Decision.dossier_id == Dossier.id)
        .where(
            Dossier.campaign_id == campaign.id,
            Dossier.state.in_((*HOLDING, "desiste")),
            Decision.published_at.is_not(None),
        )
        .options(selectinload(Dossier.decision))
        .order_by(Dossier.id)
    ).all()
    holders: dict[str, int] = {}
    freed: list[Vacancy] = []
    for dossier in dossiers:
        group = ranks.group_of(dossier)
        if dossier.state == "desiste":
            cause = "desistement"
        elif _lapsed(session, dossier, today):
            cause = "maintien_non_confirme"
        else:
            holders[group] = holders.get(group, 0) + 1
            continue
        if dossier.id not in taken:
            freed.append(Vacancy(dossier.id, cause, group))
    # Promotions reserved for an instructor's confirmation hold their post already.
    reserved: dict[str, int] = {}
    for group in session.scalars(
        select(Promotion.group_value).where(
            Promotion.campaign_id == campaign.id, Promotion.status == "a_confirmer"
        )
    ):
        reserved[group] = reserved.get(group, 0) + 1
    open_posts = {
        g: quotas.posts(g) - holders.get(g, 0) - reserved.get(g, 0)
        for g in {v.group for v in freed}
    }
    result = []
    for vacancy in freed:
        if open_posts[vacancy.group] > 0:
            open_posts[vacancy.group] -= 1
            result.append(vacancy)
    return result


def first_waiting(session: Session, campaign: Campaign, group: str) -> Dossier | None:
    """The first dossier of the group on the liste complémentaire and not yet reserved:
    by the commission's rank, then the déposant's priority, then number."""
    ranks = ranking(session, campaign)
    reserved = set(
        session.scalars(
            select(Promotion.promoted_dossier_id).where(
                Promotion.campaign_id == campaign.id, Promotion.promoted_dossier_id.is_not(None)
            )
        )
    )
    waiting = [
        d
        for d in session.scalars(
            select(Dossier).where(
                Dossier.campaign_id == campaign.id, Dossier.state == "liste_complementaire"
            )
        )
        if d.id not in reserved and ranks.group_of(d) == group
    ]
    if not waiting:
        return None

    def order(d: Dossier) -> tuple:
        rank = ranks.ranks.get(d.id)
        return (rank is None, rank or 0, d.priority is None, d.priority or 0, d.number or 0)

    return min(waiting, key=order)


def _motivation(vacated: Dossier, cause: str) -> str:
    return (
        f"Poste libéré par le dossier n° {vacated.number} ({CAUSE_LABELS[cause]}) : premier "
        "dossier de son groupe sur la liste complémentaire."
    )


def fill_vacancy(
    session: Session, campaign: Campaign, vacancy: Vacancy, now: dt.datetime
) -> Promotion | None:
    """Gives one freed post to the first of the group's liste complémentaire, in the
    caller's transaction: promoted at once, or reserved for an instructor's confirmation.
    None when the list is empty. IntegrityError when another sweep did it first."""
    _, commission = commission_of(session, campaign)
    waiting = first_waiting(session, campaign, vacancy.group)
    if waiting is None:
        return None
    vacated = session.get(Dossier, vacancy.vacated_id)
    assert vacated is not None
    automatic = commission.promotion == "automatic"
    promotion = Promotion(
        campaign_id=campaign.id,
        group_value=vacancy.group,
        vacated_dossier_id=vacancy.vacated_id,
        cause=vacancy.cause,
        promoted_dossier_id=waiting.id,
        status="promu" if automatic else "a_confirmer",
        found_at=now,
        promoted_at=now if automatic else None,
    )
    session.add(promotion)
    session.flush()  # the unique vacated dossier: a second sweep stops here
    if automatic:
        dossier = load_dossier(session, waiting.id)
        assert dossier is not None
        fire(
            session,
            dossier,
            "promouvoir_liste_complementaire",
            SCHEDULER,
            {"motivation": _motivation(vacated, vacancy.cause)},
            now=now,
        )
    record_campaign_audit(
        session,
        campaign.id,
        SCHEDULER,
        "liste_complementaire_poste_libere",
        now,
        {
            "poste_libere_par": vacated.number,
            "cause": vacancy.cause,
            "dossier": waiting.number,
            "promotion": "automatique" if automatic else "à confirmer",
        },
        dossier_id=waiting.id,
    )
    return promotion


def promote_from_waiting_lists(sessions: sessionmaker[Session], now: dt.datetime) -> list[str]:
    """The scheduler's sweep: every freed post of every campaign with a commission is given
    to its group's liste complémentaire, each in its own transaction; returns what it did."""
    done: list[str] = []
    with sessions() as session:
        with transaction(session, write=False):
            # Only campaigns whose results are out and whose waiting list is not empty: no
            # one else can be promoted (one index lookup per campaign).
            waiting = (
                select(Dossier.id)
                .where(Dossier.campaign_id == Campaign.id, Dossier.state == "liste_complementaire")
                .exists()
            )
            campaign_ids = list(
                session.scalars(
                    select(Campaign.id).where(Campaign.results_published_at.is_not(None), waiting)
                )
            )
        for campaign_id in campaign_ids:
            while True:
                try:
                    with transaction(session):
                        campaign = session.get(Campaign, campaign_id)
                        assert campaign is not None
                        found = vacancies(session, campaign, now)
                        promotion = None
                        for vacancy in found:
                            promotion = fill_vacancy(session, campaign, vacancy, now)
                            if promotion is not None:
                                break
                except (IntegrityError, ConflictError):
                    # Another scheduler gave this post first: nothing more to do here now.
                    log.info("a concurrent sweep filled a post of campaign %s", campaign_id)
                    session.rollback()
                    break
                if promotion is None:
                    break
                done.append(
                    f"promotion:{promotion.vacated_dossier_id}:{promotion.promoted_dossier_id}"
                )
    return done


def pending_promotions(session: Session, campaign: Campaign) -> list[Promotion]:
    """The promotions the scheduler reserved that await an instructor's confirmation."""
    return list(
        session.scalars(
            select(Promotion)
            .where(Promotion.campaign_id == campaign.id, Promotion.status == "a_confirmer")
            .order_by(Promotion.id)
        )
    )


def confirm_promotion(
    session: Session, promotion: Promotion, actor: Actor, now: dt.datetime | None = None
) -> Dossier:
    """An instructor confirms a reserved promotion: the dossier is promoted, with its mails."""
    now = now or clock.now()
    label = "Confirmer la promotion"
    if actor.role not in ("instructeur", "administrateur"):
        raise TransitionRefused(label, ["Action réservée à l'ARS."])
    if promotion.status != "a_confirmer" or promotion.promoted_dossier_id is None:
        raise TransitionRefused(label, ["Cette promotion est déjà faite."])
    vacated = session.get(Dossier, promotion.vacated_dossier_id)
    dossier = load_dossier(session, promotion.promoted_dossier_id)
    assert vacated is not None and dossier is not None
    fire(
        session,
        dossier,
        "promouvoir_liste_complementaire",
        actor,
        {"motivation": _motivation(vacated, promotion.cause)},
        now=now,
    )
    promotion.status = "promu"
    promotion.promoted_at = now
    promotion.confirmed_by_id = actor.user_id
    session.flush()
    return dossier
