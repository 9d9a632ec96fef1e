"""Benchmark of the statistics of a campaign of 100,000 deposited dossiers (a quarter of them
decided); prints medians and the ratio to one bare grouped count, asserts nothing.

    python bench/figures.py [--dossiers 100000] [--runs 7]

SQLite always; PostgreSQL too when BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set."""

from __future__ import annotations

import argparse
import statistics as stats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, literal, select  # noqa: E402

from bench.data import NOW, STATES, migrated_databases, populate  # noqa: E402
from workflow.instruction.statistics import statistics  # noqa: E402
from workflow.models import Campaign, Decision, Dossier  # noqa: E402
from workflow.plumbing.db import make_engine, make_session_factory  # noqa: E402


def median_seconds(action, runs: int) -> float:  # type: ignore[no-untyped-def]
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return stats.median(timings)


def measure(engine, campaign_id: int, runs: int):  # type: ignore[no-untyped-def]
    """(median seconds of the statistics, of one bare grouped count, the total figures)."""
    with make_session_factory(engine)() as session:
        campaign = session.get_one(Campaign, campaign_id)
        figures = median_seconds(lambda: statistics(session, [campaign]), runs)
        bare = median_seconds(
            lambda: session.execute(
                select(Dossier.state, func.count())
                .where(Dossier.campaign_id == campaign_id)
                .group_by(Dossier.state)
            ).all(),
            runs,
        )
        return figures, bare, statistics(session, [campaign]).total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for name, url in migrated_databases():
        campaign_id, _ = populate(url, args.dossiers, STATES)
        engine = make_engine(url)
        with engine.begin() as connection:
            decided = select(Dossier.id, Dossier.state, literal("Motivation."), literal(NOW)).where(
                Dossier.campaign_id == campaign_id, Dossier.state.in_(("accepte", "refuse"))
            )
            connection.execute(
                insert(Decision).from_select(
                    ["dossier_id", "kind", "motivation", "decided_at"], decided
                )
            )
        figures, bare, total = measure(engine, campaign_id, args.runs)
        print(
            f"{name}: statistics of {total.deposited} deposited dossiers ({total.decided} "
            f"decided): median {figures * 1000:.0f} ms; one bare grouped count "
            f"{bare * 1000:.0f} ms; ratio {figures / bare:.1f}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
