"""Exports as background jobs: an instructor's request queues a job, a worker (in the
scheduler's process or its own) builds the file into storage with its progress, and a mail
« Votre export est prêt » gives the link. A web worker never builds a large file; many
requests at once wait in the queue instead of taking the service down.

A job is claimed with a conditional UPDATE (two workers never run the same one), keeps a
heartbeat while it runs, and is queued again when its worker died (no heartbeat for
STALE_AFTER). Files expire after KEEP_FOR and are then deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import tempfile
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from workflow.instruction.archives import campaign_entries, write_zip
from workflow.instruction.exports import count_rows, write_csv, write_xlsx
from workflow.journal import outbox
from workflow.models import Campaign, ExportJob, User
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import FileStore

log = logging.getLogger(__name__)

EXPORTS_FOLDER = "exports"
KEEP_FOR = dt.timedelta(days=7)
STALE_AFTER = dt.timedelta(minutes=10)
# A job that killed its worker this many times (out of memory…) is failed, not retried.
MAX_ATTEMPTS = 3
# Queued or running jobs one person may have at once: more requests are refused politely.
MAX_PENDING_PER_PERSON = 5
PENDING = ("queued", "running")


@dataclass(frozen=True)
class Kind:
    label: str
    suffix: str
    mimetype: str


KINDS = {
    "csv": Kind("CSV", "dossiers.csv", "text/csv; charset=utf-8"),
    "xlsx": Kind(
        "XLSX (Excel)",
        "dossiers.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "zip": Kind("ZIP des pièces", "pieces.zip", "application/zip"),
}
STATUS_LABELS = {
    "queued": "En attente",
    "running": "En cours",
    "done": "Prêt",
    "failed": "Échec",
    "expired": "Expiré",
}


class TooManyExports(Exception):
    """A person asked for more exports than MAX_PENDING_PER_PERSON at once."""

    message = (
        f"Vous avez déjà {MAX_PENDING_PER_PERSON} exports en attente : attendez qu'ils soient "
        "prêts avant d'en demander un autre."
    )


def export_storage(storage: FileStore) -> FileStore:
    """Where export files live: a folder of their own, left out of backups."""
    return storage.child(EXPORTS_FOLDER)


def file_name(campaign: Campaign, job: ExportJob) -> str:
    """The name a downloaded export takes: the campaign, the date, the kind."""
    return f"{campaign.slug}-{job.created_at:%Y%m%d-%H%M}-{KINDS[job.kind].suffix}"


def request_export(
    session: Session, campaign: Campaign, kind: str, user: User, now: dt.datetime
) -> ExportJob:
    """Queues an export of `campaign`; the same request still waiting is returned instead of
    a second one. Raises TooManyExports past MAX_PENDING_PER_PERSON."""
    if kind not in KINDS:
        raise ValueError(f"unknown export kind: {kind}")
    waiting = session.scalars(
        select(ExportJob).where(
            ExportJob.campaign_id == campaign.id,
            ExportJob.kind == kind,
            ExportJob.requested_by == user.id,
            ExportJob.status == "queued",
        )
    ).first()
    if waiting is not None:
        return waiting
    pending = session.scalar(
        select(func.count(ExportJob.id)).where(
            ExportJob.requested_by == user.id, ExportJob.status.in_(PENDING)
        )
    )
    if pending and pending >= MAX_PENDING_PER_PERSON:
        raise TooManyExports()
    job = ExportJob(
        campaign_id=campaign.id,
        kind=kind,
        requested_by=user.id,
        status="queued",
        progress_done=0,
        progress_total=count_rows(session, campaign.id),
        attempts=0,
        created_at=now,
    )
    session.add(job)
    session.flush()
    return job


def campaign_jobs(session: Session, campaign_id: int, limit: int = 20) -> list[ExportJob]:
    """The latest export jobs of a campaign, newest first."""
    return list(
        session.scalars(
            select(ExportJob)
            .where(ExportJob.campaign_id == campaign_id)
            .order_by(ExportJob.id.desc())
            .limit(limit)
        )
    )


def worker_name() -> str:
    """A name for this worker process, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def requeue_stale(sessions: sessionmaker[Session], now: dt.datetime) -> int:
    """Queues again the running jobs whose worker stopped beating (it died); fails those
    that already killed MAX_ATTEMPTS workers. Returns how many were queued again."""
    stale = (ExportJob.status == "running") & (ExportJob.heartbeat_at < now - STALE_AFTER)
    with sessions() as session, transaction(session):
        session.execute(
            update(ExportJob)
            .where(stale, ExportJob.attempts >= MAX_ATTEMPTS)
            .values(
                status="failed",
                finished_at=now,
                error="L'export a échoué plusieurs fois : demandez-le à nouveau.",
            )
        )
        return session.execute(
            update(ExportJob).where(stale).values(status="queued", worker=None)
        ).rowcount


def claim_next(sessions: sessionmaker[Session], worker: str, now: dt.datetime) -> int | None:
    """Takes the oldest queued job for `worker`; None if there is none. The UPDATE only
    succeeds while the job is still queued: of two workers, one gets it."""
    with sessions() as session:
        for _ in range(5):
            with transaction(session):
                job_id = session.scalar(
                    select(ExportJob.id)
                    .where(ExportJob.status == "queued")
                    .order_by(ExportJob.id)
                    .limit(1)
                )
                if job_id is None:
                    return None
                claimed = session.execute(
                    update(ExportJob)
                    .where(ExportJob.id == job_id, ExportJob.status == "queued")
                    .values(
                        status="running",
                        worker=worker,
                        started_at=now,
                        heartbeat_at=now,
                        attempts=ExportJob.attempts + 1,
                        progress_done=0,
                    )
                ).rowcount
            if claimed:
                return job_id
    return None


def run_job(
    sessions: sessionmaker[Session],
    storage: FileStore,
    job_id: int,
    worker: str,
) -> str:
    """Builds the file of a claimed job into storage, moving its progress on the way, then
    marks it done and queues the mail to its requester; a failure marks it failed with a
    French message. Returns the job's final state."""
    with sessions() as session, transaction(session, write=False):
        job = session.get(ExportJob, job_id)
        if job is None or job.status != "running" or job.worker != worker:
            return job.status if job else "missing"
        kind, campaign_id = job.kind, job.campaign_id

    def progress(done: int) -> None:
        with sessions() as beat, transaction(beat):
            if beat.get_bind().dialect.name == "postgresql":
                # A heartbeat lost in a crash costs nothing (the job is run again), so its
                # commit does not wait for the disk: one per 1,000 rows was 11 % of a CSV
                # export's time on a busy server (issue 10). Others still see it at once.
                beat.execute(text("SET LOCAL synchronous_commit TO OFF"))
            beat.execute(
                update(ExportJob)
                .where(ExportJob.id == job_id, ExportJob.worker == worker)
                .values(progress_done=done, heartbeat_at=clock.now())
            )

    target = export_storage(storage)
    try:
        with tempfile.TemporaryFile() as output:
            with sessions() as reading, transaction(reading, write=False):
                total = count_rows(reading, campaign_id)
                _set(sessions, job_id, worker, progress_total=total)
                if kind == "csv":
                    write_csv(reading, campaign_id, output, progress)
                elif kind == "xlsx":
                    write_xlsx(reading, campaign_id, output, progress=progress)
                else:
                    write_zip(campaign_entries(reading, campaign_id), storage, output)
                    progress(total)
            size = output.seek(0, os.SEEK_END)
            output.seek(0)
            name = target.save_file(output)
    except Exception as exc:
        log.exception("export job %s failed", job_id)
        _set(
            sessions,
            job_id,
            worker,
            status="failed",
            finished_at=clock.now(),
            error="L'export n'a pas pu être produit : demandez-le à nouveau. "
            f"Si l'échec se répète, signalez-le à l'administrateur ({type(exc).__name__}).",
        )
        return "failed"
    finished = clock.now()
    with sessions() as session, transaction(session):
        done = session.execute(
            update(ExportJob)
            .where(ExportJob.id == job_id, ExportJob.worker == worker)
            .values(
                status="done",
                storage_name=name,
                size=size,
                finished_at=finished,
                expires_at=finished + KEEP_FOR,
                heartbeat_at=finished,
            )
        ).rowcount
        if done:
            job = session.get(ExportJob, job_id)
            requester = session.get(User, job.requested_by) if job else None
            if job and requester and requester.active:
                outbox.queue(
                    session,
                    "export_pret",
                    [requester.email],
                    campaign=session.get(Campaign, campaign_id),
                    context={
                        "export_id": job_id,
                        "kind_label": KINDS[kind].label,
                        "dossiers": job.progress_total,
                        "expires_at": job.expires_at.isoformat() if job.expires_at else "",
                    },
                    now=finished,
                )
    if not done:
        # Taken from us meanwhile (we were thought dead): our copy is not the one kept.
        target.delete(name)
        return "requeued"
    log.info("export job %s done: %s, %s bytes", job_id, kind, size)
    return "done"


def _set(sessions: sessionmaker[Session], job_id: int, worker: str, **values: object) -> None:
    with sessions() as session, transaction(session):
        session.execute(
            update(ExportJob)
            .where(ExportJob.id == job_id, ExportJob.worker == worker)
            .values(**values)
        )


def expire_exports(sessions: sessionmaker[Session], storage: FileStore, now: dt.datetime) -> int:
    """Deletes the files of exports past their expiry; their rows stay, marked expired."""
    target = export_storage(storage)
    with sessions() as session:
        with transaction(session, write=False):
            due = session.execute(
                select(ExportJob.id, ExportJob.storage_name).where(
                    ExportJob.status == "done", ExportJob.expires_at <= now
                )
            ).all()
        for job_id, name in due:
            with transaction(session):
                session.execute(
                    update(ExportJob)
                    .where(ExportJob.id == job_id, ExportJob.status == "done")
                    .values(status="expired")
                )
            # After the commit: a download that still finds the row finds the file too.
            if name:
                target.delete(name)
    return len(due)


def work(
    sessions: sessionmaker[Session],
    storage: FileStore,
    worker: str | None = None,
    limit: int | None = None,
) -> list[tuple[int, str]]:
    """One pass of a worker: expired files deleted, dead workers' jobs queued again, then
    queued jobs run one after the other (at most `limit`) until none is left. Returns the
    jobs run with their final state."""
    worker = worker or worker_name()
    now = clock.now()
    expire_exports(sessions, storage, now)
    requeue_stale(sessions, now)
    ran: list[tuple[int, str]] = []
    while limit is None or len(ran) < limit:
        job_id = claim_next(sessions, worker, clock.now())
        if job_id is None:
            break
        ran.append((job_id, run_job(sessions, storage, job_id, worker)))
    return ran
