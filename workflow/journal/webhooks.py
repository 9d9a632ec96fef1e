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
from typing import Any

from sqlalchemy import String, cast, insert, select
from sqlalchemy.orm import Session

from workflow.models import Dossier, Webhook, WebhookDelivery
from workflow.plumbing import clock

STATE_CHANGE = "dossier.etat_change"
MESSAGE = "dossier.message"
AVIS_GIVEN = "dossier.avis_donne"

EVENTS = {
    STATE_CHANGE: "Changement d'état d'un dossier",
    MESSAGE: "Nouveau message sur un dossier",
    AVIS_GIVEN: "Avis donné sur un dossier",
}


def _listening(session: Session, campaign_id: int, event: str) -> list[int]:
    """The active webhooks of the campaign that chose `event`. The event list is JSON on
    both databases; its text holds each name in double quotes, which LIKE finds without a
    dialect's JSON operators."""
    return list(
        session.scalars(
            select(Webhook.id).where(
                Webhook.campaign_id == campaign_id,
                Webhook.active.is_(True),
                cast(Webhook.events, String).like(f'%"{event}"%'),
            )
        )
    )


def queue_webhook(
    session: Session,
    campaign_id: int,
    event: str,
    payload: dict[str, Any],
    now: dt.datetime | None = None,
) -> int:
    """Queues `event` with its `payload` for every webhook of the campaign that listens to
    it, inside the caller's transaction; returns how many deliveries were queued (0, at the
    cost of one indexed query, when nobody listens)."""
    return queue_webhooks(session, campaign_id, event, [payload], now)


def queue_webhooks(
    session: Session,
    campaign_id: int,
    event: str,
    payloads: Iterable[dict[str, Any]],
    now: dt.datetime | None = None,
) -> int:
    """`queue_webhook` for many payloads of one campaign (a campaign's closing)."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    hooks = _listening(session, campaign_id, event)
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
