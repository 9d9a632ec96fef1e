"""Closing a campaign at its deadline: one set-based change for all its dossiers.

Moving 100,000 dossiers into instruction one machine firing at a time would take minutes;
this writes the same states, audit events and mails with a few statements, driven by the
event's definition in states.yaml.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from workflow.journal.audit import AUDIT_COLUMNS, audit_rows
from workflow.journal.outbox import OUTBOX_COLUMNS, mail_parameters, mail_rows
from workflow.journal.webhooks import STATE_CHANGE, queue_webhooks, state_change_payload
from workflow.machine.spec import EventSpec
from workflow.machine.states import workflow
from workflow.models import AuditEvent, Campaign, Dossier, OutboxMail, User
from workflow.people.actors import SCHEDULER, Actor
from workflow.plumbing import clock
from workflow.plumbing.errors import WorkflowError

CLOSING_EVENT = "passer_en_instruction"

# Effects that have a set-based form: the column values they write.
BULK_EFFECTS: dict[str, dict[str, object]] = {
    "clear_corrections": {"corrections_message": None, "corrections_due_at": None},
}

dossiers = Dossier.__table__
users = User.__table__
campaigns = Campaign.__table__
audit = AuditEvent.__table__
outbox = OutboxMail.__table__


@dataclass(frozen=True)
class Closed:
    closed_now: bool
    moved: int


def close_campaign(
    session: Session, campaign_id: int, now: dt.datetime | None = None, actor: Actor = SCHEDULER
) -> Closed:
    """Closes a campaign whose deadline has passed, inside the caller's transaction.

    Idempotent and safe when two schedulers race: only the transaction that flips
    `closed_at` from NULL moves the dossiers; the other finds it set and does nothing.
    """
    now = now or clock.now()
    flipped = session.execute(
        update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.closed_at.is_(None),
            campaigns.c.deadline_at <= now,
        )
        .values(closed_at=now)
    ).rowcount
    if flipped != 1:
        return Closed(False, 0)
    moves = session.scalar(
        select(campaigns.c.moves_to_instruction).where(campaigns.c.id == campaign_id)
    )
    if not moves:
        return Closed(True, 0)
    moved = fire_in_bulk(session, campaign_id, CLOSING_EVENT, actor, now)
    return Closed(True, moved)


def due_campaign_ids(session: Session, now: dt.datetime | None = None) -> list[int]:
    """Campaigns whose deadline has passed and that are not closed yet."""
    now = now or clock.now()
    return list(
        session.scalars(
            select(Campaign.id).where(Campaign.closed_at.is_(None), Campaign.deadline_at <= now)
        )
    )


def fire_in_bulk(
    session: Session, campaign_id: int, event: str, actor: Actor, now: dt.datetime
) -> int:
    """Fires a guard-free event on every dossier of the campaign in its source state; writes
    the audit events and queues the mails like `operations.fire` does. Returns the count."""
    spec = workflow().events[event]
    _check_bulk(spec, actor)
    (source,) = spec.sources
    where = and_(dossiers.c.campaign_id == campaign_id, dossiers.c.state == source)
    values: dict[str, object] = {
        "state": spec.dest,
        "version": dossiers.c.version + 1,
        "updated_at": now,
    }
    for name in spec.effects:
        values.update(BULK_EFFECTS[name])
    if session.get_bind().dialect.name == "postgresql":
        moved = _bulk_postgresql(session, spec, where, values, actor, now)
    else:
        moved = _bulk_sequential(session, spec, where, values, actor, now)
    if moved:
        payloads = _moved(session, campaign_id, spec, now)
        queue_webhooks(session, campaign_id, STATE_CHANGE, payloads, now)
    return moved


def _moved(
    session: Session, campaign_id: int, spec: EventSpec, now: dt.datetime
) -> Iterator[dict[str, Any]]:
    """The payloads of the dossiers this bulk change moved, found by the audit events it
    wrote (read only when a webhook listens: the generator runs only then)."""
    rows = session.execute(
        select(dossiers.c.id, dossiers.c.number, dossiers.c.campaign_id, dossiers.c.version)
        .join(audit, audit.c.dossier_id == dossiers.c.id)
        .where(audit.c.campaign_id == campaign_id, audit.c.event == spec.name, audit.c.at == now)
    )
    for row in rows:
        yield state_change_payload(row, spec.name, spec.sources[0], spec.dest, now)


def _check_bulk(spec: EventSpec, actor: Actor) -> None:
    if spec.guards or len(spec.sources) != 1:
        raise WorkflowError(f"{spec.name} has guards or several sources: fire it one by one")
    if actor.role not in spec.who:
        raise WorkflowError(f"{actor.role} may not fire {spec.name}")
    missing = [name for name in spec.effects if name not in BULK_EFFECTS]
    if missing:
        raise WorkflowError(f"{spec.name}: effects without a bulk form: {', '.join(missing)}")


def _bulk_postgresql(
    session: Session,
    spec: EventSpec,
    where: ColumnElement[bool],
    values: dict[str, object],
    actor: Actor,
    now: dt.datetime,
) -> int:
    """One statement: UPDATE ... RETURNING feeds both INSERTs, so no row can change state
    between the update and its audit event (PostgreSQL's writable CTEs)."""
    moved = (
        update(dossiers)
        .where(where)
        .values(values)
        .returning(
            dossiers.c.id,
            dossiers.c.campaign_id,
            dossiers.c.organisation_id,
            dossiers.c.partner_email,
        )
        .cte("moved")
    )
    audit_cte = (
        insert(audit)
        .from_select(
            AUDIT_COLUMNS, audit_rows(moved, actor, now, spec.name, spec.sources[0], spec.dest)
        )
        .returning(audit.c.id)
        .cte("audited")
    )
    statement = select(func.count()).select_from(moved).add_cte(audit_cte)
    mails = mail_rows(spec.mails, moved)
    if mails:
        mail_cte = (
            insert(outbox)
            .from_select(OUTBOX_COLUMNS, union_all(*mails) if len(mails) > 1 else mails[0])
            .returning(outbox.c.id)
            .cte("queued")
        )
        statement = statement.add_cte(mail_cte)
    return session.execute(statement, mail_parameters(now)).scalar_one()


def _bulk_sequential(
    session: Session,
    spec: EventSpec,
    where: ColumnElement[bool],
    values: dict[str, object],
    actor: Actor,
    now: dt.datetime,
) -> int:
    """SQLite: three statements in the caller's BEGIN IMMEDIATE transaction, which no other
    writer can interleave with. The moving rows are read with the four columns the audit
    events and mails need: a subquery of whole rows makes SQLite carry every dossier's
    form values through the mails' join (2 to 3 times slower)."""
    moving = (
        select(
            dossiers.c.id,
            dossiers.c.campaign_id,
            dossiers.c.organisation_id,
            dossiers.c.partner_email,
        )
        .where(where)
        .subquery("moving")
    )
    session.execute(
        insert(audit).from_select(
            AUDIT_COLUMNS, audit_rows(moving, actor, now, spec.name, spec.sources[0], spec.dest)
        )
    )
    mails = mail_rows(spec.mails, moving)
    if mails:
        source = union_all(*mails) if len(mails) > 1 else mails[0]
        session.execute(insert(outbox).from_select(OUTBOX_COLUMNS, source), mail_parameters(now))
    return session.execute(update(dossiers).where(where).values(values)).rowcount
