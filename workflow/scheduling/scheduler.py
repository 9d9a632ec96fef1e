"""The scheduler: one leader at a time, elected through a lease row in the database.

APScheduler 3 shares no job store between processes safely, so every process runs the same
single "tick" job, and only the one holding the lease does the work. A second scheduler
started by mistake waits as a standby and takes over when the leader's lease runs out, or
at once when the lease's holder was a process of this same host that no longer exists (a
restart after a crash). Sweeps select what is due (see jobs.py), so a tick missed while the
service was down is caught up by the first tick after the start.

Mails go out in a job of their own ("mail", its own thread): a slow or silent SMTP server
never delays the tick that renews the lease and runs closings and reminders. That job runs
in every scheduler process, leader or standby: the outbox's claims are fenced (see
mail/sender.py), so two processes never send the same claimed row, and a standby keeps the
mail flowing while a stalled leader still holds the lease.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from workflow.api.delivery import DeliveryReport, WebhookSender
from workflow.mail.sender import Breaker, RateLimiter, Sender, SendReport, parse_smtp_url
from workflow.models import SchedulerLease
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import FileStore
from workflow.privacy.purge import purge_expired
from workflow.scheduling.jobs import SweepReport, run_sweeps

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
# Seconds between two runs of the mail job (each run drains what is due).
MAIL_INTERVAL = 5.0


def _process_gone(pid: int) -> bool:
    """True when no process has this pid on this host; a live process (even one that
    recycled the pid of a dead leader) means "wait for the lease to run out"."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False


@dataclass
class Leadership:
    """Holds the scheduler lease while this process renews it in time."""

    sessions: sessionmaker[Session]
    ttl: dt.timedelta = dt.timedelta(seconds=60)
    holder: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )

    def acquire(self, now: dt.datetime | None = None) -> bool:
        """Takes or renews the lease; False while another live process holds it."""
        now = now or clock.now()
        expires = now + self.ttl
        with self.sessions() as session:
            with transaction(session):
                renewed = session.execute(
                    update(SchedulerLease)
                    .where(
                        SchedulerLease.name == LEASE_NAME,
                        (SchedulerLease.holder == self.holder) | (SchedulerLease.expires_at < now),
                    )
                    .values(holder=self.holder, expires_at=expires)
                ).rowcount
            if renewed:
                return True
            try:
                with transaction(session):
                    session.execute(
                        insert(SchedulerLease).values(
                            name=LEASE_NAME, holder=self.holder, expires_at=expires
                        )
                    )
            except IntegrityError:
                # The row exists and another process holds it; if that process was ours
                # and is gone, it will not renew: no need to wait for its lease to run out.
                return self._take_over_dead_holder(session, expires)
            return True

    def _take_over_dead_holder(self, session: Session, expires: dt.datetime) -> bool:
        with transaction(session):
            holder = session.scalar(
                select(SchedulerLease.holder).where(SchedulerLease.name == LEASE_NAME)
            )
            if holder is None or not self._dead_on_this_host(holder):
                return False
            taken = session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == holder)
                .values(holder=self.holder, expires_at=expires)
            ).rowcount
        if taken:
            log.warning("lease of %s taken over at once: that process is gone", holder)
        return bool(taken)

    def _dead_on_this_host(self, holder: str) -> bool:
        host, _, rest = holder.partition(":")
        pid = rest.partition(":")[0]
        mine = self.holder.partition(":")[0]
        if host != mine or not pid.isdigit() or int(pid) == os.getpid():
            return False
        return _process_gone(int(pid))

    def release(self) -> None:
        """Lets a standby take over at once instead of waiting for the lease to expire."""
        with self.sessions() as session, transaction(session):
            session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder)
                .values(expires_at=clock.now() - dt.timedelta(seconds=1))
            )


@dataclass
class Scheduler:
    """What the jobs do: the tick leads or stands by, and when leading runs the sweeps; the
    mail job drains the outbox."""

    sessions: sessionmaker[Session]
    leadership: Leadership
    sender: Sender | None = None
    webhooks: WebhookSender | None = None
    leading: bool = False
    # The RGPD purge needs the storage of the pieces and the key of the pseudonyms; without
    # them (a scheduler built for a test of the other sweeps) it does not run.
    storage: FileStore | None = None
    secret_key: str | None = None

    def tick(self, now: dt.datetime | None = None) -> SweepReport | None:
        """One round; returns what the sweeps did, or None when standing by."""
        now = now or clock.now()
        leading = self.leadership.acquire(now)
        if leading != self.leading:
            log.info(
                "scheduler %s is now %s",
                self.leadership.holder,
                "the leader" if leading else "a standby",
            )
            self.leading = leading
        if not leading:
            return None
        report = run_sweeps(self.sessions, now)
        if self.storage is not None and self.secret_key:
            try:
                purged = purge_expired(self.sessions, self.storage, self.secret_key, now)
                report.purged = sorted(purged.dossiers)
            except Exception:
                log.exception("the RGPD purge failed; the next tick retries it")
        return report

    def send_mail(self, now: dt.datetime | None = None) -> SendReport | None:
        """Sends what is due in the outbox (None without SMTP); errors are logged, the
        next run retries."""
        if self.sender is None:
            return None
        try:
            return self.sender.drain(now)
        except Exception:
            log.exception("sending the outbox failed; the next run retries")
            return None

    def send_webhooks(self, now: dt.datetime | None = None) -> DeliveryReport | None:
        """Sends the webhook deliveries that are due; like mails, in every scheduler process
        (the claims are fenced), and errors are logged for the next run to retry."""
        if self.webhooks is None:
            return None
        try:
            return self.webhooks.drain(now)
        except Exception:
            log.exception("sending the webhooks failed; the next run retries")
            return None


def start(scheduler: Scheduler, interval: float, blocking: bool) -> BaseScheduler:
    """Runs `scheduler.tick` every `interval` seconds and the mail and webhook jobs every 5 s
    (or every `interval` if shorter), the first ones at once, each in its own thread.

    `misfire_grace_time=None`: a late run is better than none; `coalesce`: runs piled up
    while the process was stalled run once; `max_instances=1`: a long drain of the outbox
    is not doubled by the next run, and never holds up the tick.
    """
    runner: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
    mail_interval = min(MAIL_INTERVAL, interval)
    jobs = (
        (scheduler.tick, interval),
        (scheduler.send_mail, mail_interval),
        (scheduler.send_webhooks, mail_interval),
    )
    for job, seconds in jobs:
        runner.add_job(
            job,
            "interval",
            seconds=seconds,
            id=job.__name__,
            next_run_time=dt.datetime.now(dt.UTC),
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )
    runner.start()
    return runner


def from_environment(
    sessions: sessionmaker[Session],
    secret_key: str | None = None,
    storage: FileStore | None = None,
) -> tuple[Scheduler, float]:
    """The scheduler as configured by SMTP_URL, MAIL_FROM, BASE_URL, MAIL_SENDERS (parallel
    SMTP connections, default 2), MAIL_RATE_PER_SECOND (default: no limit),
    SCHEDULER_TICK_SECONDS (default 30) and SCHEDULER_LEASE_SECONDS (default 60)."""
    smtp_url = os.environ.get("SMTP_URL")
    lease = float(os.environ.get("SCHEDULER_LEASE_SECONDS", "60"))
    sender = None
    if smtp_url:
        rate = float(os.environ.get("MAIL_RATE_PER_SECOND") or 0) or None
        sender = Sender(
            sessions,
            parse_smtp_url(smtp_url),
            mail_from=os.environ.get("MAIL_FROM", "ne-pas-repondre@postes-partages.local"),
            base_url=os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
            secret_key=secret_key or os.environ.get("SECRET_KEY"),
            senders=int(os.environ.get("MAIL_SENDERS", "2")),
            rate=RateLimiter(rate),
            breaker=Breaker(),
        )
    scheduler = Scheduler(
        sessions=sessions,
        leadership=Leadership(sessions, ttl=dt.timedelta(seconds=lease)),
        sender=sender,
        # The RGPD purge deletes pieces from `storage` and keys the audit trail's pseudonyms.
        storage=storage,
        secret_key=secret_key,
        # http to this machine is for development only: production webhooks are https.
        webhooks=WebhookSender(
            sessions,
            allow_loopback_http=os.environ.get("POSTES_PARTAGES_ENV") == "development",
        ),
    )
    return scheduler, float(os.environ.get("SCHEDULER_TICK_SECONDS", "30"))
