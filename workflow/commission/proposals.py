"""Decisions proposed from the ranks and the funded posts, reviewed by the instructor and
applied in one transaction.

Per group, the dossiers with a favorable opinion take the funded posts in rank order; the
next favorable ones, and those the commission put on the liste complémentaire, wait on it in
rank order; défavorable or unranked dossiers are refused. Dossiers ex æquo are settled by their
mean score, then by the déposant's order of priority, then by number, and the proposal says
so. The instructor may change any proposal with a motivation; applying fires `accepter`,
`inscrire_liste_complementaire` or `refuser` on each dossier through the machine, all in the
caller's transaction: one refusal and nothing is applied. The grouped publication then sends
the mails."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.commission.assessments import OPINION_LABELS, ScoreSummary, score_summaries
from workflow.commission.groups import commission_of
from workflow.commission.sessions import AgendaRow, agenda
from workflow.journal.audit import record_campaign_audit
from workflow.machine.operations import fire, load_dossier
from workflow.models import Assessment, Campaign, CommissionSession
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.dates import format_date
from workflow.plumbing.errors import InvalidInput, TransitionRefused

PROPOSAL_LABELS = {
    "accepte": "Accepté",
    "liste_complementaire": "Liste complémentaire",
    "refuse": "Refusé",
}
EVENT_OF = {
    "accepte": "accepter",
    "liste_complementaire": "inscrire_liste_complementaire",
    "refuse": "refuser",
}


@dataclass
class GroupProposal:
    value: str
    label: str
    funded_posts: int
    # Assessments in the order the proposals were made.
    order: list[Assessment] = field(default_factory=list)
    ties: list[str] = field(default_factory=list)


def _order_key(
    assessment: Assessment, priority: int | None, number: int | None, mean: float | None
) -> tuple:
    return (
        assessment.rank is None,
        assessment.rank or 0,
        mean is None,
        -(mean or 0.0),
        priority is None,
        priority or 0,
        number or 0,
    )


def propose(
    session: Session,
    sitting: CommissionSession,
    actor: Actor,
    now: dt.datetime | None = None,
) -> list[GroupProposal]:
    """Proposes a decision for every dossier of the agenda from the ranks and the funded
    posts of its group; a proposal the instructor adjusted is kept. Audited."""
    now = now or clock.now()
    if actor.role not in ("instructeur", "administrateur"):
        raise TransitionRefused("Proposer les décisions", ["Action réservée à l'ARS."])
    if sitting.applied_at is not None:
        raise TransitionRefused(
            "Proposer les décisions", ["Les décisions de cette séance sont déjà appliquées."]
        )
    campaign = session.get(Campaign, sitting.campaign_id)
    assert campaign is not None
    _, commission = commission_of(session, campaign)
    scores = score_summaries(session, sitting, commission)
    result: list[GroupProposal] = []
    for group in agenda(session, sitting):
        proposal = GroupProposal(group.value, group.label, group.funded_posts)

        def mean(dossier_id: int, scores: dict[int, ScoreSummary] = scores) -> float | None:
            found = scores.get(dossier_id)
            return found.mean if found else None

        rows = sorted(
            group.rows,
            key=lambda r: _order_key(
                r.assessment, r.dossier.priority, r.dossier.number, mean(r.dossier.id)
            ),
        )
        posts_left = group.funded_posts
        for row in rows:
            a = row.assessment
            if a.rank is None or a.opinion in (None, "defavorable"):
                wanted = "refuse"
            elif a.opinion == "favorable" and posts_left > 0:
                wanted = "accepte"
            else:
                wanted = "liste_complementaire"
            if wanted == "accepte":
                posts_left -= 1
            if not a.adjusted:
                a.proposal = wanted
            proposal.order.append(a)
        proposal.ties = _ties(rows, mean)
        result.append(proposal)
    session.flush()
    record_campaign_audit(
        session,
        sitting.campaign_id,
        actor,
        "proposer_decisions",
        now,
        {
            "seance": sitting.id,
            "propositions": {
                str(a.dossier_id): a.proposal for group in result for a in group.order
            },
        },
    )
    return result


def _ties(rows: list[AgendaRow], mean: Callable[[int], float | None]) -> list[str]:
    """What the proposals say of dossiers ex æquo that were settled by the tie-break."""
    notes: list[str] = []
    by_rank: dict[int, list[AgendaRow]] = {}
    for row in rows:
        if row.assessment.rank is not None and row.assessment.opinion != "defavorable":
            by_rank.setdefault(row.assessment.rank, []).append(row)
    for rank, tied in sorted(by_rank.items()):
        if len(tied) < 2:
            continue
        numbers = " et ".join(f"n° {r.dossier.number}" for r in tied)
        means = {mean(r.dossier.id) for r in tied}
        how = (
            "par la note moyenne"
            if None not in means and len(means) == len(tied)
            else "par l'ordre de priorité du déposant puis le numéro"
        )
        notes.append(f"Dossiers {numbers} ex æquo au rang {rank} : départagés {how}.")
    return notes


def adjust(
    session: Session,
    sitting: CommissionSession,
    assessment: Assessment,
    actor: Actor,
    proposal: str,
    motivation: str,
    now: dt.datetime | None = None,
) -> Assessment:
    """The instructor changes one proposal, with a motivation kept with it and audited."""
    now = now or clock.now()
    label = "Modifier la proposition"
    if actor.role not in ("instructeur", "administrateur"):
        raise TransitionRefused(label, ["Action réservée à l'ARS."])
    if sitting.applied_at is not None:
        raise TransitionRefused(label, ["Les décisions de cette séance sont déjà appliquées."])
    problems: dict[str, str] = {}
    if proposal not in PROPOSAL_LABELS:
        problems["proposal"] = "Choisissez : accepté, liste complémentaire ou refusé."
    if not motivation.strip():
        problems["motivation"] = "La motivation du changement est obligatoire."
    if problems:
        raise InvalidInput(" ".join(problems.values()), problems)
    before = assessment.proposal
    assessment.proposal = proposal
    assessment.adjusted = True
    assessment.adjustment = motivation.strip()
    assessment.updated_at = now
    session.flush()
    record_campaign_audit(
        session,
        sitting.campaign_id,
        actor,
        "ajuster_proposition",
        now,
        {
            "seance": sitting.id,
            "avant": PROPOSAL_LABELS.get(before or "", "aucune"),
            "apres": PROPOSAL_LABELS[proposal],
            "motif": motivation.strip(),
        },
        dossier_id=assessment.dossier_id,
    )
    return assessment


def motivation_of(sitting: CommissionSession, assessment: Assessment, posts: int) -> str:
    """The decision's motivation, as the déposant will read it."""
    parts = [f"{sitting.title} du {format_date(sitting.held_on)}"]
    if assessment.opinion:
        parts.append(f"avis {OPINION_LABELS[assessment.opinion].lower()}")
    if assessment.rank is not None:
        parts.append(f"rang {assessment.rank} pour {posts} poste(s) financé(s) dans le groupe")
    text = " ; ".join(parts) + "."
    if assessment.reason:
        text += f" {assessment.reason}"
    if assessment.adjusted and assessment.adjustment:
        text += f" Décision ajustée par l'ARS : {assessment.adjustment}"
    return text


@dataclass(frozen=True)
class Applied:
    accepted: int
    waiting: int
    refused: int


def apply_proposals(
    session: Session,
    sitting: CommissionSession,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Applied:
    """Applies every proposal of the session in the caller's transaction, each through
    `fire`: if one dossier cannot take its decision (it left instruction meanwhile), nothing
    is applied and the reasons say which. Audited; the session is then settled."""
    now = now or clock.now()
    label = "Appliquer les décisions proposées"
    if actor.role not in ("instructeur", "administrateur"):
        raise TransitionRefused(label, ["Action réservée à l'ARS."])
    if sitting.applied_at is not None:
        raise TransitionRefused(label, ["Les décisions de cette séance sont déjà appliquées."])
    groups = agenda(session, sitting)
    rows = [(row, group.funded_posts) for group in groups for row in group.rows]
    problems = [
        f"Dossier n° {row.dossier.number} : aucune décision proposée."
        for row, _ in rows
        if row.assessment.proposal is None
    ]
    problems += [
        f"Dossier n° {row.dossier.number} : il n'est plus en instruction."
        for row, _ in rows
        if row.dossier.state != "en_instruction"
    ]
    if not rows:
        problems.append("L'ordre du jour de la séance est vide.")
    if problems:
        raise TransitionRefused(label, problems)
    counts = {"accepte": 0, "liste_complementaire": 0, "refuse": 0}
    for row, posts in rows:
        proposal = row.assessment.proposal
        assert proposal is not None
        dossier = load_dossier(session, row.dossier.id)
        assert dossier is not None
        try:
            fire(
                session,
                dossier,
                EVENT_OF[proposal],
                actor,
                {"motivation": motivation_of(sitting, row.assessment, posts)},
                now=now,
            )
        except TransitionRefused as refused:
            raise TransitionRefused(
                label, [f"Dossier n° {dossier.number} : {' '.join(refused.reasons)}"]
            ) from refused
        counts[proposal] += 1
    sitting.applied_at = now
    session.flush()
    record_campaign_audit(
        session,
        sitting.campaign_id,
        actor,
        "appliquer_decisions",
        now,
        {"seance": sitting.id, **counts},
    )
    return Applied(counts["accepte"], counts["liste_complementaire"], counts["refuse"])


def assessment_of(session: Session, sitting: CommissionSession, dossier_id: int) -> Assessment:
    """One dossier's line of the agenda, or LookupError."""
    found = session.scalar(
        select(Assessment).where(
            Assessment.session_id == sitting.id, Assessment.dossier_id == dossier_id
        )
    )
    if found is None:
        raise LookupError(dossier_id)
    return found
