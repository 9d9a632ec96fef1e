"""Deadline-day rush: 50 déposants saving a volet at once, against a bare endpoint.

Self-contained and bounded: creates a PostgreSQL database of its own (from
BENCH_POSTGRES_URL or TEST_POSTGRES_URL; skipped with a message without one), migrates it,
opens a campaign with one brouillon per client, and serves under the same gunicorn settings
(`gunicorn.conf.py`, 4 workers):

- the project, in production mode (a random 48-character SECRET_KEY, throttling in
  `memory://`, SCHEDULER=off; the sign-in limit per address raised by configuration in
  `rush_apps.RUSH_LIMITS`, since the 50 clients all come from 127.0.0.1);
- the baseline, `rush_apps.baseline`: a bare Flask endpoint doing one `UPDATE` + commit.

Each client signs in once (a real POST /connexion with the CSRF token of the form), then
for `--seconds` posts « Enregistrer » of the first volet with its CSRF token and the
dossier's current `version`, on a keep-alive connection. Rounds alternate project and
baseline so that the machine's noise falls on both alike; each prints req/s and
p50/p95/p99, then the ratios.

    python bench/rush.py [--clients 50] [--seconds 20] [--rounds 3] [--warmup 3]

A client does not follow the redirect after a save (the baseline has no page to show) and
keeps the session cookie of its sign-in: the version it posts next is the one it saved plus
one, read back from the database after an unexpected answer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.conftest import COMPLETE_VALUES, definition  # noqa: E402
from workflow.campaigns.store import store_campaign  # noqa: E402
from workflow.models import Dossier, Organisation, User  # noqa: E402
from workflow.people.passwords import hash_password  # noqa: E402
from workflow.plumbing.db import make_engine, make_session_factory, migrate, transaction  # noqa: E402

PASSWORD = "Rush-du-jour-J-2026!"
VOLET = "identification"
STARTUP_SECONDS = 60
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Client:
    dossier_id: int
    email: str
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    version: int = 1


@dataclass
class Round:
    name: str
    seconds: float
    latencies: list[float]
    failures: int

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


# --- the database ----------------------------------------------------------------------------


@contextmanager
def database(base: str) -> Iterator[str]:
    """A migrated database of our own on the server, dropped afterwards."""
    admin_url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"pp_rush_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        migrate(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def populate(url: str, count: int) -> list[Client]:
    """An open campaign, `count` hospitals with one confirmed déposant and one brouillon."""
    today = dt.date.today()
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    password_hash = hash_password(PASSWORD)
    with sessions() as session, transaction(session):
        loaded = store_campaign(
            session,
            definition(
                slug="rush",
                opens=today - dt.timedelta(days=30),
                deadline=today + dt.timedelta(days=30),
                confirmation_window={
                    "start": today + dt.timedelta(days=120),
                    "end": today + dt.timedelta(days=150),
                },
                start_dates=[today + dt.timedelta(days=160)],
            ),
        )
        campaign_id, version_id = loaded.campaign.id, loaded.version.id
        orgs = [
            Organisation(type="etablissement_sante", name=f"CH {i}", finess=f"RU{i:07d}")
            for i in range(count)
        ]
        session.add_all(orgs)
        session.flush()
        org_ids = [o.id for o in orgs]
    now = dt.datetime.now(dt.UTC)
    emails = [f"bam{i}@ch-rush.example.fr" for i in range(count)]
    with engine.begin() as connection:
        connection.execute(
            insert(User.__table__),
            [
                {
                    "email": email,
                    "password_hash": password_hash,
                    "role": "deposant",
                    "organisation_id": org_id,
                    "email_confirmed_at": now,
                }
                for email, org_id in zip(emails, org_ids, strict=True)
            ],
        )
        connection.execute(
            insert(Dossier.__table__),
            [
                {
                    "campaign_id": campaign_id,
                    "campaign_version_id": version_id,
                    "organisation_id": org_id,
                    # What the ORM writes at creation; a bulk INSERT bypasses it.
                    "organisation_name": f"CH {index}",
                    "state": "brouillon",
                    "values": COMPLETE_VALUES,
                    "attestations": [],
                    "consent": False,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for index, org_id in enumerate(org_ids)
            ],
        )
        ids = connection.execute(
            select(Dossier.id).where(Dossier.campaign_id == campaign_id).order_by(Dossier.id)
        ).scalars()
        clients = [Client(i, e) for i, e in zip(ids, emails, strict=True)]
    engine.dispose()
    return clients


# --- the servers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: str, url: str, workers: int, log_dir: str) -> Iterator[int]:
    """gunicorn with the project's settings file serving `rush_apps:<app>()`."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "RATELIMIT_STORAGE_URI": "memory://",
        "SCHEDULER": "off",
        "UPLOAD_DIR": os.path.join(log_dir, "uploads"),
        "BASE_URL": f"http://127.0.0.1:{port}",
        "SESSION_COOKIE_SECURE": "0",
    }
    env.pop("POSTES_PARTAGES_ENV", None)  # production mode, the default
    log_path = os.path.join(log_dir, f"{app}.log")
    command = [
        *(sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"),
        *("-b", f"127.0.0.1:{port}", "-w", str(workers), "--pythonpath", "bench"),
        f"rush_apps:{app}()",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        _wait_until_up(port, process, log_path)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_up(port: int, process: subprocess.Popen, log_path: str) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn stopped:\n{Path(log_path).read_text()[-3000:]}")
        # The master listens before its workers have imported the app: ask for a page.
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.5)
    log = Path(log_path).read_text()[-3000:]
    sys.exit(f"gunicorn did not answer in {STARTUP_SECONDS} s:\n{log}")


# --- the clients -----------------------------------------------------------------------------


def _request(
    connection: http.client.HTTPConnection,
    client: Client,
    method: str,
    path: str,
    form: dict[str, str] | None = None,
    keep_cookies: bool = True,
) -> tuple[int, str]:
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    content = response.read().decode("utf-8", "replace")
    if keep_cookies:
        for line in response.headers.get_all("Set-Cookie") or []:
            name, _, value = line.split(";", 1)[0].partition("=")
            client.cookies[name.strip()] = value
    return response.status, content


def sign_in(port: int, client: Client) -> None:
    """GET then POST /connexion like a browser, then reads the volet form's CSRF token."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    status, page = _request(connection, client, "GET", "/connexion")
    token = CSRF.search(page)
    if status != 200 or token is None:
        sys.exit(f"/connexion answered {status} without a form")
    form = {"csrf_token": token.group(1), "email": client.email, "password": PASSWORD}
    status, _ = _request(connection, client, "POST", "/connexion", form)
    if status != 302:
        sys.exit(f"sign-in of {client.email} answered {status}")
    status, page = _request(connection, client, "GET", _volet_path(client))
    token = CSRF.search(page)
    if status != 200 or token is None:
        sys.exit(f"the volet page answered {status} after sign-in")
    client.csrf = token.group(1)
    connection.close()


def _volet_path(client: Client) -> str:
    return f"/dossiers/{client.dossier_id}/volets/{VOLET}"


def _form(client: Client, n: int) -> dict[str, str]:
    values = {k: str(v) for k, v in COMPLETE_VALUES[VOLET].items()}
    values["partenaire_nom"] = f"CHU La Pyte {n}"  # each save changes something
    return {"csrf_token": client.csrf, "version": str(client.version), **values}


def run_round(name: str, port: int, clients: list[Client], url: str, seconds: float) -> Round:
    """Every client saves in a loop on its own keep-alive connection for `seconds`."""
    engine = make_engine(url)
    _read_versions(engine, clients)
    latencies: list[list[float]] = [[] for _ in clients]
    failures = [0] * len(clients)
    start_line = threading.Barrier(len(clients) + 1)
    stop_at = [0.0]

    def work(index: int, client: Client) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start_line.wait()
        n = 0
        while time.perf_counter() < stop_at[0]:
            n += 1
            began = time.perf_counter()
            try:
                status, _ = _request(
                    connection, client, "POST", _volet_path(client), _form(client, n), False
                )
            except (OSError, http.client.HTTPException):
                status = 0
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            if status == 302:
                latencies[index].append(time.perf_counter() - began)
                client.version += 1
            else:
                failures[index] += 1
                _read_versions(engine, [client])
        connection.close()

    threads = [
        threading.Thread(target=work, args=(i, c), daemon=True) for i, c in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start_line.wait()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.perf_counter() - began
    engine.dispose()
    return Round(name, elapsed, [x for per in latencies for x in per], sum(failures))


def _read_versions(engine, clients: list[Client]) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        versions = dict(
            connection.execute(
                select(Dossier.id, Dossier.version).where(
                    Dossier.id.in_([c.dossier_id for c in clients])
                )
            ).all()
        )
    for client in clients:
        client.version = versions[client.dossier_id]


# --- the report ------------------------------------------------------------------------------


def show(r: Round) -> None:
    print(
        f"{r.name:9} {r.rate:8.1f} req/s   p50 {r.percentile(0.5) * 1000:6.1f} ms   "
        f"p95 {r.percentile(0.95) * 1000:6.1f} ms   p99 {r.percentile(0.99) * 1000:6.1f} ms   "
        f"({len(r.latencies)} saves, {r.failures} failed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=3)
    args = parser.parse_args()
    base = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if not base:
        print("deadline rush: skipped (set BENCH_POSTGRES_URL or TEST_POSTGRES_URL)")
        return
    print(
        f"== deadline rush on PostgreSQL: {args.clients} clients saving a volet, "
        f"{args.rounds} x {args.seconds:.0f} s per side, gunicorn {args.workers} workers"
    )
    rounds: dict[str, list[Round]] = {"project": [], "baseline": []}
    with (
        tempfile.TemporaryDirectory() as log_dir,
        database(base) as url,
    ):
        clients = populate(url, args.clients)
        with (
            serving("project", url, args.workers, log_dir) as project_port,
            serving("baseline", url, args.workers, log_dir) as baseline_port,
        ):
            for client in clients:
                sign_in(project_port, client)
            # Unmeasured: the workers' first requests load templates and warm their pools.
            for port in (project_port, baseline_port):
                run_round("warm-up", port, clients, url, args.warmup)
            for _ in range(args.rounds):
                for name, port in (("project", project_port), ("baseline", baseline_port)):
                    done = run_round(name, port, clients, url, args.seconds)
                    rounds[name].append(done)
                    show(done)
    project, baseline = rounds["project"], rounds["baseline"]
    rate = statistics.median(r.rate for r in project) / statistics.median(r.rate for r in baseline)
    p99 = statistics.median(r.percentile(0.99) for r in project) * 1000
    base_p99 = statistics.median(r.percentile(0.99) for r in baseline) * 1000
    print(f"ratio rush req/s project / bare UPDATE   {rate:.2f}x (target >= 0.6x)")
    print(f"p99 project {p99:.0f} ms vs bare UPDATE {base_p99:.0f} ms (target <= 100 ms)")


if __name__ == "__main__":
    main()
