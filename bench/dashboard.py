"""Benchmark of the instructor's dashboard on a database of 100,000 dossiers; prints
medians, asserts nothing.

    python bench/dashboard.py [--dossiers 100000] [--repeat 20]

PostgreSQL is measured too when BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import STATES, populate  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from workflow.dashboard import Filters, counts_by_state, dossier_page  # noqa: E402
from workflow.db import make_engine, make_session_factory, migrate  # noqa: E402


def measure(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def report(name: str, url: str, args: argparse.Namespace) -> None:
    campaigns = [populate(url, args.dossiers // 4, STATES)[0] for _ in range(4)]
    campaign = campaigns[0]
    sessions = make_session_factory(make_engine(url))
    print(f"== {name}: {args.dossiers} dossiers in 4 campaigns; one campaign's dashboard")
    with sessions() as session:
        cases = {
            "counts per state": lambda: counts_by_state(session, campaign),
            "first page, by number": lambda: dossier_page(session, campaign, Filters()),
            "filter state + sort by candidate": lambda: dossier_page(
                session, campaign, Filters(state="en_instruction", sort="candidat")
            ),
            "search a name (partial)": lambda: dossier_page(
                session, campaign, Filters(search="candidat 1234")
            ),
            "search a number": lambda: dossier_page(session, campaign, Filters(search="777")),
            "last page": lambda: dossier_page(session, campaign, Filters(page=10_000)),
        }
        for label, case in cases.items():
            print(f"{label:34} median {measure(case, args.repeat):8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.sqlite3"
        migrate(url)
        report("SQLite", url, args)
    base = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if not base:
        print("PostgreSQL: skipped (set BENCH_POSTGRES_URL or TEST_POSTGRES_URL)")
        return
    admin_url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"pp_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        migrate(url)
        report("PostgreSQL", url, args)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
