"""Effects named in states.yaml: what a transition changes besides the state."""

from __future__ import annotations

from collections.abc import Callable

from workflow.journal import outbox
from workflow.machine.firing import Firing
from workflow.machine.numbering import next_dossier_number
from workflow.models import Decision, Message
from workflow.plumbing.dates import end_instant

Effect = Callable[[Firing], None]
REGISTRY: dict[str, Effect] = {}


def effect(name: str) -> Callable[[Effect], Effect]:
    """Registers an effect under the name states.yaml uses."""

    def register(function: Effect) -> Effect:
        REGISTRY[name] = function
        return function

    return register


@effect("assign_number")
def assign_number(f: Firing) -> None:
    """The number the manuals' accusé de réception quotes ("Votre dossier n° 57707")."""
    if f.dossier.number is None:
        f.dossier.number = next_dossier_number(f.session)
    f.dossier.deposited_at = f.now


@effect("clear_corrections")
def clear_corrections(f: Firing) -> None:
    """Back in instruction, the corrections asked are settled."""
    f.dossier.corrections_message = None
    f.dossier.corrections_due_at = None


@effect("open_corrections")
def open_corrections(f: Firing) -> None:
    """The déposant may edit again until the end of the due day, even past the deadline."""
    f.dossier.corrections_message = f.payload["message"].strip()
    f.dossier.corrections_due_at = end_instant(f.payload["due_date"])
    f.dossier.corrections_transmitted_at = None
    # The request is also the ARS's message in the dossier's messagerie, where the déposant
    # answers it (its mail is demande_corrections: no second mail for the message).
    f.session.add(
        Message(
            dossier_id=f.dossier.id,
            author_id=f.actor.user_id,
            author_label=f.actor.label,
            side="ars",
            kind="corrections",
            body=f.dossier.corrections_message,
            created_at=f.now,
        )
    )


@effect("record_corrections_transmitted")
def record_corrections_transmitted(f: Firing) -> None:
    """The déposant says the corrections are made: the dashboard shows « corrections
    transmises » until the next request or decision."""
    f.dossier.corrections_transmitted_at = f.now


@effect("record_decision")
def record_decision(f: Firing) -> None:
    """Stores the decision; published at once unless the campaign groups results."""
    immediate = f.campaign.publication == "immediate"
    f.dossier.corrections_transmitted_at = None
    f.dossier.decision = Decision(
        kind=f.spec.dest,
        motivation=f.payload["motivation"].strip(),
        author_id=f.actor.user_id,
        decided_at=f.now,
        published_at=f.now if immediate else None,
    )


@effect("amend_decision")
def amend_decision(f: Firing) -> None:
    """A dossier leaves the liste complémentaire (promoted or refused at its end): its
    published decision becomes the new outcome, published at once, with the new motivation;
    the audit trail keeps the waiting-list decision it replaces."""
    decision = f.dossier.decision
    if decision is None:  # Cannot happen through the machine: the state has its decision.
        record_decision(f)
        return
    decision.kind = f.spec.dest
    decision.motivation = f.payload["motivation"].strip()
    decision.author_id = f.actor.user_id
    decision.decided_at = f.now
    decision.published_at = decision.published_at or f.now


@effect("withdraw_decision")
def withdraw_decision(f: Firing) -> None:
    """The audit trail keeps the withdrawn decision; the dossier no longer has one."""
    f.dossier.decision = None


@effect("record_start_date")
def record_start_date(f: Firing) -> None:
    """Keeps the actual start date the déposant gives."""
    f.dossier.actual_start_date = f.payload["start_date"]


@effect("invite_partner_cosignature")
def invite_partner_cosignature(f: Firing) -> None:
    """Where the campaign asks the partner to co-sign (Normandie ASR: the CHU's Direction des
    Affaires Médicales), the deposit mails the partner its personal link (signed when the
    mail leaves, `mail.templates`). The deposit never waits for the co-signature."""
    if f.definition.cosignature is not None and f.dossier.partner_email:
        partner = [f.dossier.partner_email]
        outbox.queue(f.session, "invitation_cosignature", partner, dossier=f.dossier, now=f.now)
