"""What one « Enregistrer » of the deadline rush costs inside the project's process: the SQL
statements and the round trips to PostgreSQL per save, and the CPU milliseconds per save;
prints figures, asserts nothing (`bench/rush.py` measures the rush itself, under gunicorn).

    python bench/rush_profile.py [--saves 300] [--profile]

The same data and the same request as `bench/rush.py` (its database, campaign, déposant and
form): the app in production mode, signed in through POST /connexion, then saves posted
with the Flask test client with the cookie of the sign-in, like the rush's clients (which do
not follow the redirect, so that no flash message piles up in the cookie). Round trips are
counted at the driver: every query the cursor sends (the pool's ping included, which
SQLAlchemy's statement events do not see) and every BEGIN / COMMIT / ROLLBACK. `--profile`
prints cProfile's heaviest functions in CPU time. Needs BENCH_POSTGRES_URL or
TEST_POSTGRES_URL.
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
from collections.abc import Iterator
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
        began, cpu = time.perf_counter(), time.process_time()
        for n in range(args.saves):
            save(n)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - began
        print(
            f"{args.saves} saves: CPU {cpu * 1000 / args.saves:.2f} ms per save "
            f"(wall {wall * 1000 / args.saves:.2f} ms, the database's time included)"
        )
        if args.profile:
            profiler = cProfile.Profile(time.process_time)
            profiler.runcall(lambda: [save(n) for n in range(args.saves)])
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        app.extensions["db_sessions"].kw["bind"].dispose()


if __name__ == "__main__":
    main()
