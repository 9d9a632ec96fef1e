"""The webhook outbox: one delivery row per registered webhook that listens to an event,
written in the transaction of the change it announces (a change rolled back announces
nothing), and sent after the commit by the scheduler (`workflow.api.delivery`).

Other features call `queue_webhook(session, campaign_id, event, payload)` with one of the
event names below; the payload is the event's own JSON object (ids, numbers, states: never a
person's file or free text the receiver would not need).

- `dossier.etat_change` — a dossier changed state (`fire`, a campaign's closing): payload
  `dossier_id`, `number`, `campaign_id`, `event` (the states.yaml event), `from_state`,
  `to_state`, `version`, `at`.
- `dossier.message` — a new message on a dossier: `dossier_id`, `number`, `campaign_id`,
  `message_id`, `at`.
- `dossier.avis_donne` — an avis was given: `dossier_id`, `number`, `campaign_id`,
  `avis_id`, `avis_key`, `verdict`, `at`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import (
    Insert,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from workflow.models import Dossier, Webhook, WebhookDelivery
from workflow.models.base import JSONValue, UTCDateTime
from workflow.plumbing import clock

STATE_CHANGE = "dossier.etat_change"
MESSAGE = "dossier.message"
AVIS_GIVEN = "dossier.avis_donne"

EVENTS = {
    STATE_CHANGE: "Changement d'état d'un dossier",
    MESSAGE: "Nouveau message sur un dossier",
    AVIS_GIVEN: "Avis donné sur un dossier",
}

DELIVERY_COLUMNS = [
    "delivery_id",
    "webhook_id",
    "event",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
]


class _NewDeliveryId(FunctionElement[str]):
    """A random delivery id made by the database, one per inserted row (an INSERT ... SELECT
    has no Python call per row)."""

    type = String()
    inherit_cache = True


@compiles(_NewDeliveryId, "postgresql")
def _pg_delivery_id(element: Any, compiler: Any, **kw: Any) -> str:
    return "gen_random_uuid()::text"


@compiles(_NewDeliveryId)
def _sqlite_delivery_id(element: Any, compiler: Any, **kw: Any) -> str:
    # 128 random bits in the 8-4-4-4-12 shape of a UUID.
    parts = " || '-' || ".join(f"hex(randomblob({n}))" for n in (4, 2, 2, 2, 6))
    return f"lower({parts})"


def _listens(event: str) -> Any:
    # The event list is JSON on both databases; its text holds each name in double quotes,
    # which LIKE finds without a dialect's JSON operators. The pattern is written into the
    # SQL, not bound: SQLite prepares a statement again at each execution when a LIKE's
    # pattern is a parameter (its LIKE optimisation depends on the value), which made the
    # statement cost ten times its work.
    # The names are this module's constants (EVENTS), never a user's text: no quote to escape.
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    return cast(Webhook.events, String).like(literal_column(f"""'%"{event}"%'""", String))


def delivery_select(campaign_id: Any, event: str) -> Select:
    """The delivery rows of `event` for every active webhook of the campaign that listens to
    it (`campaign_id`: a column of a CTE, or a bind parameter), to insert with INSERT ...
    SELECT into DELIVERY_COLUMNS; its parameters are `webhook_payload` and `webhook_at`.
    `operations.fire` folds it into its single statement on PostgreSQL."""
    at = bindparam("webhook_at", type_=UTCDateTime())
    return select(
        _NewDeliveryId(),
        Webhook.id,
        literal(event, String),
        bindparam("webhook_payload", type_=JSONValue),
        literal("pending", String),
        literal(0, Integer),
        at,
        at,
    ).where(Webhook.campaign_id == campaign_id, Webhook.active.is_(True), _listens(event))


def listening_webhooks(campaign_id: Any, event: str) -> Any:
    """How many active webhooks of the campaign listen to `event` (`campaign_id`: a column
    of the enclosing statement, or a bind parameter), as a scalar subquery."""
    return (
        select(func.count())
        .select_from(Webhook)
        .where(Webhook.campaign_id == campaign_id, Webhook.active.is_(True), _listens(event))
        .scalar_subquery()
    )


def queue_webhook(
    session: Session,
    campaign_id: int,
    event: str,
    payload: dict[str, Any],
    now: dt.datetime | None = None,
) -> int:
    """Queues `event` with its `payload` for every webhook of the campaign that listens to
    it, inside the caller's transaction, in one INSERT ... SELECT; returns how many
    deliveries were queued (0 when nobody listens)."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    parameters = {
        "webhook_campaign_id": campaign_id,
        "webhook_payload": payload,
        "webhook_at": now or clock.now(),
    }
    return len(session.connection().execute(_queue_statement(event), parameters).all())


@cache
def _queue_statement(event: str) -> Insert:
    """Built once per event: building the statement and its cache key cost several times
    what SQLite spends running it (a third of a transition's time)."""
    table = WebhookDelivery.__table__
    # RETURNING counts the rows: psycopg reports no rowcount for an INSERT ... SELECT here.
    return (
        insert(table)
        .from_select(DELIVERY_COLUMNS, delivery_select(bindparam("webhook_campaign_id"), event))
        .returning(table.c.id)
    )


def queue_webhooks(
    session: Session,
    campaign_id: int,
    event: str,
    payloads: Iterable[dict[str, Any]],
    now: dt.datetime | None = None,
) -> int:
    """`queue_webhook` for many payloads of one campaign (a campaign's closing): one query
    for the listening webhooks, then one multi-row INSERT; `payloads` is read only when a
    webhook listens."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    hooks = list(
        session.scalars(
            select(Webhook.id).where(
                Webhook.campaign_id == campaign_id, Webhook.active.is_(True), _listens(event)
            )
        )
    )
    if not hooks:
        return 0
    now = now or clock.now()
    rows = [
        {
            "delivery_id": str(uuid.uuid4()),
            "webhook_id": hook,
            "event": event,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for payload in payloads
        for hook in hooks
    ]
    if rows:
        session.execute(insert(WebhookDelivery.__table__), rows)
    return len(rows)


def state_change_payload(
    dossier: Dossier | Any, event: str, from_state: str | None, to_state: str, at: dt.datetime
) -> dict[str, Any]:
    """The payload of `dossier.etat_change` (`dossier` is a Dossier or a row with the same
    attribute names)."""
    return {
        "dossier_id": dossier.id,
        "number": dossier.number,
        "campaign_id": dossier.campaign_id,
        "event": event,
        "from_state": from_state,
        "to_state": to_state,
        "version": dossier.version,
        "at": at.isoformat(),
    }
