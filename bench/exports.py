"""Benchmark of the export jobs on a campaign of 100,000 dossiers: time and peak memory above
idle of the CSV and XLSX jobs, each against a bare baseline measured in the same run, then
three XLSX jobs at once in three worker processes while the dashboard's queries are timed.
Prints figures, asserts nothing; every step runs in a child process killed after --timeout.

    python bench/exports.py [--dossiers 100000] [--timeout 600] [--sqlite]

PostgreSQL (BENCH_POSTGRES_URL or TEST_POSTGRES_URL) is measured, SQLite with --sqlite.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import analyse, migrated_databases, populate  # noqa: E402
from sqlalchemy import text  # noqa: E402

from workflow.instruction.dashboard import Filters, counts_by_state, dossier_page  # noqa: E402
from workflow.instruction.export_jobs import claim_next, request_export, run_job  # noqa: E402
from workflow.models import Campaign, User  # noqa: E402
from workflow.plumbing import clock  # noqa: E402
from workflow.plumbing.db import make_engine, make_session_factory, transaction  # noqa: E402
from workflow.plumbing.storage import Storage  # noqa: E402

DEPOSITED_STATES = ("en_construction", "en_instruction", "accepte", "refuse")


def rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the
    parent that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(task: str, url: str, campaign_id: int, store: str, arg: int, out) -> None:  # type: ignore[no-untyped-def]
    """One measured task in a fresh process: (seconds, peak MB above idle)."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with engine.connect() as connection:
        connection.execute(text("select 1"))
    idle = rss_mb()
    start = time.perf_counter()
    if task == "job":
        state = run_job(sessions, Storage(store), arg, f"bench-{arg}")
        assert state == "done", state
    elif task == "baseline-csv":
        with tempfile.TemporaryFile("w+", newline="") as output, engine.connect() as connection:
            writer = csv.writer(output, delimiter=";")
            rows = connection.execution_options(stream_results=True, yield_per=1000).execute(
                text(
                    'select number, organisation_id, state, deposited_at, "values" '
                    "from dossiers where campaign_id = :c and state != 'brouillon' "
                    "order by number"
                ),
                {"c": campaign_id},
            )
            for row in rows:
                writer.writerow(row)
    elif task == "baseline-xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Dossiers")
        with engine.connect() as connection:
            rows = connection.execution_options(stream_results=True, yield_per=1000).execute(
                text(
                    'select number, organisation_id, state, deposited_at, "values" '
                    "from dossiers where campaign_id = :c and state != 'brouillon' "
                    "order by number"
                ),
                {"c": campaign_id},
            )
            for row in rows:
                # The same number of cells as the real export: every field flattened.
                # SQLite hands the raw JSON text to a text() query; PostgreSQL decodes it.
                values = json.loads(row[4]) if isinstance(row[4], str) else row[4] or {}
                cells = [v for volet in values.values() for v in volet.values()]
                when = row[3]
                if isinstance(when, str):  # SQLite's text; a datetime on PostgreSQL
                    when = dt.datetime.fromisoformat(when)
                sheet.append([row[0], row[1], row[2], when.replace(tzinfo=None), *map(str, cells)])
        with tempfile.TemporaryFile() as output:
            book.save(output)
    out.put((time.perf_counter() - start, peak_mb() - idle))
    engine.dispose()


def measured(task: str, url: str, campaign_id: int, store: str, arg: int, timeout: float):  # type: ignore[no-untyped-def]
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_child, args=(task, url, campaign_id, store, arg, out))
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        return None
    return out.get(timeout=5) if not out.empty() else None


def queue_job(sessions, campaign_id: int, user_id: int, kind: str) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session, transaction(session):
        campaign = session.get(Campaign, campaign_id)
        user = session.get(User, user_id)
        job = request_export(session, campaign, kind, user, clock.now())
        # Each measurement gets its own job, even for the same request.
        session.flush()
        job_id = job.id
    assert claim_next(sessions, f"bench-{job_id}", clock.now()) == job_id
    return job_id


def show(label: str, result, baseline=None):  # type: ignore[no-untyped-def]
    """Prints a measure, with its ratio to the bare baseline of the same run when given;
    returns it for the next line's ratio."""
    if result is None:
        print(f"{label:34} did not finish in time")
        return None
    ratio = f"   {result[0] / baseline[0]:5.2f}x the baseline" if baseline else ""
    print(f"{label:34} {result[0]:7.1f} s   peak {result[1]:7.1f} MB above idle{ratio}")
    return result


def report(name: str, url: str, args: argparse.Namespace) -> None:
    campaign_id, user_id = populate(url, args.dossiers, DEPOSITED_STATES)
    # The dashboard measured beside the exports reads the database as a live one has it.
    analyse(url)
    sessions = make_session_factory(make_engine(url))
    store = tempfile.mkdtemp(prefix="bench-exports-")
    print(f"== {name}: export of a campaign of {args.dossiers} deposited dossiers")
    # The baselines stay bare csv.writer and bare openpyxl write-only over the same rows,
    # whatever writer the jobs use: ratios stay comparable across versions (issue 10).
    baseline = show(
        "baseline CSV (bare csv.writer)",
        measured("baseline-csv", url, campaign_id, store, 0, args.timeout),
    )
    show(
        "CSV job",
        measured(
            "job",
            url,
            campaign_id,
            store,
            queue_job(sessions, campaign_id, user_id, "csv"),
            args.timeout,
        ),
        baseline,
    )
    baseline = show(
        "baseline XLSX (bare write-only)",
        measured("baseline-xlsx", url, campaign_id, store, 0, args.timeout),
    )
    show(
        "XLSX job",
        measured(
            "job",
            url,
            campaign_id,
            store,
            queue_job(sessions, campaign_id, user_id, "xlsx"),
            args.timeout,
        ),
        baseline,
    )

    # Three XLSX exports at once, one per worker process, while the dashboard is used.
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    jobs = [queue_job(sessions, campaign_id, user_id, "xlsx") for _ in range(3)]
    processes = [
        context.Process(target=_child, args=("job", url, campaign_id, store, job, out))
        for job in jobs
    ]
    with sessions() as session:
        idle_latencies = [_dashboard(session, campaign_id) for _ in range(5)]
    start = time.perf_counter()
    for process in processes:
        process.start()
    latencies = []
    with sessions() as session:
        while any(p.is_alive() for p in processes) and time.perf_counter() - start < args.timeout:
            latencies.append(_dashboard(session, campaign_id))
            time.sleep(0.5)
    for process in processes:
        process.join(max(1.0, args.timeout - (time.perf_counter() - start)))
        if process.is_alive():
            process.kill()
    elapsed = time.perf_counter() - start
    results = [out.get(timeout=5) for _ in range(out.qsize())] if not out.empty() else []
    print(
        f"three XLSX jobs at once            {elapsed:7.1f} s   {len(results)}/3 done; peaks "
        + ", ".join(f"{r[1]:.1f}" for r in results)
        + " MB above idle"
    )
    idle_ms = statistics.median(idle_latencies) * 1000
    print(f"dashboard queries, idle            median {idle_ms:7.1f} ms")
    if latencies:
        busy_ms, worst_ms = statistics.median(latencies) * 1000, max(latencies) * 1000
        print(
            f"dashboard queries during exports   median {busy_ms:7.1f} ms, "
            f"max {worst_ms:7.1f} ms ({len(latencies)} requests)"
        )
    print(f"this process (queues, dashboard): peak {peak_mb():.0f} MB, now {rss_mb():.0f} MB")


def _dashboard(session, campaign_id: int) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    counts_by_state(session, campaign_id)
    dossier_page(session, campaign_id, Filters())
    session.expunge_all()
    session.rollback()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    for name, url in migrated_databases():
        if name == "SQLite" and not args.sqlite:
            continue
        report(name, url, args)


if __name__ == "__main__":
    main()
