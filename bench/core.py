"""Benchmark of the workflow core; prints figures, asserts nothing.

1. Firing one event on one dossier (`passer_en_instruction`, in its own transaction, the
   dossier loaded in it) against the bare row update that transition performs, and against
   the same writes done in raw SQL (update + audit row + one mail), per database.
2. Closing a campaign of N en_construction dossiers into instruction (states, audit events,
   mails) against a raw `UPDATE` + audit `INSERT ... SELECT` of the same rows.

    python bench/core.py [--dossiers 100000] [--fires 500] [--repeat 3]

PostgreSQL is measured when BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set; the benchmark
creates and drops its own database there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import NOW, migrated_databases, populate  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from workflow.machine.closing import close_campaign  # noqa: E402
from workflow.machine.operations import fire, load_dossier  # noqa: E402
from workflow.models import Dossier  # noqa: E402
from workflow.people.actors import Actor  # noqa: E402
from workflow.plumbing.db import make_engine, make_session_factory, transaction  # noqa: E402

AFTER_DEADLINE = dt.datetime(2026, 3, 21, tzinfo=dt.UTC)


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99


def bench_fire(url: str, campaign_id: int, instructeur_id: int, fires: int) -> dict[str, float]:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with engine.connect() as connection:
        ids = (
            connection.execute(
                select(Dossier.id).where(Dossier.campaign_id == campaign_id).order_by(Dossier.id)
            )
            .scalars()
            .all()
        )
    actor = Actor("instructeur", instructeur_id, None, "instr@ars.example.fr")
    fired, bare, raw = [], [], []
    # Interleave the three so that machine noise falls on all of them alike.
    for index in range(fires):
        dossier_id = ids[3 * index]
        with sessions() as session:
            start = time.perf_counter()
            with transaction(session):
                dossier = load_dossier(session, dossier_id)
                fire(session, dossier, "passer_en_instruction", actor, now=NOW)
            fired.append(time.perf_counter() - start)
        bare.append(_raw_update(engine, ids[3 * index + 1], with_journal=False))
        raw.append(_raw_update(engine, ids[3 * index + 2], with_journal=True))
    engine.dispose()
    (fm, fp), (bm, bp), (rm, rp) = summary(fired), summary(bare), summary(raw)
    return {
        "fire_median": fm,
        "fire_p99": fp,
        "bare_median": bm,
        "bare_p99": bp,
        "raw_median": rm,
        "raw_p99": rp,
    }


def _raw_update(engine, dossier_id: int, with_journal: bool) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    with engine.begin() as connection:
        version = connection.execute(
            text("SELECT version FROM dossiers WHERE id = :id"), {"id": dossier_id}
        ).scalar_one()
        connection.execute(
            text(
                "UPDATE dossiers SET state = 'en_instruction', version = version + 1, "
                "updated_at = :now WHERE id = :id AND version = :v"
            ),
            {"now": NOW.replace(tzinfo=None), "id": dossier_id, "v": version},
        )
        if with_journal:
            connection.execute(
                text(
                    "INSERT INTO audit_events (dossier_id, campaign_id, actor_label, at, event,"
                    " from_state, to_state, payload) SELECT id, campaign_id, 'bench', :now,"
                    " 'passer_en_instruction', 'en_construction', 'en_instruction', '{}'"
                    " FROM dossiers WHERE id = :id"
                ),
                {"now": NOW.replace(tzinfo=None), "id": dossier_id},
            )
            connection.execute(
                text(
                    "INSERT INTO outbox (template, recipient, dossier_id, context, message_id,"
                    " status, attempts, next_attempt_at, created_at) VALUES ('x', 'a@b.fr',"
                    " :id, '{}', :mid, 'pending', 0, :now, :now)"
                ),
                {"id": dossier_id, "mid": uuid.uuid4().hex, "now": NOW.replace(tzinfo=None)},
            )
    return time.perf_counter() - start


def bench_close(url: str, count: int, repeat: int) -> dict[str, float]:
    """Each round closes a freshly populated campaign (the audit trail cannot be rolled
    back: the database refuses to delete audit events), once raw, once through the core."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    raw_times, close_times, moved = [], [], 0
    for _ in range(repeat):
        campaign_id, _ = populate(url, count)
        start = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO audit_events (dossier_id, campaign_id, actor_label, at, event,"
                    " from_state, to_state, payload) SELECT id, campaign_id, 'bench', :now,"
                    " 'passer_en_instruction', 'en_construction', 'en_instruction', '{}'"
                    " FROM dossiers WHERE campaign_id = :c AND state = 'en_construction'"
                ),
                {"now": AFTER_DEADLINE.replace(tzinfo=None), "c": campaign_id},
            )
            connection.execute(
                text(
                    "UPDATE dossiers SET state = 'en_instruction', version = version + 1 "
                    "WHERE campaign_id = :c AND state = 'en_construction'"
                ),
                {"c": campaign_id},
            )
        raw_times.append(time.perf_counter() - start)
        campaign_id, _ = populate(url, count)
        with sessions() as session:
            start = time.perf_counter()
            with transaction(session):
                moved = close_campaign(session, campaign_id, AFTER_DEADLINE).moved
            close_times.append(time.perf_counter() - start)
    engine.dispose()
    return {
        "raw": statistics.median(raw_times),
        "close": statistics.median(close_times),
        "moved": moved,
    }


def report(name: str, url: str, args: argparse.Namespace) -> None:
    print(f"== {name}: {args.dossiers} dossiers, 500 organisations with one user each")
    campaign_id, instructeur_id = populate(url, max(args.dossiers, 3 * args.fires))
    f = bench_fire(url, campaign_id, instructeur_id, args.fires)
    for label, key in (
        ("fire one event", "fire"),
        ("bare row update", "bare"),
        ("raw same writes", "raw"),
    ):
        median, p99 = f[f"{key}_median"] * 1000, f[f"{key}_p99"] * 1000
        print(f"{label:19} median {median:7.3f} ms   p99 {p99:7.3f} ms")
    print(f"ratio fire / bare update   {f['fire_median'] / f['bare_median']:.2f}x (target <= 1.5x)")
    print(f"ratio fire / raw writes    {f['fire_median'] / f['raw_median']:.2f}x")
    c = bench_close(url, args.dossiers, args.repeat)
    print(
        f"close campaign      median {c['close']:.3f} s for {c['moved']} dossiers "
        f"(states + audit + mails)"
    )
    print(f"raw UPDATE + audit  median {c['raw']:.3f} s")
    print(f"ratio close / raw          {c['close'] / c['raw']:.2f}x (target <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--fires", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, url in migrated_databases():
        report("SQLite (WAL, synchronous=NORMAL)" if name == "SQLite" else name, url, args)


if __name__ == "__main__":
    main()
