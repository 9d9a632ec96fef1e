"""Grouped publication: the decisions of a campaign become visible, and their mails leave,
all at once when an instructor publishes the results."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Subquery, insert, select, union_all, update
from sqlalchemy.orm import Session

from workflow.journal.audit import AUDIT_COLUMNS, audit_rows
from workflow.journal.outbox import OUTBOX_COLUMNS, mail_parameters, mail_rows
from workflow.machine.spec import MailSpec
from workflow.machine.states import workflow
from workflow.models import AuditEvent, Campaign, Decision, Dossier, OutboxMail
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.errors import TransitionRefused

DECISION_EVENTS = (
    "accepter",
    "refuser",
    "classer_sans_suite",
    "inscrire_liste_complementaire",
)


@dataclass(frozen=True)
class Published:
    decisions: int


def publish_results(
    session: Session, campaign: Campaign, actor: Actor, now: dt.datetime | None = None
) -> Published:
    """Publishes every decision of the campaign not yet published, inside the caller's
    transaction: the decisions, an audit event per dossier and the decision mails to both
    partner organisations, in a few set-based statements. Publishing again publishes only
    what was decided since; nothing is published twice."""
    now = now or clock.now()
    if actor.role not in ("instructeur", "administrateur"):
        raise TransitionRefused("Publier les résultats", ["Action réservée à l'ARS."])
    decisions = Decision.__table__
    dossiers = Dossier.__table__
    # Hundreds of dossiers per campaign: the ids are read once, and every statement below
    # works on exactly these, whatever is decided meanwhile.
    ids = list(
        session.scalars(
            select(dossiers.c.id)
            .join(decisions, decisions.c.dossier_id == dossiers.c.id)
            .where(dossiers.c.campaign_id == campaign.id, decisions.c.published_at.is_(None))
            .with_for_update(of=decisions)
        )
    )
    if ids:
        pending = (
            select(
                dossiers.c.id,
                dossiers.c.campaign_id,
                dossiers.c.organisation_id,
                dossiers.c.partner_email,
                dossiers.c.state,
            )
            .where(dossiers.c.id.in_(ids))
            .subquery("pending")
        )
        session.execute(
            insert(AuditEvent.__table__).from_select(
                AUDIT_COLUMNS,
                audit_rows(
                    pending, actor, now, "publier_resultats", pending.c.state, pending.c.state
                ),
            )
        )
        rows = [
            row
            for state, mails in _decision_mails().items()
            for row in mail_rows(mails, _in_state(pending, state))
        ]
        if rows:
            source = union_all(*rows) if len(rows) > 1 else rows[0]
            session.execute(
                insert(OutboxMail.__table__).from_select(OUTBOX_COLUMNS, source),
                mail_parameters(now),
            )
        session.execute(
            update(decisions)
            .where(decisions.c.dossier_id.in_(ids), decisions.c.published_at.is_(None))
            .values(published_at=now)
        )
        # A published decision changes what the dossier is: a copy read before publication
        # must not be acted upon as if it were still unpublished.
        session.execute(
            update(dossiers).where(dossiers.c.id.in_(ids)).values(version=dossiers.c.version + 1)
        )
    session.execute(
        update(Campaign.__table__)
        .where(Campaign.__table__.c.id == campaign.id)
        .values(results_published_at=now)
    )
    return Published(len(ids))


def _decision_mails() -> dict[str, list[MailSpec]]:
    """The mails the decision events hold until publication, by the state they lead to, as
    states.yaml names them."""
    found: dict[str, set[MailSpec]] = {}
    for name in DECISION_EVENTS:
        event = workflow().events[name]
        found.setdefault(event.dest, set()).update(m for m in event.mails if m.on_publication)
    return {
        state: sorted(mails, key=lambda m: (m.template, m.to)) for state, mails in found.items()
    }


def _in_state(pending: Subquery, state: str) -> Subquery:
    """The pending dossiers in one decided state, with the columns `mail_rows` reads."""
    return (
        select(
            pending.c.id, pending.c.campaign_id, pending.c.organisation_id, pending.c.partner_email
        )
        .where(pending.c.state == state)
        .subquery(f"pending_{state}")
    )
