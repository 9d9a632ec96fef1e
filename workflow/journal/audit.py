"""The audit trail: one append-only row per change of a dossier, written in the change's
transaction (database triggers refuse any UPDATE or DELETE of it).

Rows are plain INSERTs, never ORM objects: they are never read back in the transaction, and
the unit of work would double the cost of a transition.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from sqlalchemy import Integer, Select, String, bindparam, insert, literal, null, select
from sqlalchemy.orm import Session

from workflow.models import AuditEvent, Dossier
from workflow.models.base import JSONValue, UTCDateTime


class Author(Protocol):
    """Who made a change, as the trail records it (a person, the scheduler, a token)."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def label(self) -> str: ...


def record_audit(
    session: Session,
    dossier: Dossier,
    actor: Author,
    event: str,
    from_state: str | None,
    now: dt.datetime,
    payload: dict[str, Any],
) -> None:
    """Appends the audit event. A plain INSERT, not an ORM object: audit rows are never read
    back in the transaction, and the unit of work would double the cost of a transition."""
    session.connection().execute(
        _INSERT,
        {
            "dossier_id": dossier.id,
            "campaign_id": dossier.campaign_id,
            "actor_id": actor.user_id,
            "actor_label": actor.label,
            "at": now,
            "event": event,
            "from_state": from_state,
            "to_state": dossier.state,
            "payload": _jsonable(payload),
        },
    )


def record_campaign_audit(
    session: Session,
    campaign_id: int,
    actor: Author,
    event: str,
    now: dt.datetime,
    payload: dict[str, Any],
    dossier_id: int | None = None,
) -> None:
    """Appends an audit event of a campaign (a file loaded, a date moved, an instructeur
    following it, the commission's work, a purge), of one of its dossiers where `dossier_id`
    names one, but no change of state; in the caller's transaction."""
    session.connection().execute(
        _INSERT,
        {
            "dossier_id": dossier_id,
            "campaign_id": campaign_id,
            "actor_id": actor.user_id,
            "actor_label": actor.label,
            "at": now,
            "event": event,
            "from_state": None,
            "to_state": None,
            "payload": _jsonable(payload),
        },
    )


def audit_parameters(
    actor: Author,
    event: str,
    from_state: str | None,
    to_state: str,
    now: dt.datetime,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The values of `audit_select`'s statement for one change."""
    return {
        "audit_actor_id": actor.user_id,
        "audit_actor_label": actor.label,
        "audit_at": now,
        "audit_event": event,
        "audit_from_state": from_state,
        "audit_to_state": to_state,
        "audit_payload": _jsonable(payload),
    }


def audit_select(dossiers: Any) -> Select:
    """The audit event of each row of `dossiers` (a CTE with id and campaign_id) with the
    values of `audit_parameters`, to insert with INSERT ... SELECT into AUDIT_COLUMNS in the
    statement that makes the change."""
    return select(
        dossiers.c.id,
        dossiers.c.campaign_id,
        bindparam("audit_actor_id", type_=Integer),
        bindparam("audit_actor_label", type_=String),
        bindparam("audit_at", type_=UTCDateTime()),
        bindparam("audit_event", type_=String),
        bindparam("audit_from_state", type_=String),
        bindparam("audit_to_state", type_=String),
        bindparam("audit_payload", type_=JSONValue),
    )


# Built once: a statement keeps its cache key, which costs more to compute than the INSERT.
_INSERT = insert(AuditEvent.__table__)


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, dt.date) else value
        for key, value in payload.items()
    }


def audit_rows(
    dossiers: Any, actor: Author, now: dt.datetime, event: str, from_state: Any, to_state: Any
) -> Select:
    """The audit events of a set-based change, one per row of `dossiers` (a subquery or
    CTE with id and campaign_id), to insert with INSERT ... SELECT into AUDIT_COLUMNS.
    `from_state` and `to_state` are state names or columns of `dossiers`."""

    def state(value: Any) -> Any:
        return literal(value, String) if isinstance(value, str) else value

    return select(
        dossiers.c.id,
        dossiers.c.campaign_id,
        literal(actor.user_id) if actor.user_id is not None else null(),
        literal(actor.label, String),
        literal(now, UTCDateTime()),
        literal(event, String),
        state(from_state),
        state(to_state),
        literal({"bulk": True}, JSONValue),
    )


AUDIT_COLUMNS = [
    "dossier_id",
    "campaign_id",
    "actor_id",
    "actor_label",
    "at",
    "event",
    "from_state",
    "to_state",
    "payload",
]
