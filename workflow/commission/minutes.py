"""The minutes of a session (procès-verbal), as plain data: the documents package renders
them as a PDF, the instruction pages as HTML."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from workflow.commission.assessments import OPINION_LABELS, score_summaries
from workflow.commission.groups import commission_of
from workflow.commission.proposals import PROPOSAL_LABELS
from workflow.commission.sessions import agenda
from workflow.models import Campaign, CommissionSession


@dataclass(frozen=True)
class MinutesRow:
    number: str
    organisation: str
    candidate: str
    opinion: str
    rank: int | None
    mean_score: float | None
    decision: str


@dataclass(frozen=True)
class MinutesGroup:
    label: str
    funded_posts: int
    rows: list[MinutesRow]


@dataclass(frozen=True)
class Minutes:
    campaign_title: str
    held_on: dt.date
    title: str
    members_present: list[str]
    groups: list[MinutesGroup]


def minutes_of(session: Session, commission_session_id: int) -> Minutes:
    """The minutes of a session: its members, and per group its dossiers in rank order
    (unranked last) with the opinion, the mean score and the decision, applied (the dossier's
    state once applied) or proposed. LookupError for an unknown session."""
    sitting = session.get(CommissionSession, commission_session_id)
    if sitting is None:
        raise LookupError(commission_session_id)
    campaign = session.get(Campaign, sitting.campaign_id)
    assert campaign is not None
    _, commission = commission_of(session, campaign)
    scores = score_summaries(session, sitting, commission)
    groups = []
    for group in agenda(session, sitting):
        rows = sorted(
            group.rows,
            key=lambda r: (r.assessment.rank is None, r.assessment.rank or 0, r.dossier.number),
        )
        groups.append(
            MinutesGroup(
                group.label,
                group.funded_posts,
                [
                    MinutesRow(
                        number=str(row.dossier.number),
                        organisation=row.organisation,
                        candidate=row.dossier.candidate_name or "",
                        opinion=OPINION_LABELS.get(row.assessment.opinion or "", "Sans avis"),
                        rank=row.assessment.rank,
                        mean_score=scores[row.dossier.id].mean
                        if row.dossier.id in scores
                        else None,
                        decision=_decision(sitting, row.assessment.proposal),
                    )
                    for row in rows
                ],
            )
        )
    return Minutes(
        campaign_title=campaign.title,
        held_on=sitting.held_on,
        title=sitting.title,
        members_present=[f"{m.name} ({m.quality})" for m in sitting.members],
        groups=groups,
    )


def _decision(sitting: CommissionSession, proposal: str | None) -> str:
    """The decision the session applied, or the one proposed so far. A later promotion from
    the liste complémentaire is not this session's decision: the minutes keep what it said."""
    if proposal is None:
        return "À proposer"
    if sitting.applied_at is not None:
        return PROPOSAL_LABELS[proposal]
    return f"{PROPOSAL_LABELS[proposal]} (proposé)"
