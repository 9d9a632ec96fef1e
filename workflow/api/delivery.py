"""Sending the queued webhook deliveries: the scheduler's job, after the commit of the change
that queued them (`workflow.journal.webhooks`).

A batch of due rows is claimed with a token and an expiry (`claimed_by`, `claimed_until`) in
one conditional UPDATE; each send is preceded by a check that the claim is still ours, and
each outcome is written with the token in its WHERE clause: two schedulers never deliver the
same claimed row, and a sender that lost its claim (stalled past it) sends nothing more. The
intent is exactly once, the guarantee at least once: a sender that dies between the
receiver's answer and the write sends the row again after the claim expires, with the same
delivery id, which the receiver uses to handle it once.

Each POST has a timeout, follows no redirect (a 3xx is a failure), and only the first
characters of the answer are kept. 2xx is delivered; anything else is retried after 1 min,
5 min, 15 min, 1 h, 4 h, then 12 h, and marked failed after the last.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from workflow.api.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature
from workflow.api.webhooks import url_problem
from workflow.models import Webhook, WebhookDelivery
from workflow.plumbing import clock
from workflow.plumbing.db import transaction

log = logging.getLogger(__name__)

RETRY_DELAYS = [
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=15),
    dt.timedelta(hours=1),
    dt.timedelta(hours=4),
    dt.timedelta(hours=12),
]
EXCERPT = 300  # characters of the answer kept
BATCH = 50
USER_AGENT = "postes-partages-webhooks/1"


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (refused connection, timeout)
    excerpt: str


def body_of(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent, and signed, for a delivery: the same on every retry."""
    document = {
        "id": delivery.delivery_id,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """One POST, no redirect followed (http.client follows none), the answer cut short."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT * 4).decode("utf-8", "replace")[:EXCERPT]
        return Answer(response.status, excerpt)
    except (OSError, http.client.HTTPException) as error:
        return Answer(None, f"{type(error).__name__}: {error}"[:EXCERPT])
    finally:
        connection.close()


@dataclass
class WebhookSender:
    """Drains the due deliveries; one instance per scheduler process."""

    sessions: sessionmaker[Session]
    allow_loopback_http: bool = False
    timeout: float = 5.0
    claim_for: dt.timedelta = dt.timedelta(minutes=2)
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)

    def drain(self, now: dt.datetime | None = None) -> DeliveryReport:
        """Sends every delivery due at `now`, a batch at a time."""
        report = DeliveryReport()
        while True:
            ids = self._claim(now or clock.now())
            if not ids:
                return report
            for delivery_id in ids:
                self._send_one(delivery_id, report)

    def _claim(self, now: dt.datetime) -> list[int]:
        with self.sessions() as session, transaction(session):
            free = or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now)
            due = (
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    free,
                )
                .order_by(WebhookDelivery.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            ids = list(session.scalars(due))
            if not ids:
                return []
            token = uuid.uuid4().hex
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids), free)
                .values(claimed_by=f"{self.holder}:{token}", claimed_until=now + self.claim_for)
            )
            return list(
                session.scalars(
                    select(WebhookDelivery.id)
                    .where(WebhookDelivery.claimed_by == f"{self.holder}:{token}")
                    .order_by(WebhookDelivery.id)
                )
            )

    def _send_one(self, row_id: int, report: DeliveryReport) -> None:
        now = clock.now()
        with self.sessions() as session:
            delivery = session.get(WebhookDelivery, row_id)
            # The fence: a claim that expired (a stalled sender) may be someone else's now.
            if (
                delivery is None
                or delivery.claimed_by is None
                or not delivery.claimed_by.startswith(self.holder)
                or delivery.claimed_until is None
                or delivery.claimed_until <= now
                or delivery.status != "pending"
            ):
                return
            hook = session.get(Webhook, delivery.webhook_id)
            claim = delivery.claimed_by
            body = body_of(delivery)
            public_id = delivery.delivery_id
            attempts = delivery.attempts + 1
            url, secret, event = hook.url, hook.secret, delivery.event
        problem = url_problem(url, self.allow_loopback_http)
        if problem:
            answer = Answer(None, f"adresse refusée : {problem}")
        else:
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                DELIVERY_HEADER: public_id,
                EVENT_HEADER: event,
                SIGNATURE_HEADER: signature(secret, int(now.timestamp()), body),
            }
            answer = post(url, body, headers, self.timeout)
        self._record(row_id, claim, attempts, answer, report, public_id)

    def _record(
        self,
        row_id: int,
        claim: str,
        attempts: int,
        answer: Answer,
        report: DeliveryReport,
        public_id: str,
    ) -> None:
        now = clock.now()
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": answer.status,
            "last_response": answer.excerpt,
            "claimed_by": None,
            "claimed_until": None,
        }
        if answer.status is not None and 200 <= answer.status < 300:
            values.update(status="delivered", delivered_at=now)
            report.delivered.append(public_id)
        elif attempts > len(RETRY_DELAYS):
            values.update(status="failed")
            report.failed.append(public_id)
            log.warning("webhook delivery %s failed for good: %s", public_id, answer.excerpt)
        else:
            values.update(next_attempt_at=now + RETRY_DELAYS[attempts - 1])
            report.retried.append(public_id)
        with self.sessions() as session, transaction(session):
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row_id, WebhookDelivery.claimed_by == claim)
                .values(values)
            )
