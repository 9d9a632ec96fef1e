"""The decision letter of a dossier: the ARS letterhead (the campaign's agency, department
and contacts), the addressees (the organisation that deposited and its partner), the
dossier's summary, the outcome, the motivation and the dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from workflow.campaigns.per_dossier import confirmation_window_of, start_date_of
from workflow.campaigns.store import definition_of
from workflow.documents.archive import archive, archived
from workflow.documents.pdf import render_pdf
from workflow.journal.audit import Author
from workflow.models import ArchivedDocument, Dossier
from workflow.plumbing.dates import paris_date
from workflow.plumbing.errors import InvalidInput
from workflow.plumbing.storage import FileStore

KIND = "lettre_decision"

# The outcomes as the déposant's « Décision » tab words them.
OUTCOMES = {
    "accepte": "Accepté — avis favorable",
    "refuse": "Refusé — avis défavorable",
    "sans_suite": "Classé sans suite",
    "liste_complementaire": "Inscrit sur la liste complémentaire",
}


@dataclass(frozen=True)
class Letterhead:
    agency: str
    department: str | None
    contact_lines: tuple[str, ...]


@dataclass(frozen=True)
class Letter:
    """What a decision letter says; `decision_id` names the decision it was written for."""

    decision_id: int
    head: Letterhead
    campaign_title: str
    number: int
    organisation: str
    partner: str | None
    speciality: str | None
    candidate: str | None
    kind: str
    outcome: str
    motivation: str
    deposited: dt.date
    decided: dt.date
    # Assumption: the seeds reproduce no letter; it is dated the day of the decision, which
    # never changes, so a letter generated again later reads the same.
    dated: dt.date
    confirmation: tuple[dt.date, dt.date] | None
    start_date: dt.date | None

    @property
    def filename(self) -> str:
        return f"decision-dossier-{self.number}.pdf"


def letter_of(session: Session, dossier: Dossier) -> Letter:
    """The letter of the dossier's current decision; InvalidInput if it has none."""
    decision = dossier.decision
    if decision is None or dossier.number is None or dossier.deposited_at is None:
        raise InvalidInput("Ce dossier n'a pas de décision : il n'y a pas de lettre à produire.")
    campaign = dossier.campaign
    definition = definition_of(session, dossier.campaign_version_id)
    contacts = []
    for contact in definition.contacts:
        parts = [contact.note or "Contact", contact.name, contact.email, contact.phone]
        contacts.append(" — ".join(p for p in parts if p))
    # The dossier's own window and start date (a May 2027 start confirms in April 2027), and
    # none where the campaign ends at the decision (AUMG), as the decision mail says.
    window = confirmation_window_of(dossier, definition) if decision.kind == "accepte" else None
    decided = paris_date(decision.decided_at)
    return Letter(
        decision_id=decision.id,
        head=Letterhead(definition.agency, definition.department, tuple(contacts)),
        campaign_title=campaign.title,
        number=dossier.number,
        organisation=dossier.organisation.name,
        partner=dossier.partner_name,
        speciality=dossier.speciality,
        candidate=dossier.candidate_name,
        kind=decision.kind,
        outcome=OUTCOMES[decision.kind],
        motivation=decision.motivation,
        deposited=paris_date(dossier.deposited_at),
        decided=decided,
        dated=decided,
        confirmation=window,
        start_date=start_date_of(dossier, definition)
        if window and "prise_de_poste" in definition.post_decision
        else None,
    )


def render_letter(letter: Letter) -> bytes:
    """The letter as a PDF."""
    return render_pdf("lettre_decision.html", letter=letter)


def letter_document(
    session: Session, storage: FileStore, dossier: Dossier, actor: Author, now: dt.datetime
) -> ArchivedDocument:
    """The archived letter of the dossier's current decision: generated, stored and recorded
    in the audit trail the first time it is sent or downloaded, the same bytes afterwards.
    Call inside a write transaction; InvalidInput if the dossier has no decision."""
    decision = dossier.decision
    if decision is None:
        raise InvalidInput("Ce dossier n'a pas de décision : il n'y a pas de lettre à produire.")
    # The outcome is part of the reference: a decision on the liste complémentaire becomes
    # an acceptance or a refusal in place (same row), and each outcome has its own letter.
    reference = f"decision:{decision.id}:{decision.kind}"
    found = archived(session, KIND, reference)
    if found is not None:
        return found
    letter = letter_of(session, dossier)
    return archive(
        session,
        storage,
        kind=KIND,
        reference=reference,
        campaign_id=dossier.campaign_id,
        dossier_id=dossier.id,
        filename=letter.filename,
        data=render_letter(letter),
        actor=actor,
        now=now,
    )
