"""The export worker: runs queued export jobs (`workflow.instruction.export_jobs`) in the
scheduler's process (`run.py scheduler`) or a process of its own (`run.py export-worker`),
never in a web worker. Each process runs EXPORT_WORKERS jobs at a time (default 1): many
requests at once wait in the queue, and memory stays that of one export per slot."""

from __future__ import annotations

import datetime as dt
import logging
import os

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import Session, sessionmaker

from workflow.instruction.export_jobs import work, worker_name
from workflow.plumbing.storage import FileStore

log = logging.getLogger(__name__)


def run_pass(sessions: sessionmaker[Session], storage: FileStore, worker: str) -> None:
    """One pass of the worker; an error is logged and the next pass tries again."""
    try:
        ran = work(sessions, storage, worker)
    except Exception:
        log.exception("export worker pass failed; the next one retries")
        return
    for job_id, state in ran:
        log.info("export job %s: %s", job_id, state)


def start_export_worker(
    sessions: sessionmaker[Session],
    storage: FileStore,
    interval: float | None = None,
    slots: int | None = None,
    blocking: bool = False,
) -> BaseScheduler:
    """Looks for queued exports every `interval` seconds (EXPORT_POLL_SECONDS, 5) in
    `slots` threads (EXPORT_WORKERS, 1), each with its own worker name."""
    interval = interval or float(os.environ.get("EXPORT_POLL_SECONDS", "5"))
    slots = slots or int(os.environ.get("EXPORT_WORKERS", "1"))
    runner: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
    for slot in range(slots):
        runner.add_job(
            run_pass,
            "interval",
            args=(sessions, storage, f"{worker_name()}:{slot}"),
            seconds=interval,
            id=f"exports-{slot}",
            next_run_time=dt.datetime.now(dt.UTC),
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )
    log.info("export worker: %s slot(s), polling every %g s", slots, interval)
    runner.start()
    return runner
