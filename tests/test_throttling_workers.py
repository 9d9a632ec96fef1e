"""Throttling in the production shape: gunicorn with two workers counting in one Redis. Wrong
passwords sent at once over several connections, answered by both workers, are allowed
exactly as many times as the per-account limit says, not that many per worker."""

from __future__ import annotations

import datetime as dt
import re
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import test_production
from tests.conftest import TEST_SECRET_KEY, World
from tests.test_production import free_port, gunicorn, wait_for
from web.shared.throttling import LIMITS
from workflow.models import User
from workflow.people.passwords import hash_password
from workflow.plumbing.db import make_engine, make_session_factory, transaction

processes = test_production.processes  # gunicorn started, and stopped after the test
REDIS_DB = 15  # a database of its own, flushed before and after
EMAIL = "bam@ch-workers.example.fr"
ATTEMPTS = 12  # more than the account's limit, fewer than the client address's


@pytest.fixture
def redis_db():  # type: ignore[no-untyped-def]
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable on 127.0.0.1:6379 ({exc}): .ci/run starts it")
    client.flushdb()
    yield f"redis://127.0.0.1:6379/{REDIS_DB}"
    client.flushdb()
    client.close()


def attempt(base: str, password: str) -> tuple[int, str, str | None]:
    """A browser of its own signs in once: its page, its CSRF token, its connection."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with browser.open(base + "/connexion", timeout=10) as response:
        page = response.read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"csrf_token": token, "email": EMAIL, "password": password}
    ).encode()
    try:
        with browser.open(base + "/connexion", data=data, timeout=10) as response:
            return response.status, response.read().decode(), None
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(), refused.headers.get("Retry-After")


def test_two_gunicorn_workers_together_allow_the_account_limit_once(
    sqlite_url, redis_db, processes, tmp_path
):
    sessions = make_session_factory(make_engine(sqlite_url))
    world = World(sessions())
    hospital = world.organisation()
    with transaction(world.session):
        world.session.add(
            User(
                email=EMAIL,
                password_hash=hash_password("Mot-de-passe-2026!"),
                role="deposant",
                organisation_id=hospital.id,
                email_confirmed_at=dt.datetime.now(dt.UTC),
            )
        )
    port = free_port()
    env = {
        "DATABASE_URL": sqlite_url,
        "SECRET_KEY": TEST_SECRET_KEY,
        "RATELIMIT_STORAGE_URI": redis_db,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "SMTP_URL": "",
    }
    web = processes(
        "gunicorn",
        gunicorn(
            port, 2, "--access-logfile", "-", "--access-logformat", "worker=%(p)s %(m)s %(U)s %(s)s"
        ),
        env,
    )
    base = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    wait_for(serving, timeout=60, what="gunicorn to serve")
    # Four browsers at once: while one worker checks a password, the other takes the next.
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: attempt(base, "Pas-le-bon-2026!"), range(ATTEMPTS)))
    statuses = sorted(status for status, _, _ in answers)
    allowed = int(LIMITS["connexion"][1].split()[0])
    assert statuses == [401] * allowed + [429] * (ATTEMPTS - allowed)
    refused = [(page, retry) for status, page, retry in answers if status == 429]
    for page, retry in refused:
        assert "Trop de tentatives. Réessayez dans" in page
        assert retry is not None and 0 < int(retry) <= 15 * 60
    # Locked for the right password too, whichever worker answers.
    assert attempt(base, "Mot-de-passe-2026!")[0] == 429
    log = web.log_path.read_text()
    workers = set(re.findall(r"worker=<(\d+)> POST /connexion", log))
    assert len(workers) == 2, f"only {workers} answered: {log[-2000:]}"
    assert web.poll() is None
