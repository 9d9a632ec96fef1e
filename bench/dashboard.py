"""Benchmark of the instructor's dashboard on a database of 100,000 dossiers; prints
medians, asserts nothing.

    python bench/dashboard.py [--dossiers 100000] [--repeat 20]

PostgreSQL is measured too when BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import STATES, migrated_databases, populate  # noqa: E402

from workflow.instruction.dashboard import (  # noqa: E402
    Filters,
    completeness_of,
    counts_by_state,
    dossier_page,
    specialities,
    unpublished_decisions,
)
from workflow.plumbing.db import make_engine, make_session_factory  # noqa: E402


def measure(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def instructor_page(session, campaign: int) -> None:  # type: ignore[no-untyped-def]
    """Every query of the dashboard page of web/instruction.py: counts, specialities, the
    first page without brouillons, its completeness column, the decisions to publish."""
    counts_by_state(session, campaign)
    specialities(session, campaign)
    page = dossier_page(session, campaign, Filters(deposited_only=True))
    completeness_of(session, [dossier for dossier, _ in page.rows])
    unpublished_decisions(session, campaign)
    session.expunge_all()


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
            "the page as /instruction serves it": lambda: instructor_page(session, campaign),
        }
        for label, case in cases.items():
            print(f"{label:34} median {measure(case, args.repeat):8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    for name, url in migrated_databases():
        report("SQLite" if name == "SQLite" else name, url, args)


if __name__ == "__main__":
    main()
