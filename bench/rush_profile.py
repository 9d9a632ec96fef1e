"""What one « Enregistrer » of the deadline rush costs inside the project's process: the SQL
statements and the round trips to PostgreSQL per save, and the CPU milliseconds per save;
prints figures, asserts nothing (`bench/rush.py` measures the rush itself, under gunicorn).

    python bench/rush_profile.py [--saves 300] [--profile]

The same data and the same request as `bench/rush.py` (its database, campaign, déposant and
form): the app in production mode, signed in through POST /connexion, then saves posted
with the Flask test client with the cookie of the sign-in, like the rush's clients (which do
not follow the redirect, so that no flash message piles up in the cookie). Round trips are
counted at the driver: every query the cursor sends (the pool's ping included, which
SQLAlchemy's statement events do not see) and every BEGIN / COMMIT / ROLLBACK. Then the
rush's baseline (`rush_apps.baseline`, one UPDATE) saves the same form the same way, and the
ratio of the two CPU costs is printed. `--profile` prints the share of each part of a save
(sign-in session, CSRF, dossier, cleaning, write, the framework) in cProfile's CPU time.
Needs BENCH_POSTGRES_URL or TEST_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import rush  # noqa: E402
import rush_apps  # noqa: E402


@contextmanager
def counted() -> Iterator[dict[str, list[str]]]:
    """The statements SQLAlchemy sends and the driver's round trips while the block runs."""
    sent: dict[str, list[str]] = {"statements": [], "round trips": []}

    def statement(connection, cursor, text, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        sent["statements"].append(" ".join(text.split())[:100])

    query, command = psycopg.Cursor.execute, psycopg.Connection._exec_command

    def traced_query(self, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent["round trips"].append(" ".join(str(text).split())[:100] or "(empty)")
        return query(self, text, *args, **kwargs)

    def traced_command(self, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent["round trips"].append(text.decode() if isinstance(text, bytes) else str(text))
        return command(self, text, *args, **kwargs)

    event.listen(Engine, "before_cursor_execute", statement)
    psycopg.Cursor.execute = traced_query  # type: ignore[method-assign]
    psycopg.Connection._exec_command = traced_command  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        psycopg.Cursor.execute = query  # type: ignore[method-assign]
        psycopg.Connection._exec_command = command  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", statement)


def cpu_per_save(save: Callable[[int], None], saves: int) -> float:
    """Runs `saves` saves; prints and returns the CPU milliseconds of one."""
    began, cpu = time.perf_counter(), time.process_time()
    for n in range(saves):
        save(n)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - began
    name = getattr(save, "__name__", "save")
    print(
        f"{saves} x {name}: CPU {cpu * 1000 / saves:.2f} ms per save "
        f"(wall {wall * 1000 / saves:.2f} ms, the database's time included)"
    )
    return cpu * 1000 / saves


# Where a save's CPU goes, by the function each part runs under (file ending, name), in the
# order of the request; a part's share is its cumulative time, the profiler's own included.
LAYERS = (
    ("resuming the sign-in session", "web/shared/security.py", "resume_session"),
    ("CSRF token check", "flask_wtf/csrf.py", "csrf_protect"),
    ("loading the dossier", "web/deposant/views.py", "_own_dossier"),
    ("reading the form", "web/deposant/volet_form.py", "parse"),
    ("save_volet, its write excluded", "workflow/machine/editing.py", "save_volet"),
    ("the write (UPDATE + audit)", "workflow/machine/operations.py", "write_change"),
)


def layers(stats: pstats.Stats) -> None:
    """Prints the share of each part of a save in the profiled CPU time."""
    cumulative: dict[tuple[str, str], float] = {}
    server, total = 0.0, stats.total_tt  # type: ignore[attr-defined]
    for (filename, _, name), (_, _, _, spent, _) in stats.stats.items():  # type: ignore[attr-defined]
        for _, ending, function in LAYERS:
            if filename.endswith(ending) and name == function:
                cumulative[(ending, function)] = cumulative.get((ending, function), 0.0) + spent
        if filename.endswith("flask/app.py") and name == "wsgi_app":
            server += spent
    shares = {label: cumulative.get((ending, function), 0.0) for label, ending, function in LAYERS}
    shares["save_volet, its write excluded"] -= shares["the write (UPDATE + audit)"]
    shares["Flask, Werkzeug and the rest of the app"] = server - sum(shares.values())
    shares["the test client (not in gunicorn)"] = total - server
    print("where the CPU of a save goes (cProfile, its overhead included):")
    for label, spent in shares.items():
        print(f"    {label:42} {100 * spent / total:5.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    base = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if not base:
        print("rush profile: skipped (set BENCH_POSTGRES_URL or TEST_POSTGRES_URL)")
        return
    with tempfile.TemporaryDirectory() as uploads, rush.database(base) as url:
        (client,) = rush.populate(url, 1)
        os.environ.update(
            DATABASE_URL=url,
            SECRET_KEY=secrets.token_urlsafe(48),
            RATELIMIT_STORAGE_URI="memory://",
            SCHEDULER="off",
            UPLOAD_DIR=uploads,
            BASE_URL="http://127.0.0.1",
            SESSION_COOKIE_SECURE="0",
        )
        os.environ.pop("POSTES_PARTAGES_ENV", None)  # production mode, as in the rush
        app = rush_apps.project()
        browser = app.test_client()
        path = rush._volet_path(client)
        token = rush.CSRF.search(browser.get("/connexion").text)
        form = {"csrf_token": token.group(1), "email": client.email, "password": rush.PASSWORD}
        assert browser.post("/connexion", data=form).status_code == 302
        client.csrf = rush.CSRF.search(browser.get(path).text).group(1)
        cookie = "; ".join(f"{c.key}={c.value}" for c in browser._cookies.values())
        saver = app.test_client(use_cookies=False)

        def save(n: int) -> None:
            answer = saver.post(path, data=rush._form(client, n), headers={"Cookie": cookie})
            if answer.status_code != 302:
                sys.exit(f"a save answered {answer.status_code}")
            client.version += 1

        for n in range(20):  # the definition parsed, the pool and the prepared statements warm
            save(n)
        with counted() as sent:
            save(0)
        for kind, lines in sent.items():
            print(f"{kind} per save: {len(lines)}")
            for line in lines:
                print(f"    {line}")
        project = cpu_per_save(save, args.saves)
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.runcall(lambda: [save(n) for n in range(args.saves)])
            layers(pstats.Stats(profiler))
        app.extensions["db_sessions"].kw["bind"].dispose()

        # The baseline of the rush in the same process, with the same test client, form and
        # dossier: what Flask, Werkzeug and one UPDATE cost at the least.
        bare = rush_apps.baseline().test_client(use_cookies=False)

        def bare_save(n: int) -> None:
            answer = bare.post(path, data=rush._form(client, n))
            if answer.status_code != 302:
                sys.exit(f"a bare save answered {answer.status_code}")
            client.version += 1

        for n in range(20):
            bare_save(n)
        baseline = cpu_per_save(bare_save, args.saves)
        print(f"CPU per save, project / bare UPDATE in this process: {project / baseline:.2f}x")


if __name__ == "__main__":
    main()
