"""Benchmark of the instructor's dashboard over HTTP, on a campaign of 100,000 deposited
dossiers; prints p50/p95 and ratios, asserts nothing.

    python bench/dashboard.py [--dossiers 100000] [--requests 60] [--budget 900]

The app is served by gunicorn (2 workers) exactly as in production, and an instructeur who
follows the campaign asks for: the first page, a filtered page (a state and a speciality,
sorted by candidate), a search by part of a name, the last page (the « Dernière page »
link of the first page) and the first page sorted by organisation. The baseline, measured in
the same run under the same gunicorn, is a bare Flask endpoint doing one indexed
`SELECT … LIMIT 50` on the same table (bench/baseline_app.py), asked right after each page on
the same machine at the same moment: the ratio says what the dashboard costs beyond one query
and HTTP, whatever else the machine is doing.

SQLite always; PostgreSQL too when BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set (a database
of its own, dropped afterwards). Every request has a timeout and the whole run a budget.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import re
import socket
import subprocess
import sys
import time
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from data import analyse, migrated_databases, populate  # noqa: E402
from sqlalchemy import update  # noqa: E402

from workflow.models import Campaign, CampaignInstructor, User  # noqa: E402
from workflow.people.sign_in_sessions import open_session  # noqa: E402
from workflow.plumbing.db import make_engine, make_session_factory, transaction  # noqa: E402

SECRET_KEY = "bench-dashboard-secret-key-0123456789-abcdefghij"
TIMEOUT = 30.0
CASES = ("first page", "filtered", "search", "last page", "organisation")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn with 2 workers on a free loopback port, stopped on exit."""

    def __init__(self, app: str, env: dict[str, str], log: Path):
        self.port = free_port()
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{self.port}",
                "--timeout",
                "60",
                app,
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, path: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn stopped; see {self.log.name}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", path)
                connection.getresponse().read()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not answer in time")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def get(connection: http.client.HTTPConnection, path: str, cookie: str) -> tuple[int, str]:
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    return response.status, response.read().decode()


def measure(
    port: int, path: str, cookie: str, baseline_port: int, count: int, deadline: float
) -> tuple[list[float], list[float]]:
    """`count` requests of `path`, each followed by one of the baseline, on two keep-alive
    connections (after 3 of each to warm both servers up): whatever else the machine does
    falls on both alike. Milliseconds each, the page's then the baseline's."""
    page = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    bare = http.client.HTTPConnection("127.0.0.1", baseline_port, timeout=TIMEOUT)
    times: tuple[list[float], list[float]] = ([], [])
    for index in range(count + 3):
        if time.monotonic() > deadline:
            break
        for connection, target, url, who in (
            (page, times[0], path, cookie),
            (bare, times[1], "/", ""),
        ):
            start = time.perf_counter()
            status, _ = get(connection, url, who)
            elapsed = (time.perf_counter() - start) * 1000
            if status != 200:
                raise SystemExit(f"GET {url}: {status}")
            if index >= 3:
                target.append(elapsed)
    page.close()
    bare.close()
    return times


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def signed_in_cookie(url: str, campaign_id: int, instructeur_id: int) -> str:
    """An instructeur who follows the campaign, signed in as the sign-in page does: a
    server-side session and Flask's signed cookie naming it."""
    from flask import Flask

    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as session, transaction(session):
        session.execute(
            update(User)
            .where(User.id == instructeur_id)
            .values(email_confirmed_at=dt.datetime.now(dt.UTC))
        )
        session.add(
            CampaignInstructor(
                campaign_id=campaign_id, user_id=instructeur_id, since=dt.datetime.now(dt.UTC)
            )
        )
        session.flush()
        token = open_session(session, session.get(User, instructeur_id))
    engine.dispose()
    signer = Flask("cookie")
    signer.secret_key = SECRET_KEY
    value = signer.session_interface.get_signing_serializer(signer).dumps(
        {"_user_id": token, "_fresh": True}
    )
    return f"session={value}"


def last_page_path(html: str) -> str:
    """The « Dernière page » link of the first page."""
    match = re.search(r'href="([^"]+)"[^>]*>\s*Dernière page', html) or re.search(
        r'class="fr-pagination__link fr-pagination__link--last" href="([^"]+)"', html
    )
    if match is None:
        raise SystemExit("no « Dernière page » link on the first page")
    return unescape(match.group(1)).split("#")[0]


def report(name: str, url: str, args: argparse.Namespace, deadline: float) -> None:
    start = time.perf_counter()
    campaign_id, instructeur_id = populate(
        url, args.dossiers, ("en_construction", "en_instruction", "accepte", "refuse")
    )
    analyse(url)
    built = time.perf_counter() - start
    sessions = make_session_factory(make_engine(url))
    with sessions() as session:
        slug = session.get(Campaign, campaign_id).slug
    cookie = signed_in_cookie(url, campaign_id, instructeur_id)
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SCHEDULER": "off",
        "BENCH_CAMPAIGN_ID": str(campaign_id),
    }
    base = f"/instruction/campagnes/{slug}"
    logs = Path(os.environ.get("BENCH_LOG_DIR", "/tmp"))
    print(f"== {name}: one campaign of {args.dossiers} deposited dossiers (built in {built:.0f} s)")
    results: dict[str, tuple[list[float], list[float]]] = {}
    baseline = Server("baseline_app:create_app()", env, logs / "bench-baseline.log")
    server = Server("web:create_app()", env, logs / "bench-dashboard.log")
    try:
        baseline.wait_ready("/", deadline)
        server.wait_ready("/", deadline)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
        status, first = get(connection, base, cookie)
        connection.close()
        if status != 200 or "Dossiers déposés" not in first:
            raise SystemExit(f"the dashboard did not answer as an instructor's page ({status})")
        paths = {
            "first page": base,
            "filtered": f"{base}?etat=en_instruction&specialite=Cardiologie&tri=candidat",
            "search": f"{base}?q=candidat+1234",
            "last page": last_page_path(first),
            "organisation": f"{base}?tri=organisation",
        }
        for case in CASES:
            results[case] = measure(
                server.port, paths[case], cookie, baseline.port, args.requests, deadline
            )
    finally:
        server.stop()
        baseline.stop()
    print(f"{'':14} {'p50 ms':>8} {'p95 ms':>8} {'baseline p95':>13} {'p95 ratio':>10} {'n':>4}")
    for label, (samples, bare) in results.items():
        if not samples:
            print(f"{label:14} (out of time)")
            continue
        p50, p95, base_p95 = (
            percentile(samples, 0.5),
            percentile(samples, 0.95),
            percentile(bare, 0.95),
        )
        print(
            f"{label:14} {p50:8.1f} {p95:8.1f} {base_p95:13.1f} {p95 / base_p95:9.1f}x "
            f"{len(samples):4}"
        )
    print("target: p95 <= 50 ms for each page; the baseline is one indexed SELECT … LIMIT 50")


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--budget", type=float, default=900, help="seconds for the whole run")
    args = parser.parse_args()
    deadline = time.monotonic() + args.budget
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "bench"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    )
    for name, url in migrated_databases():
        report(name, url, args, deadline)


if __name__ == "__main__":
    main()
