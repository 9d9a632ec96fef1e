"""The production shape on PostgreSQL: gunicorn with two workers serving a deposit over
HTTP, and two `run.py scheduler` processes of which one leads; a passed deadline closes the
campaign once and its mails are delivered once; killing the leader hands the work over."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.conftest import World, _empty_postgres
from workflow.models import AuditEvent, Campaign, Dossier, OutboxMail, User
from workflow.people.passwords import hash_password
from workflow.plumbing.db import make_engine, make_session_factory, transaction

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gunicorn(port: int, workers: int = 2, *options: str) -> list[str]:
    """The README's production command (the repository's `gunicorn.conf.py`) on loopback."""
    return [
        *(sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", str(workers)),
        *("-b", f"127.0.0.1:{port}", *options, "web:create_app()"),
    ]


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


def open_campaign(world: World, slug: str, dossiers: int, user: bool = True):  # type: ignore[no-untyped-def]
    """An open campaign with `dossiers` deposited dossiers of one hospital, which has one
    user (mails go to every user of the organisation) unless the test makes its own."""
    campaign = world.campaign(slug=slug, opens=dt.date(2020, 1, 6), deadline=dt.date(2099, 3, 20))
    hospital = world.organisation()
    if user:
        world.actor("deposant", hospital)
    for _ in range(dossiers):
        world.dossier(campaign, hospital, "en_construction")
    return campaign, hospital


def shorten_deadline(world: World, campaign_id: int) -> None:
    """The deadline moved to a minute ago, as an administrator shortening it would, so that
    the schedulers find the campaign due."""
    with transaction(world.session):
        world.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(deadline_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )


def deposit_over_http(base: str, email: str, password: str, dossier_id: int) -> None:
    """Signs in and presses « Déposer le dossier », as a Bureau des Affaires Médicales would."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())

    def csrf(path: str) -> str:
        with browser.open(base + path, timeout=10) as response:
            page = response.read().decode()
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def post(path: str, fields: list[tuple[str, str]]) -> None:
        data = urllib.parse.urlencode([("csrf_token", csrf(path)), *fields]).encode()
        with browser.open(base + path, data=data, timeout=10) as response:
            assert response.status == 200

    post("/connexion", [("email", email), ("password", password)])
    post(
        f"/dossiers/{dossier_id}/confirmer",
        [("attestations", "complet"), ("consent", "oui"), ("action", "deposer")],
    )


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
        "SECRET_KEY": "production-test-secret-key-long-enough-1234",
        # The production shape: both workers count sign-in attempts in one Redis.
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/13",
        "SCHEDULER_TICK_SECONDS": "0.5",
        "SCHEDULER_LEASE_SECONDS": "3",
    }
    port = free_port()
    web = processes(
        "gunicorn",
        gunicorn(port),
        env,
    )
    first, hospital = open_campaign(world, "prod-1", dossiers=3, user=False)
    password = "Mot-de-passe-2026!"
    with transaction(world.session):
        world.session.add(
            User(
                email="bam@ch-prod.fr",
                password_hash=hash_password(password),
                role="deposant",
                organisation_id=hospital.id,
                email_confirmed_at=dt.datetime.now(dt.UTC),
            )
        )
    brouillon = world.dossier(first, hospital, "brouillon", complete=True)

    def serving() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    wait_for(serving, what="gunicorn to serve")
    for _ in range(6):  # several requests, so that both workers answer
        assert serving()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            assert "Server" not in response.headers
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    deposit_over_http(f"http://127.0.0.1:{port}", "bam@ch-prod.fr", password, brouillon.id)
    with sessions() as session:
        deposited = session.get(Dossier, brouillon.id)
        assert (deposited.state, deposited.number) == ("en_construction", 1)
    schedulers = [
        processes(f"scheduler-{i}", [sys.executable, "run.py", "scheduler"], env) for i in range(2)
    ]
    shorten_deadline(world, first.id)
    wait_for(lambda: closed(sessions, first.id), what="the campaign to close")

    def delivered(count: int) -> Callable[[], bool]:
        def check() -> bool:
            with sessions() as session:
                sent = session.scalar(
                    select(func.count()).select_from(OutboxMail).where(OutboxMail.status == "sent")
                )
            return sent >= count

        return check

    # The accusé de réception of the deposit, then one mail per dossier moved.
    wait_for(delivered(5), what="the mails of the first closing")
    with sessions() as session:
        moved = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.event == "passer_en_instruction")
        )
    assert moved == 4
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == len(set(ids)) == 5

    # The leader dies without releasing its lease: the standby, on the same host, sees that
    # process gone and takes over without waiting for the lease to expire.
    leader = next(p for p in schedulers if "now the leader" in p.log_path.read_text())
    standby = next(p for p in schedulers if p is not leader)
    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=10)
    second, _ = open_campaign(world, "prod-2", dossiers=2)
    shorten_deadline(world, second.id)
    wait_for(lambda: closed(sessions, second.id), what="the standby to close the campaign")
    wait_for(delivered(7), what="the mails of the second closing")
    assert "now the leader" in standby.log_path.read_text()
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == len(set(ids)) == 7
    assert web.poll() is None
