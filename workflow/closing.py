"""Closing a campaign at its deadline: one set-based change for all its dossiers.

Moving 100,000 dossiers into instruction one machine firing at a time would take minutes;
this writes the same states, audit events and mails with a few statements, driven by the
event's definition in states.yaml.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from workflow import clock
from workflow.actors import SCHEDULER, Actor
from workflow.errors import WorkflowError
from workflow.machine import EventSpec, workflow
from workflow.models import AuditEvent, Campaign, Dossier, OutboxMail, User
from workflow.models.base import JSONValue, UTCDateTime
from workflow.notifications import MESSAGE_ID_DOMAIN

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
    token = uuid.uuid4().hex
    if session.get_bind().dialect.name == "postgresql":
        return _bulk_postgresql(session, spec, where, values, actor, now, token)
    return _bulk_sequential(session, spec, where, values, actor, now, token)


def _check_bulk(spec: EventSpec, actor: Actor) -> None:
    if spec.guards or len(spec.sources) != 1:
        raise WorkflowError(f"{spec.name} has guards or several sources: fire it one by one")
    if actor.role not in spec.who:
        raise WorkflowError(f"{actor.role} may not fire {spec.name}")
    missing = [name for name in spec.effects if name not in BULK_EFFECTS]
    if missing:
        raise WorkflowError(f"{spec.name}: effects without a bulk form: {', '.join(missing)}")


def _audit_rows(spec: EventSpec, actor: Actor, now: dt.datetime, moved) -> Select:  # type: ignore[no-untyped-def]
    return select(
        moved.c.id,
        moved.c.campaign_id,
        literal(actor.user_id) if actor.user_id is not None else null(),
        literal(actor.label, String),
        literal(now, UTCDateTime()),
        literal(spec.name, String),
        literal(spec.sources[0], String),
        literal(spec.dest, String),
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
OUTBOX_COLUMNS = [
    "template",
    "recipient",
    "dossier_id",
    "campaign_id",
    "context",
    "message_id",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
]


def _mail_rows(spec: EventSpec, now: dt.datetime, token: str, moved) -> list[Select]:  # type: ignore[no-untyped-def]
    """One row per mail and recipient, as notifications.recipients() would choose them."""
    selects: list[Select] = []
    for index, mail in enumerate(spec.mails):
        row = _MailRow(mail.template, f"<{token}.{index}.", now, moved)
        if mail.to in ("deposant", "partenaires"):
            joined = moved.join(users, users.c.organisation_id == moved.c.organisation_id)
            selects.append(row(users.c.email, users.c.id, joined, users.c.active.is_(True)))
        if mail.to == "partenaires":
            partner = moved.c.partner_email
            selects.append(row(partner, literal("p", String), moved, partner.is_not(None)))
        if mail.to == "contact_ars":
            joined = moved.join(campaigns, campaigns.c.id == moved.c.campaign_id)
            selects.append(row(campaigns.c.contact_email, literal("c", String), joined))
    return selects


@dataclass(frozen=True)
class _MailRow:
    """Builds the SELECT of outbox rows for one mail of the event and one kind of recipient."""

    template: str
    id_prefix: str
    now: dt.datetime
    moved: Any

    def __call__(self, recipient: ColumnElement, who: ColumnElement, from_: Any, *where: Any):  # type: ignore[no-untyped-def]
        moved = self.moved
        # Stable and unique: the closing's token, the mail, the dossier and the recipient.
        message_id = (
            literal(self.id_prefix, String)
            + cast(moved.c.id, String)
            + literal(".", String)
            + cast(who, String)
            + literal(f"@{MESSAGE_ID_DOMAIN}>", String)
        )
        instant = literal(self.now, UTCDateTime())
        return (
            select(
                literal(self.template, String),
                recipient,
                moved.c.id,
                moved.c.campaign_id,
                literal({}, JSONValue),
                message_id,
                literal("pending", String),
                literal(0),
                instant,
                instant,
            )
            .select_from(from_)
            .where(*where)
        )


def _bulk_postgresql(session, spec, where, values, actor, now, token) -> int:  # type: ignore[no-untyped-def]
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
        .from_select(AUDIT_COLUMNS, _audit_rows(spec, actor, now, moved))
        .returning(audit.c.id)
        .cte("audited")
    )
    statement = select(func.count()).select_from(moved).add_cte(audit_cte)
    mails = _mail_rows(spec, now, token, moved)
    if mails:
        mail_cte = (
            insert(outbox)
            .from_select(OUTBOX_COLUMNS, union_all(*mails) if len(mails) > 1 else mails[0])
            .returning(outbox.c.id)
            .cte("queued")
        )
        statement = statement.add_cte(mail_cte)
    return session.execute(statement).scalar_one()


def _bulk_sequential(session, spec, where, values, actor, now, token) -> int:  # type: ignore[no-untyped-def]
    """SQLite: three statements in the caller's BEGIN IMMEDIATE transaction, which no other
    writer can interleave with."""
    moving = select(dossiers).where(where).subquery("moving")
    session.execute(insert(audit).from_select(AUDIT_COLUMNS, _audit_rows(spec, actor, now, moving)))
    mails = _mail_rows(spec, now, token, moving)
    if mails:
        source = union_all(*mails) if len(mails) > 1 else mails[0]
        session.execute(insert(outbox).from_select(OUTBOX_COLUMNS, source))
    return session.execute(update(dossiers).where(where).values(values)).rowcount
