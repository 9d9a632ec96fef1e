"""The scheduler: one leader at a time, elected through a lease row in the database.

APScheduler 3 shares no job store between processes safely, so every process runs the same
single "tick" job, and only the one holding the lease does the work. A second scheduler
started by mistake waits as a standby and takes over when the leader's lease runs out. Sweeps
select what is due (see jobs.py), so a tick missed while the service was down is caught up
by the first tick after the start.
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
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from workflow.mail.sender import SmtpSettings, send_pending
from workflow.models import SchedulerLease
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.scheduling.jobs import SweepReport, run_sweeps

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"


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
                return False  # the row exists and another process holds it
            return True

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
    """What one tick does: lead or stand by; when leading, sweep and flush the outbox."""

    sessions: sessionmaker[Session]
    leadership: Leadership
    smtp: SmtpSettings | None = None
    mail_from: str = "ne-pas-repondre@postes-partages.local"
    base_url: str = ""
    leading: bool = False

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
        if self.smtp is not None:
            try:
                send_pending(
                    self.sessions,
                    self.smtp,
                    mail_from=self.mail_from,
                    base_url=self.base_url,
                    now=now,
                )
            except Exception:
                log.exception("sending the outbox failed; the next tick retries")
        return report


def start(scheduler: Scheduler, interval: float, blocking: bool) -> BaseScheduler:
    """Runs `scheduler.tick` every `interval` seconds, the first one at once.

    `misfire_grace_time=None`: a late tick is better than none; `coalesce`: ticks piled up
    while the process was stalled run once.
    """
    runner: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
    runner.add_job(
        scheduler.tick,
        "interval",
        seconds=interval,
        id="tick",
        next_run_time=dt.datetime.now(dt.UTC),
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
    )
    runner.start()
    return runner


def from_environment(sessions: sessionmaker[Session]) -> tuple[Scheduler, float]:
    """The scheduler as configured by SMTP_URL, MAIL_FROM, BASE_URL,
    SCHEDULER_TICK_SECONDS (default 30) and SCHEDULER_LEASE_SECONDS (default 60)."""
    from workflow.mail.sender import parse_smtp_url

    smtp_url = os.environ.get("SMTP_URL")
    lease = float(os.environ.get("SCHEDULER_LEASE_SECONDS", "60"))
    scheduler = Scheduler(
        sessions=sessions,
        leadership=Leadership(sessions, ttl=dt.timedelta(seconds=lease)),
        smtp=parse_smtp_url(smtp_url) if smtp_url else None,
        mail_from=os.environ.get("MAIL_FROM", "ne-pas-repondre@postes-partages.local"),
        base_url=os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
    )
    return scheduler, float(os.environ.get("SCHEDULER_TICK_SECONDS", "30"))
