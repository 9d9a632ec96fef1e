"""Guards named in states.yaml. A guard returns the French reasons it refuses, or nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.campaigns.after_decision import STEP_LABELS
from workflow.campaigns.avis_required import missing_avis_of
from workflow.campaigns.candidates import candidate_key
from workflow.campaigns.completeness import completeness
from workflow.campaigns.per_dossier import confirmation_window_of, start_date_of
from workflow.campaigns.schema import Campaign as Definition
from workflow.machine.firing import Firing
from workflow.models import Campaign, Dossier
from workflow.plumbing.dates import (
    as_utc,
    deadline_text,
    format_date,
    format_instant,
    paris_date,
)

Guard = Callable[[Firing], str | Iterable[str] | None]
REGISTRY: dict[str, Guard] = {}


def guard(name: str) -> Callable[[Guard], Guard]:
    """Registers a guard under the name states.yaml uses."""

    def register(function: Guard) -> Guard:
        REGISTRY[name] = function
        return function

    return register


def campaign_open_reason(campaign: Campaign, now: dt.datetime) -> str | None:
    """Why a campaign takes no deposit or change now, or None while it is open."""
    if now < as_utc(campaign.opens_at):
        return f"La campagne n'ouvre que le {format_instant(campaign.opens_at)}."
    if now >= as_utc(campaign.deadline_at) or campaign.closed_at is not None:
        return (
            "La date limite de dépôt est passée : les dossiers étaient acceptés "
            f"{deadline_text(campaign.deadline_at, campaign.deadline_whole_day)}."
        )
    return None


NOT_YOURS = "Ce dossier n'appartient pas à votre organisation."


@guard("owner")
def owner(f: Firing) -> str | None:
    """The déposant acts on a dossier of its own organisation."""
    return None if f.actor.owns(f.dossier.organisation_id) else NOT_YOURS


@guard("campaign_open")
def campaign_open(f: Firing) -> str | None:
    """The campaign is open: after its opening, before its deadline, not closed."""
    return campaign_open_reason(f.campaign, f.now)


@guard("dossier_complete")
def dossier_complete(f: Firing) -> list[str]:
    """Every required field valid, every rule held, every piece and box there, every
    required avis the déposant collects given."""
    report = completeness(
        f.definition,
        f.dossier.values or {},
        pieces=[a.piece_key for a in f.dossier.attachments],
        attestations=f.dossier.attestations or [],
        consent=f.dossier.consent,
    )
    # « impérativement »: the avis and signatures the déposant collects come before deposit.
    report.problems += missing_avis_of(f.session, f.definition, f.dossier.id)
    duplicate = same_candidate_reason(f.session, f.dossier, f.definition)
    if report.complete:
        return [duplicate] if duplicate else []
    return ["Le dossier est incomplet :", *report.messages(), *([duplicate] if duplicate else [])]


# The dossiers that hold a candidate's place in a campaign. A brouillon does not: it is the
# organisation's private draft, may never be deposited, and an instructor cannot see it. A
# refused, classé sans suite or désisté dossier does not either: it is over, and the
# candidate may be proposed again by another project.
HOLDS_THE_CANDIDATE = (
    "en_construction",
    "en_instruction",
    "accepte",
    "confirme",
    "en_poste",
    "liste_complementaire",
)


def same_candidate_reason(session: Session, dossier: Dossier, definition: Definition) -> str | None:
    """Why the dossier cannot be deposited while another dossier of the campaign, deposited
    and still alive, names the same candidate (« Un dossier par candidat »), or None. The
    message names the rule, never the other dossier nor its organisation."""
    identity = definition.candidate
    if identity is None or identity.one_dossier is None:
        return None
    # From the values themselves: a dossier saved before the key existed has none stored.
    key = candidate_key(definition, dossier.values or {})
    if key is None:
        return None
    others = session.scalar(
        select(func.count(Dossier.id)).where(
            Dossier.campaign_id == dossier.campaign_id,
            Dossier.candidate_key == key,
            Dossier.id != dossier.id,
            Dossier.state.in_(HOLDS_THE_CANDIDATE),
        )
    )
    if not others:
        return None
    by_rpps = key.startswith("rpps:")
    how = "même n° RPPS" if by_rpps else "mêmes nom et date de naissance"
    return (
        f"{identity.one_dossier.strip()} Un dossier déposé dans cette campagne porte déjà sur ce "
        f"candidat ({how}) : un second dossier ne peut pas être déposé."
    )


def _text(f: Firing, key: str) -> str:
    value = f.payload.get(key)
    return value.strip() if isinstance(value, str) else ""


@guard("message_required")
def message_required(f: Firing) -> str | None:
    """Corrections come with a message saying what to correct."""
    if not _text(f, "message"):
        return "Un message précisant les corrections attendues est obligatoire."
    return None


@guard("due_date_in_future")
def due_date_in_future(f: Firing) -> str | None:
    """Corrections come with a due date that is not past."""
    due = f.payload.get("due_date")
    if not isinstance(due, dt.date):
        return "La date limite des corrections est obligatoire."
    if due < f.today:
        return f"La date limite des corrections ({format_date(due)}) est déjà passée."
    return None


@guard("corrections_open")
def corrections_open(f: Firing) -> str | None:
    """The ARS asked for corrections and they are not settled yet: only then is there
    something to transmit (a dossier deposited and never sent back waits for the deadline)."""
    if f.dossier.corrections_due_at is None:
        return "Aucune correction n'est demandée sur ce dossier : il n'y a rien à transmettre."
    return None


@guard("motivation_required")
def motivation_required(f: Firing) -> str | None:
    """A decision is motivated."""
    if not _text(f, "motivation"):
        return "La motivation de la décision est obligatoire."
    return None


@guard("reason_required")
def reason_required(f: Firing) -> str | None:
    """Taking a decision back, or giving up a post, comes with a reason."""
    if not _text(f, "reason"):
        return "Le motif est obligatoire."
    return None


@guard("results_not_published")
def results_not_published(f: Firing) -> str | None:
    """A decision can be taken back only before the results are published."""
    decision = f.dossier.decision
    if decision is not None and decision.published_at is not None:
        when = format_instant(decision.published_at)
        return f"Les résultats ont été publiés le {when} : la décision ne peut plus être reprise."
    return None


@guard("results_published")
def results_published(f: Firing) -> str | None:
    """The déposant acts on a decision only once it is published."""
    decision = f.dossier.decision
    if decision is None or decision.published_at is None:
        return "La décision n'est pas encore publiée."
    return None


# Assumption: the seeds give one maintien window per campaign (« du 1er au 31 octobre »); a
# dossier promoted from the liste complémentaire once the window has begun has 15 days from
# its promotion to confirm.
PROMOTED_CONFIRMATION_DAYS = 15


def confirmation_end(dossier: Dossier, definition: Definition) -> dt.date | None:
    """The last day the dossier's maintien may be confirmed: the end of its own window
    (`confirmation_window_of`, which follows its start date), or later for a dossier accepted
    after the window opened (promoted from the liste complémentaire); None without a window."""
    window = confirmation_window_of(dossier, definition)
    if window is None:
        return None
    start, end = window
    decision = dossier.decision
    if decision is None:
        return end
    decided_on = paris_date(as_utc(decision.decided_at))
    if decided_on < start:
        return end
    return max(end, decided_on + dt.timedelta(days=PROMOTED_CONFIRMATION_DAYS))


@guard("confirmation_window")
def confirmation_window(f: Firing) -> str | None:
    """The maintien is confirmed inside the dossier's window (e.g. October before a
    2 November start), which follows the dossier's own start date; a dossier promoted from
    the liste complémentaire after it opened has PROMOTED_CONFIRMATION_DAYS more."""
    window = confirmation_window_of(f.dossier, f.definition)
    end = confirmation_end(f.dossier, f.definition)
    if window is None or end is None:
        return None
    start = window[0]
    if not start <= f.today <= end:
        return (
            "La confirmation du maintien du projet de recrutement est ouverte "
            f"du {format_date(start)} au {format_date(end)}."
        )
    return None


@guard("start_date_reached")
def start_date_reached(f: Firing) -> list[str]:
    """The prise de poste is confirmed from the dossier's start date, with its actual date."""
    reasons: list[str] = []
    first = start_date_of(f.dossier, f.definition)
    if first is not None and f.today < first:
        reasons.append(f"La prise de poste se confirme à partir du {format_date(first)}.")
    actual = f.payload.get("start_date")
    if not isinstance(actual, dt.date):
        reasons.append("La date effective de prise de poste est obligatoire.")
    elif actual > f.today:
        reasons.append("La date effective de prise de poste ne peut pas être dans le futur.")
    elif first is not None and actual < first:
        reasons.append(
            f"La date effective de prise de poste ne peut précéder le {format_date(first)}."
        )
    return reasons


# The events that are a step after the decision, by the name a campaign's `post_decision`
# gives the step.
POST_DECISION_EVENTS = {
    "confirmer_maintien": "maintien",
    "confirmer_prise_de_poste": "prise_de_poste",
}


def step_missing_reason(event: str, definition: Definition) -> str | None:
    """Why the campaign has no such step after its decision (the AUMG manual ends at the
    decision), or None when it has it or the event is not such a step."""
    step = POST_DECISION_EVENTS.get(event)
    if step is None or step in definition.post_decision:
        return None
    return (
        f"Cette campagne ne prévoit pas {STEP_LABELS[step]} : "
        "le dossier s'arrête à la décision de l'ARS."
    )


@guard("campaign_step")
def campaign_step(f: Firing) -> str | None:
    """The campaign lists this step after its decision (`post_decision`)."""
    return step_missing_reason(f.spec.name, f.definition)
