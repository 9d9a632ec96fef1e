"""The commission's changes in the audit trail: each opinion, rank, score, proposal and
setting is an audit event of its campaign (and of the dossier when it names one)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from workflow.journal.audit import Author
from workflow.models import AuditEvent


def audit(
    session: Session,
    campaign_id: int,
    actor: Author,
    event: str,
    now: dt.datetime,
    payload: dict[str, Any],
    dossier_id: int | None = None,
) -> None:
    """Appends one audit event of the commission, in the caller's transaction."""
    session.execute(
        insert(AuditEvent.__table__),
        {
            "dossier_id": dossier_id,
            "campaign_id": campaign_id,
            "actor_id": actor.user_id,
            "actor_label": actor.label,
            "at": now,
            "event": event,
            "from_state": None,
            "to_state": None,
            "payload": payload,
        },
    )
