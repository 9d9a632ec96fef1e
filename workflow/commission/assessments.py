"""What the commission records per dossier of its agenda: its opinion (favorable,
défavorable, liste complémentaire) with a reason and a rank within the dossier's group; and,
where the campaign declares a scoring grid, each member's scores, summed up as a mean and a
spread. Everything audited."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.commission import CommissionDef
from workflow.journal.audit import Author, record_campaign_audit
from workflow.models import Assessment, CommissionMember, CommissionSession, Score
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.errors import InvalidInput, TransitionRefused

OPINION_LABELS = {
    "favorable": "Favorable",
    "defavorable": "Défavorable",
    "liste_complementaire": "Liste complémentaire",
}


def _open(sitting: CommissionSession, label: str) -> None:
    if sitting.applied_at is not None:
        raise TransitionRefused(
            label, ["Les décisions de cette séance sont appliquées : elle ne change plus."]
        )


def record_opinion(
    session: Session,
    sitting: CommissionSession,
    assessment: Assessment,
    actor: Actor,
    opinion: str | None,
    reason: str,
    rank: int | None,
    now: dt.datetime | None = None,
) -> Assessment:
    """Records the commission's opinion on a dossier, with its reason, and its rank in its
    group. Two dossiers may share a rank (ex æquo): the proposals settle it and say so."""
    now = now or clock.now()
    label = "Enregistrer l'avis de la commission"
    if actor.role not in ("instructeur", "administrateur"):
        raise TransitionRefused(label, ["Action réservée à l'ARS."])
    _open(sitting, label)
    problems: dict[str, str] = {}
    if opinion is not None and opinion not in OPINION_LABELS:
        problems["opinion"] = "Choisissez un avis : favorable, défavorable ou liste complémentaire."
    if opinion is not None and not reason.strip():
        problems["reason"] = "Le motif de l'avis est obligatoire."
    if rank is not None and rank < 1:
        problems["rank"] = "Le rang commence à 1."
    if problems:
        raise InvalidInput(" ".join(problems.values()), problems)
    assessment.opinion = opinion
    assessment.reason = reason.strip() or None
    assessment.rank = rank
    assessment.updated_at = now
    session.flush()
    record_campaign_audit(
        session,
        sitting.campaign_id,
        actor,
        "avis_commission",
        now,
        {
            "seance": sitting.id,
            "avis_commission": OPINION_LABELS[opinion].lower() if opinion else None,
            "motif": reason.strip(),
            "rang": rank,
        },
        dossier_id=assessment.dossier_id,
    )
    return assessment


def may_score(member: CommissionMember, commission: CommissionDef) -> bool:
    """Instructors score; invited members too when the campaign lets them."""
    return bool(commission.scoring) and (
        member.user_id is not None or commission.invited_members_score
    )


def record_scores(
    session: Session,
    sitting: CommissionSession,
    member: CommissionMember,
    commission: CommissionDef,
    dossier_id: int,
    values: dict[str, float],
    author: Author,
    now: dt.datetime | None = None,
) -> None:
    """A member scores one dossier of the agenda on every criterion of the grid (a new
    score replaces the member's previous one)."""
    now = now or clock.now()
    label = "Noter le dossier"
    if member.session_id != sitting.id or not may_score(member, commission):
        raise TransitionRefused(label, ["Vous ne notez pas dans cette séance."])
    _open(sitting, label)
    on_agenda = session.scalar(
        select(Assessment.id).where(
            Assessment.session_id == sitting.id, Assessment.dossier_id == dossier_id
        )
    )
    if on_agenda is None:
        raise TransitionRefused(label, ["Ce dossier n'est pas à l'ordre du jour de la séance."])
    problems: dict[str, str] = {}
    for criterion in commission.scoring:
        value = values.get(criterion.key)
        if value is None:
            problems[criterion.key] = f"La note « {criterion.label} » est obligatoire."
        elif not 0 <= value <= criterion.maximum:
            problems[criterion.key] = (
                f"La note « {criterion.label} » va de 0 à {criterion.maximum}."
            )
    if problems:
        raise InvalidInput(" ".join(problems.values()), problems)
    existing = {
        s.criterion: s
        for s in session.scalars(
            select(Score).where(Score.member_id == member.id, Score.dossier_id == dossier_id)
        )
    }
    for criterion in commission.scoring:
        value = float(values[criterion.key])
        score = existing.get(criterion.key)
        if score is None:
            session.add(
                Score(
                    session_id=sitting.id,
                    member_id=member.id,
                    dossier_id=dossier_id,
                    criterion=criterion.key,
                    value=value,
                    scored_at=now,
                )
            )
        else:
            score.value = value
            score.scored_at = now
    session.flush()
    record_campaign_audit(
        session,
        sitting.campaign_id,
        author,
        "noter_dossier",
        now,
        {"seance": sitting.id, "membre": member.name, "notes": values},
        dossier_id=dossier_id,
    )


@dataclass(frozen=True)
class ScoreSummary:
    """A dossier's scores: each member's weighted score, their mean and their spread (the
    population standard deviation), on the grid's scale."""

    by_member: dict[int, float]
    mean: float | None
    spread: float | None


def weighted(commission: CommissionDef, values: dict[str, float]) -> float | None:
    """A member's score of a dossier: the weighted mean of the criteria, on a scale of 20
    (criteria with another maximum are brought to 20 first); None until every criterion is
    scored."""
    if not commission.scoring or any(c.key not in values for c in commission.scoring):
        return None
    total_weight = sum(c.weight for c in commission.scoring)
    points = sum(c.weight * values[c.key] * 20 / c.maximum for c in commission.scoring)
    return points / total_weight


def score_summaries(
    session: Session, sitting: CommissionSession, commission: CommissionDef
) -> dict[int, ScoreSummary]:
    """The scores of the session's dossiers, by dossier id."""
    values: dict[tuple[int, int], dict[str, float]] = {}
    for score in session.scalars(select(Score).where(Score.session_id == sitting.id)):
        values.setdefault((score.dossier_id, score.member_id), {})[score.criterion] = score.value
    by_dossier: dict[int, dict[int, float]] = {}
    for (dossier_id, member_id), criteria in values.items():
        total = weighted(commission, criteria)
        if total is not None:
            by_dossier.setdefault(dossier_id, {})[member_id] = total
    summaries = {}
    for dossier_id, members in by_dossier.items():
        totals = list(members.values())
        summaries[dossier_id] = ScoreSummary(
            members,
            round(statistics.fmean(totals), 2),
            round(statistics.pstdev(totals), 2),
        )
    return summaries
