"""Sending the outbox over SMTP (`smtp.SmtpConnection`, one connection per batch, messages
written by `message.build_message`): retries with backoff, bounces recorded, never a mail
for a change that rolled back (only committed rows are read).

Claims. A sender takes up to `batch` due rows at once: in one statement it pushes their
`next_attempt_at` to `now + CLAIM` and counts one more attempt. That `next_attempt_at` value
is the batch's fencing token (with each row's `attempts`): a row can only be claimed again
once it is due, so a later claim always writes a later instant. Every statement that ends
a claim — sent, retried, failed, released — repeats the token in its WHERE clause and
checks its row count, so a sender that lost its claim writes nothing over the new owner's.
Before each chunk of mails the sender checks in the database that it still holds the rows,
and before each mail that its claim has not run out by the real clock (minus a margin for
one SMTP exchange): a sender stalled past its claim — swapped out, stopped, stuck on a
network call — sends nothing more when it resumes; the rows are the new owner's.

Delivery is at least once with a stable Message-ID. Duplicates remain possible in one case
only: the sender dies (or stalls past its claim) after the SMTP server accepted a message
and before the row is marked sent. Sent rows are marked per chunk of a few dozen mails, so
that window is a fraction of a second; the claim then runs out and the same message, with
the same Message-ID, is sent again after 5 minutes.

A server that does not answer costs one timeout, not one per mail: a connection failure or
a timeout ends the batch at once and puts its other rows back, due now and without counting
the attempt, and the circuit breaker keeps every sender of the process off the server for
30 s, then 1 min, then 5 min, letting one mail through to probe it after each period.
A 4xx answer is retried with backoff; a 5xx answer is a bounce.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from workflow.documents.attachments import Attached, attachments_of
from workflow.mail.message import build_message, envelope_address
from workflow.mail.smtp import Outcome, SmtpConnection, SmtpSettings, parse_smtp_url
from workflow.mail.templates import load_for_rendering, render
from workflow.models import OutboxMail
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import FileStore
from workflow.plumbing.storage_url import environment_storage

# Callers and tests read the SMTP settings from here, where they were first defined.
__all__ = ["SmtpSettings", "parse_smtp_url"]

log = logging.getLogger(__name__)

CLAIM = dt.timedelta(minutes=5)
# After 1, 2, 3... failed attempts: wait this long before the next one.
BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=15),
           dt.timedelta(hours=1), dt.timedelta(hours=4))  # fmt: skip
MAX_ATTEMPTS = 12
# How long the breaker stays open after 1, 2, 3... failures in a row.
BREAKER_PERIODS = (dt.timedelta(seconds=30), dt.timedelta(minutes=1), dt.timedelta(minutes=5))
# Sent rows are marked, and the claim checked in the database, every CHUNK mails.
CHUNK = 50


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    # Put back due, not counted as an attempt: the server could not be reached.
    released: list[int] = field(default_factory=list)
    # Claimed by this sender, then taken over by another one: left alone.
    lost: list[int] = field(default_factory=list)
    claimed: int = 0
    breaker_open: bool = False

    def add(self, other: SendReport) -> None:
        """Adds another report's rows to this one (parallel batches of one drain)."""
        for name in ("sent", "retried", "failed", "released", "lost"):
            getattr(self, name).extend(getattr(other, name))
        self.claimed += other.claimed
        self.breaker_open = self.breaker_open or other.breaker_open


class Breaker:
    """The circuit breaker shared by the senders of one process: closed while the SMTP
    server answers; open for a period after a connection failure or timeout (longer after
    each failure in a row); then half-open, letting a single probe mail through."""

    def __init__(self, periods: tuple[dt.timedelta, ...] = BREAKER_PERIODS) -> None:
        self.periods = periods
        self.failures = 0
        self.open_until: dt.datetime | None = None
        self.probing = False
        self._lock = threading.Lock()

    def permit(self, now: dt.datetime) -> str:
        """Returns "closed" (send freely), "probe" (one mail may test the server) or "open"."""
        with self._lock:
            if self.open_until is None:
                return "closed"
            if now < self.open_until or self.probing:
                return "open"
            self.probing = True
            return "probe"

    def is_open(self, now: dt.datetime) -> bool:
        """True during an open period (a batch already sending stops there)."""
        with self._lock:
            return self.open_until is not None and now < self.open_until

    def end_probe(self) -> None:
        """Gives a probe permission back when the batch sent nothing to test the server."""
        with self._lock:
            self.probing = False

    def succeeded(self) -> None:
        """The server answered: close the breaker."""
        with self._lock:
            self.failures, self.open_until, self.probing = 0, None, False

    def failed(self, now: dt.datetime) -> None:
        """The server could not be reached or timed out: open for the next period."""
        with self._lock:
            self.failures += 1
            period = self.periods[min(self.failures, len(self.periods)) - 1]
            self.open_until, self.probing = now + period, False
            log.warning("SMTP circuit breaker open until %s", self.open_until.isoformat())


class RateLimiter:
    """At most `per_second` mails a second over all the senders of a process (providers
    throttle); `None` for no limit. The clock and the sleep are injected for tests."""

    def __init__(
        self,
        per_second: float | None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1 / per_second if per_second else 0.0
        self.monotonic, self.sleep = monotonic, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Returns when the next mail may go."""
        if not self.interval:
            return
        with self._lock:
            now = self.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


@dataclass(frozen=True)
class Claim:
    """Rows taken by one `_claim` call: all carry `until` as their `next_attempt_at`."""

    now: dt.datetime
    until: dt.datetime
    attempts: dict[int, int]  # id -> attempts written by the claim, in sending order
    # After this real instant the claim is treated as lost, whatever the database says.
    deadline: dt.datetime


@dataclass
class _Outgoing:
    mail_id: int
    recipient: str
    message: bytes | None  # built before the connection opens: sending is then only I/O
    error: str | None = None
    envelope: str = ""  # the recipient as RCPT TO takes it


class Sender:
    """Sends the outbox: `drain` runs up to `senders` batches in parallel, each over its own
    SMTP connection and with its own claims, until nothing is due."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        smtp: SmtpSettings,
        *,
        mail_from: str,
        base_url: str = "",
        secret_key: str | None = None,
        batch: int = 200,
        senders: int = 1,
        rate: RateLimiter | None = None,
        breaker: Breaker | None = None,
        storage: FileStore | None = None,
    ) -> None:
        self.sessions, self.smtp = sessions, smtp
        # Where attached documents are archived and read (by default STORAGE_URL or
        # UPLOAD_DIR, as the web's): opened only when a mail has an attachment.
        self._storage = storage
        self.mail_from, self.base_url = mail_from, base_url
        self._envelope_from = envelope_address(mail_from)
        # Signs the partner's links when their mails leave (templates.render).
        self.secret_key = secret_key
        self.batch, self.senders = batch, max(1, senders)
        self.rate = rate or RateLimiter(None)
        self.breaker = breaker or Breaker()
        # Set on shutdown: the batches put their unsent rows back and the drain ends.
        self.stopping = threading.Event()

    def drain(self, now: dt.datetime | None = None) -> SendReport:
        """Sends batches, `senders` at a time, until none is due or the breaker opens.

        `now` (tests) fixes the instant used for claims and backoff; by default each batch
        takes the clock's."""
        total = SendReport()
        lock = threading.Lock()

        def work() -> None:
            while not self.stopping.is_set():
                report = self.send_batch(now)
                with lock:
                    total.add(report)
                if not report.claimed or report.breaker_open:
                    return

        if self.senders == 1:
            work()
            return total
        threads = [threading.Thread(target=work, name=f"mail-{i}") for i in range(self.senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return total

    def send_batch(self, now: dt.datetime | None = None) -> SendReport:
        """Claims one batch of due mails and sends it over one SMTP connection."""
        now = now or clock.now()
        report = SendReport()
        permit = self.breaker.permit(now)
        if permit == "open":
            report.breaker_open = True
            return report
        try:
            with self.sessions() as session:
                claim = self.claim(session, now)
                if claim is None:
                    return report
                report.claimed = len(claim.attempts)
                self.deliver(session, claim, report)
        finally:
            if permit == "probe":
                self.breaker.end_probe()  # no-op when the probe's outcome was recorded
        return report

    def claim(self, session: Session, now: dt.datetime) -> Claim | None:
        """Takes up to `batch` due rows: other senders skip them until the claim runs out."""
        until = now + CLAIM
        with transaction(session):
            # SKIP LOCKED lets parallel senders take different rows on PostgreSQL; SQLite
            # serialises the claims (BEGIN IMMEDIATE) and ignores it.
            due = session.scalars(
                select(OutboxMail.id)
                .where(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now)
                .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            if not due:
                return None
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.id.in_(due), OutboxMail.status == "pending",
                       OutboxMail.next_attempt_at <= now)
                .values(next_attempt_at=until, attempts=OutboxMail.attempts + 1)
            )  # fmt: skip
            held = session.execute(
                select(OutboxMail.id, OutboxMail.attempts)
                .where(OutboxMail.id.in_(due), OutboxMail.status == "pending",
                       OutboxMail.next_attempt_at == until)
                .order_by(OutboxMail.id)
            ).all()  # fmt: skip
        if not held:
            return None
        # One SMTP exchange can last up to the timeout: stop early enough to finish it.
        margin = dt.timedelta(seconds=3 * self.smtp.timeout + 5)
        return Claim(now, until, dict(held), clock.now() + CLAIM - margin)

    def deliver(self, session: Session, claim: Claim, report: SendReport) -> None:
        """Sends the claimed mails over one connection, marking them as it goes."""
        outgoing = self._prepare(session, claim, claim.now)
        ids = list(claim.attempts)
        sent: list[int] = []
        held: set[int] = set()
        with SmtpConnection(self.smtp) as connection:
            for index, item in enumerate(outgoing):
                if index % CHUNK == 0:
                    self._mark_sent(session, claim, sent, report)
                    held = self._still_held(session, claim, ids[index : index + CHUNK])
                if item.mail_id not in held or clock.now() >= claim.deadline:
                    self._mark_sent(session, claim, sent, report)
                    lost = [o.mail_id for o in outgoing[index:]]
                    log.warning("claim lost on %d mails; another sender has them", len(lost))
                    report.lost.extend(lost)
                    return
                if self.stopping.is_set():
                    self._mark_sent(session, claim, sent, report)
                    self._release(session, claim, ids[index:], None, report)
                    return
                if item.message is None:
                    self._retry(session, claim, item.mail_id, item.error or "", report)
                    continue
                if index > 0 and self.breaker.is_open(claim.now):
                    # Another batch of this process found the server down meanwhile.
                    self._mark_sent(session, claim, sent, report)
                    self._release(session, claim, ids[index:], None, report)
                    report.breaker_open = True
                    return
                self.rate.wait()
                outcome = self._send_one(connection, item)
                if outcome == "sent":
                    self.breaker.succeeded()
                    sent.append(item.mail_id)
                    continue
                kind, error = outcome
                if kind == "unreachable":
                    # Nothing was sent over this connection: no attempt to count.
                    self.breaker.failed(claim.now)
                    self._mark_sent(session, claim, sent, report)
                    self._release(session, claim, ids[index:], error, report)
                    report.breaker_open = True
                    return
                if kind == "cut":
                    # The server stopped answering mid-mail: it may have kept this one, so it
                    # is an attempt (same Message-ID next time); the rest go back untouched.
                    self.breaker.failed(claim.now)
                    self._mark_sent(session, claim, sent, report)
                    self._retry(session, claim, item.mail_id, error, report)
                    self._release(session, claim, ids[index + 1 :], None, report)
                    report.breaker_open = True
                    return
                self.breaker.succeeded()  # an SMTP answer, even a refusal, means it is up
                if kind == "bounce":
                    log.warning("mail %s to %s failed for good: %s", item.mail_id,
                                item.recipient, error)  # fmt: skip
                    self._end(session, claim, item.mail_id, report.failed, report,
                              status="failed", last_error=error)  # fmt: skip
                else:
                    self._retry(session, claim, item.mail_id, error, report)
            self._mark_sent(session, claim, sent, report)

    @property
    def storage(self) -> FileStore:
        if self._storage is None:
            self._storage = environment_storage()
        return self._storage

    def _attachments(
        self, session: Session, ids: list[int], now: dt.datetime
    ) -> dict[int, list[Attached] | str]:
        """The attached files of the mails that have some (or why they cannot be had), each
        in its own transaction: the first sending of a letter archives it."""
        with transaction(session, write=False):
            listed = session.execute(
                select(OutboxMail.id, OutboxMail.attachments).where(OutboxMail.id.in_(ids))
            ).all()
        wanted = [mail_id for mail_id, attachments in listed if attachments]
        found: dict[int, list[Attached] | str] = {}
        for mail_id in wanted:
            try:
                with transaction(session):
                    mail = session.get_one(OutboxMail, mail_id)
                    found[mail_id] = attachments_of(session, self.storage, mail, now)
            except Exception as exc:  # noqa: BLE001 - one missing letter stops no other mail
                log.exception("attachments of mail %s could not be produced", mail_id)
                found[mail_id] = f"pièce jointe : {exc}"
        return found

    def _prepare(self, session: Session, claim: Claim, now: dt.datetime) -> list[_Outgoing]:
        """Renders the batch with its dossiers and campaigns loaded in a few queries, as true
        at `now`, the sending instant (a reminder says the time left when it leaves)."""
        outgoing = []
        attached = self._attachments(session, list(claim.attempts), now)
        with transaction(session, write=False):
            mails = session.scalars(
                select(OutboxMail).where(OutboxMail.id.in_(list(claim.attempts)))
            ).all()
            by_id = {m.id: m for m in mails}
            loaded = load_for_rendering(session, mails)
            for mail_id in claim.attempts:
                mail = by_id[mail_id]
                files = attached.get(mail_id, [])
                if isinstance(files, str):
                    outgoing.append(_Outgoing(mail_id, mail.recipient, None, files))
                    continue
                try:
                    rendered = render(session, mail, self.base_url, now, secret_key=self.secret_key)
                except Exception as exc:  # noqa: BLE001 - one broken mail stops no other
                    log.exception("mail %s could not be rendered", mail_id)
                    outgoing.append(_Outgoing(mail_id, mail.recipient, None, f"rendu : {exc}"))
                    continue
                try:
                    envelope = envelope_address(mail.recipient)
                    message = build_message(rendered, mail_from=self.mail_from,
                                            recipient=mail.recipient, message_id=mail.message_id,
                                            date=clock.now(), attachments=files)  # fmt: skip
                except ValueError as exc:  # a line break, an address SMTP cannot carry
                    log.exception("mail %s could not be built", mail_id)
                    outgoing.append(_Outgoing(mail_id, mail.recipient, None, f"message : {exc}"))
                    continue
                outgoing.append(_Outgoing(mail_id, mail.recipient, message, envelope=envelope))
            del loaded
        return outgoing

    def _send_one(self, connection: SmtpConnection, item: _Outgoing) -> Outcome:
        """Returns "sent", or (kind, error), kind one of "unreachable", "cut", "bounce", "later"."""
        assert item.message is not None
        return connection.send(self._envelope_from, item.envelope, item.message)

    def _still_held(self, session: Session, claim: Claim, ids: list[int]) -> set[int]:
        with transaction(session, write=False):
            return set(
                session.scalars(
                    select(OutboxMail.id).where(
                        OutboxMail.id.in_(ids),
                        OutboxMail.status == "pending",
                        OutboxMail.next_attempt_at == claim.until,
                    )
                )
            )

    def _mark_sent(
        self, session: Session, claim: Claim, sent: list[int], report: SendReport
    ) -> None:
        """Marks a chunk of sent rows, one statement per attempt count (nearly always one)."""
        if not sent:
            return
        by_attempts: dict[int, list[int]] = defaultdict(list)
        for mail_id in sent:
            by_attempts[claim.attempts[mail_id]].append(mail_id)
        marked = 0
        at = clock.now()
        with transaction(session):
            for attempts, ids in by_attempts.items():
                marked += session.execute(
                    _fenced(claim, ids, attempts).values(status="sent", sent_at=at,
                                                         last_error=None)
                ).rowcount  # fmt: skip
        if marked != len(sent):
            log.warning("%d sent mails had been claimed by another sender", len(sent) - marked)
        report.sent.extend(sent)
        sent.clear()

    def _retry(
        self, session: Session, claim: Claim, mail_id: int, error: str, report: SendReport
    ) -> None:
        attempts = claim.attempts[mail_id]
        if attempts >= MAX_ATTEMPTS:
            log.warning("mail %s failed for good after %d attempts: %s", mail_id, attempts, error)
            self._end(session, claim, mail_id, report.failed, report,
                      status="failed", last_error=error)  # fmt: skip
            return
        delay = BACKOFF[min(attempts, len(BACKOFF)) - 1]
        log.info("mail %s will be retried in %s: %s", mail_id, delay, error)
        self._end(session, claim, mail_id, report.retried, report,
                  next_attempt_at=claim.now + delay, last_error=error)  # fmt: skip

    def _end(
        self,
        session: Session,
        claim: Claim,
        mail_id: int,
        into: list[int],
        report: SendReport,
        **values: object,
    ) -> None:
        with transaction(session):
            done = session.execute(
                _fenced(claim, [mail_id], claim.attempts[mail_id]).values(**values)
            ).rowcount
        if done:
            into.append(mail_id)
        else:
            log.warning("mail %s had been claimed by another sender", mail_id)
            report.lost.append(mail_id)

    def _release(
        self,
        session: Session,
        claim: Claim,
        ids: list[int],
        error: str | None,
        report: SendReport,
    ) -> None:
        """Puts rows back, due at once, without counting this attempt."""
        if not ids:
            return
        values: dict[str, object] = {"next_attempt_at": claim.now,
                                     "attempts": OutboxMail.attempts - 1}  # fmt: skip
        if error:
            values["last_error"] = error
        by_attempts: dict[int, list[int]] = defaultdict(list)
        for mail_id in ids:
            by_attempts[claim.attempts[mail_id]].append(mail_id)
        with transaction(session):
            for attempts, group in by_attempts.items():
                session.execute(_fenced(claim, group, attempts).values(**values))
        report.released.extend(ids)


def _fenced(claim: Claim, ids: list[int], attempts: int):  # type: ignore[no-untyped-def]
    """An UPDATE of rows this claim still holds: same token, still pending."""
    return update(OutboxMail).where(
        OutboxMail.id.in_(ids),
        OutboxMail.status == "pending",
        OutboxMail.attempts == attempts,
        OutboxMail.next_attempt_at == claim.until,
    )


def send_pending(
    sessions: sessionmaker[Session],
    smtp: SmtpSettings,
    *,
    mail_from: str,
    base_url: str = "",
    now: dt.datetime | None = None,
    batch: int = 200,
    secret_key: str | None = None,
    storage: FileStore | None = None,
) -> SendReport:
    """Sends one batch of due mails, one message per recipient, over one connection
    (a one-off sender: its breaker lasts for this call only)."""
    sender = Sender(
        sessions,
        smtp,
        mail_from=mail_from,
        base_url=base_url,
        secret_key=secret_key,
        batch=batch,
        storage=storage,
    )
    return sender.send_batch(now)


def failed_mails(
    session: Session, campaign_id: int | None = None, limit: int | None = None
) -> list[OutboxMail]:
    """Mails that could not be delivered (bounces), newest first, for the instructors; the
    `limit` newest only when given (the dashboard shows 50, whatever a closing bounced)."""
    query = select(OutboxMail).where(OutboxMail.status == "failed")
    if campaign_id is not None:
        query = query.where(OutboxMail.campaign_id == campaign_id)
    return list(session.scalars(query.order_by(OutboxMail.id.desc()).limit(limit)))
