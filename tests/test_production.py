"""The production shape on PostgreSQL: gunicorn with two workers serving, and two
`run.py scheduler` processes of which one leads; a passed deadline closes the campaign once
and its mails are delivered once; killing the leader hands the work to the standby."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.conftest import World, _empty_postgres
from workflow.db import make_engine, make_session_factory, transaction
from workflow.models import AuditEvent, Campaign, OutboxMail

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    """Polls another process's effect; the deadline logic itself is tested with a clock."""
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def processes(tmp_path) -> Iterator[Callable[..., subprocess.Popen]]:
    started: list[subprocess.Popen] = []

    def start(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        process.log_path = tmp_path / f"{name}.log"  # type: ignore[attr-defined]
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def due_campaign(world: World, slug: str, dossiers: int) -> int:
    """A campaign with deposited dossiers, then its deadline moved to a minute ago (as an
    administrator shortening it would), so that the schedulers find it due."""
    session = world.session
    campaign = world.campaign(slug=slug, opens=dt.date(2020, 1, 6), deadline=dt.date(2099, 3, 20))
    hospital = world.organisation()
    world.actor("deposant", hospital)
    for _ in range(dossiers):
        world.dossier(campaign, hospital, "en_construction")
    with transaction(session):
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id)
            .values(deadline_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    return campaign.id


def closed(sessions, campaign_id: int) -> bool:
    with sessions() as session:
        return session.get(Campaign, campaign_id).closed_at is not None


def test_gunicorn_and_two_schedulers_close_once_and_mail_once(postgres_url, processes, smtp_server):
    db_url = postgres_url
    _empty_postgres(db_url)
    sessions = make_session_factory(make_engine(db_url))
    world = World(sessions())
    env = {
        "DATABASE_URL": db_url,
        "SMTP_URL": smtp_server.url,
        "MAIL_FROM": "ars@example.fr",
        "SECRET_KEY": "test-secret",
        "SCHEDULER_TICK_SECONDS": "0.5",
        "SCHEDULER_LEASE_SECONDS": "3",
    }
    port = free_port()
    web = processes(
        "gunicorn",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "web:create_app()",
        ],
        env,
    )
    first_id = due_campaign(world, "prod-1", dossiers=4)

    def serving() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    wait_for(serving, what="gunicorn to serve")
    for _ in range(6):  # several requests, so that both workers answer
        assert serving()
    schedulers = [
        processes(f"scheduler-{i}", [sys.executable, "run.py", "scheduler"], env) for i in range(2)
    ]
    wait_for(lambda: closed(sessions, first_id), what="the campaign to close")

    def delivered(count: int) -> Callable[[], bool]:
        def check() -> bool:
            with sessions() as session:
                sent = session.scalar(
                    select(func.count()).select_from(OutboxMail).where(OutboxMail.status == "sent")
                )
            return sent == count

        return check

    wait_for(delivered(4), what="the mails of the first closing")
    with sessions() as session:
        moved = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event == "passer_en_instruction")
        )
    assert moved == 4
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == len(set(ids)) == 4

    # The leader dies without releasing its lease: the standby takes over when it expires.
    leader = next(p for p in schedulers if "now the leader" in p.log_path.read_text())
    standby = next(p for p in schedulers if p is not leader)
    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=10)
    second_id = due_campaign(world, "prod-2", dossiers=2)
    wait_for(lambda: closed(sessions, second_id), what="the standby to close the campaign")
    wait_for(delivered(6), what="the mails of the second closing")
    assert "now the leader" in standby.log_path.read_text()
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == len(set(ids)) == 6
    assert web.poll() is None
