"""Sending the outbox over SMTP with the `emails` package: retries with backoff, bounces
recorded, never a mail for a change that rolled back (only committed rows are read).

Delivery is at least once with a stable Message-ID: a row is claimed for a few minutes
before it is sent, so two senders never take it together; if the sender dies between the
SMTP server's acceptance and the row's update, the claim expires and the same message,
with the same Message-ID, is sent again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import emails
from emails.backend.smtp import SMTPBackend
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from workflow.mail.templates import render
from workflow.models import OutboxMail
from workflow.plumbing import clock
from workflow.plumbing.db import transaction

log = logging.getLogger(__name__)

CLAIM = dt.timedelta(minutes=5)
# After 1, 2, 3... failed attempts: wait this long before the next one.
BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=15),
           dt.timedelta(hours=1), dt.timedelta(hours=4))  # fmt: skip
MAX_ATTEMPTS = 12


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    ssl: bool = False
    timeout: float = 20

    def backend_options(self) -> dict[str, object]:
        options: dict[str, object] = {"host": self.host, "port": self.port,
                                      "timeout": self.timeout}  # fmt: skip
        if self.ssl:
            options["ssl"] = True
        if self.starttls:
            options["tls"] = True
        if self.user:
            options["user"] = self.user
            options["password"] = self.password or ""
        return options


def parse_smtp_url(url: str) -> SmtpSettings:
    """`smtp://user:pass@host:587?starttls=1`, or `smtps://host:465` for implicit TLS."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"SMTP_URL must look like smtp://user:pass@host:587, not {url!r}")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    ssl = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or (465 if ssl else 25),
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=starttls,
        ssl=ssl,
        timeout=float(query.get("timeout", ["20"])[0]),
    )


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def send_pending(
    sessions: sessionmaker[Session],
    smtp: SmtpSettings,
    *,
    mail_from: str,
    base_url: str = "",
    now: dt.datetime | None = None,
    batch: int = 200,
) -> SendReport:
    """Sends the due mails of the outbox, one message per recipient, over one connection."""
    now = now or clock.now()
    report = SendReport()
    with sessions() as session:
        claimed = _claim(session, now, batch)
        if not claimed:
            return report
        with SMTPBackend(**smtp.backend_options(), fail_silently=True) as backend:
            for mail_id in claimed:
                _send_one(session, backend, mail_id, mail_from, base_url, now, report)
    return report


def _claim(session: Session, now: dt.datetime, batch: int) -> list[int]:
    """Takes due rows for a while: a concurrent sender skips them until the claim ends."""
    with transaction(session):
        due = session.scalars(
            select(OutboxMail.id)
            .where(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now)
            .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
            .limit(batch)
        ).all()
        claimed = []
        for mail_id in due:
            taken = session.execute(
                update(OutboxMail)
                .where(OutboxMail.id == mail_id, OutboxMail.status == "pending",
                       OutboxMail.next_attempt_at <= now)
                .values(next_attempt_at=now + CLAIM, attempts=OutboxMail.attempts + 1)
            ).rowcount  # fmt: skip
            if taken:
                claimed.append(mail_id)
    return claimed


def _send_one(
    session: Session,
    backend: SMTPBackend,
    mail_id: int,
    mail_from: str,
    base_url: str,
    now: dt.datetime,
    report: SendReport,
) -> None:
    with transaction(session, write=False):
        mail = session.get(OutboxMail, mail_id)
        assert mail is not None
        rendered = render(session, mail, base_url, now)
        recipient, message_id, attempts = mail.recipient, mail.message_id, mail.attempts
    message = emails.Message(
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        mail_from=mail_from,
        message_id=message_id,
    )
    response = message.send(to=recipient, smtp=backend)
    status = getattr(response, "status_code", None)
    if response is not None and response.success:
        _finish(session, mail_id, status="sent", sent_at=clock.now(), last_error=None)
        report.sent.append(mail_id)
        return
    error = _describe(response)
    permanent = status is not None and 500 <= status < 600
    if permanent or attempts >= MAX_ATTEMPTS:
        # A refused address is a bounce: it will not get better by retrying.
        log.warning("mail %s to %s failed for good: %s", mail_id, recipient, error)
        _finish(session, mail_id, status="failed", last_error=error)
        report.failed.append(mail_id)
        return
    delay = BACKOFF[min(attempts, len(BACKOFF)) - 1]
    log.info("mail %s to %s will be retried in %s: %s", mail_id, recipient, delay, error)
    _finish(session, mail_id, next_attempt_at=now + delay, last_error=error)
    report.retried.append(mail_id)


def _describe(response: object) -> str:
    if response is None:
        return "no response from the SMTP server"
    error = getattr(response, "error", None)
    status = getattr(response, "status_code", None)
    text = getattr(response, "status_text", None)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    parts = [str(part) for part in (status, text, error) if part]
    return " ".join(parts) or "unknown SMTP failure"


def _finish(session: Session, mail_id: int, **values: object) -> None:
    with transaction(session):
        session.execute(update(OutboxMail).where(OutboxMail.id == mail_id).values(**values))


def failed_mails(session: Session, campaign_id: int | None = None) -> list[OutboxMail]:
    """Mails that could not be delivered (bounces), newest first, for the instructors."""
    query = select(OutboxMail).where(OutboxMail.status == "failed")
    if campaign_id is not None:
        query = query.where(or_(OutboxMail.campaign_id == campaign_id))
    return list(session.scalars(query.order_by(OutboxMail.id.desc())))
