"""What an administrator changes on a campaign itself, audited like a dossier's changes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert
from sqlalchemy.orm import Session

from workflow import clock
from workflow.actors import Actor
from workflow.dates import as_utc, deadline_text, end_instant
from workflow.errors import TransitionRefused
from workflow.models import AuditEvent, Campaign

LABEL = "Modifier la date limite"


def change_deadline(
    session: Session,
    campaign: Campaign,
    deadline: dt.date | dt.datetime,
    actor: Actor,
    reason: str,
    now: dt.datetime | None = None,
) -> None:
    """Extends or shortens a campaign's deadline, with a reason kept in the audit trail.

    A day means "that day inclus" (until midnight in Paris), a date and time is Paris time.
    A deadline moved into the future reopens a closed campaign for deposits; dossiers
    already moved into instruction stay there.
    """
    now = now or clock.now()
    reasons = []
    if actor.role != "administrateur":
        reasons.append("Action réservée aux administrateurs de l'ARS.")
    if not reason.strip():
        reasons.append("Le motif est obligatoire.")
    new_at = end_instant(deadline)
    if new_at <= as_utc(campaign.opens_at):
        reasons.append("La date limite doit suivre l'ouverture de la campagne.")
    if reasons:
        raise TransitionRefused(LABEL, reasons)
    whole_day = not isinstance(deadline, dt.datetime)
    before = deadline_text(campaign.deadline_at, campaign.deadline_whole_day)
    after = deadline_text(new_at, whole_day)
    session.execute(
        insert(AuditEvent.__table__),
        {
            "dossier_id": None,
            "campaign_id": campaign.id,
            "actor_id": actor.user_id,
            "actor_label": actor.label,
            "at": now,
            "event": "modifier_date_limite",
            "from_state": None,
            "to_state": None,
            "payload": {"avant": before, "apres": after, "motif": reason.strip()},
        },
    )
    campaign.deadline_at = new_at
    campaign.deadline_whole_day = whole_day
    if new_at > now:
        campaign.closed_at = None
    session.flush()
