"""Benchmark of the outbox; prints figures, asserts nothing.

1. Draining N due mails (one accusé « va être examiné » per dossier, rendered from its
   dossier and campaign) to an SMTP sink on loopback (aiosmtpd) with the project's sender
   (MAIL_SENDERS parallel batches, fenced claims, marks per chunk), against a bare loop
   sending the same messages, rendered beforehand, over one smtplib connection.
2. A hung SMTP server (accepts, never answers): how long the sweeps take while the mail job
   is stuck on it, against the same sweeps with no mail job; how long the stuck drain lasts
   for 200 mails; how many mails a stalled sender and a standby deliver twice.
3. A scheduler restarted after a crash: how long it takes to get the lease of its dead
   predecessor on the same host.

    python bench/mail.py [--mails 20000] [--senders 2] [--batch 200] [--rounds 1]

The machine is shared: each round measures the bare loop then the sender, and the median
of the rounds' ratios is the figure to read; CPU per mail (this process only, the sink
runs in its own) does not depend on the load.

PostgreSQL is measured when BENCH_POSTGRES_URL or TEST_POSTGRES_URL is set; the benchmark
creates and drops its own database there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiosmtpd.controller import Controller  # noqa: E402
from data import NOW, migrated_databases, populate  # noqa: E402
from sqlalchemy import delete, func, insert, select, text, update  # noqa: E402

from workflow.mail.message import build_message  # noqa: E402
from workflow.mail.sender import CLAIM, Sender, SendReport, parse_smtp_url  # noqa: E402
from workflow.mail.templates import load_for_rendering, render  # noqa: E402
from workflow.models import Dossier, OutboxMail, SchedulerLease  # noqa: E402
from workflow.plumbing.db import make_engine, make_session_factory  # noqa: E402
from workflow.scheduling.scheduler import LEASE_NAME, Leadership, Scheduler  # noqa: E402

MAIL_FROM = "ne-pas-repondre@ars.example.fr"


class Sink:
    """An SMTP server in a process of its own (so that it does not share the benchmark's
    interpreter lock), counting what it accepts and the Message-IDs it sees twice."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--sink", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(200):  # up to 10 s for it to listen
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the SMTP sink did not start")

    def stop(self) -> tuple[int, int]:
        """Stops the sink; returns (messages accepted, Message-IDs seen twice)."""
        out, _ = self.process.communicate(input="", timeout=30)
        count, duplicates = out.split()
        return int(count), int(duplicates)


class Counting:
    def __init__(self) -> None:
        self.count, self.duplicates, self.seen = 0, 0, set()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        content = envelope.original_content or b""
        start = content.find(b"Message-ID:")
        key = content[start : content.find(b"\n", start)] if start >= 0 else b""
        self.duplicates += key in self.seen
        self.seen.add(key)
        self.count += 1
        return "250 OK"


def run_sink(port: int) -> None:
    handler = Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    sys.stdin.read()  # until the benchmark closes our stdin
    controller.stop()
    print(handler.count, handler.duplicates)


def queue_mails(url: str, count: int) -> None:
    """`count` dossiers and one due mail each, as a closing queues them."""
    campaign_id, _ = populate(url, count)
    engine = make_engine(url)
    with engine.begin() as connection:
        ids = connection.execute(
            select(Dossier.id).where(Dossier.campaign_id == campaign_id)
        ).scalars()
        rows = [
            {
                "template": "passage_en_instruction",
                "recipient": f"bam{i}@ch.example.fr",
                "dossier_id": dossier_id,
                "campaign_id": campaign_id,
                "context": {},
                "message_id": f"<{uuid.uuid4().hex}@bench.example.fr>",
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": NOW,
                "created_at": NOW,
            }
            for i, dossier_id in enumerate(ids)
        ]
        for start in range(0, len(rows), 5_000):
            connection.execute(insert(OutboxMail.__table__), rows[start : start + 5_000])
    engine.dispose()


def pre_rendered(url: str) -> list[tuple[str, bytes]]:
    """The pending mails, rendered as the sender renders them (not timed)."""
    sessions = make_session_factory(make_engine(url))
    with sessions() as session:
        mails = session.scalars(select(OutboxMail).where(OutboxMail.status == "pending")).all()
        loaded = load_for_rendering(session, mails)
        messages = []
        for mail in mails:
            rendered = render(session, mail, "https://pp.example.fr")
            message = build_message(rendered, mail_from=MAIL_FROM, recipient=mail.recipient,
                                    message_id=mail.message_id, date=NOW)  # fmt: skip
            messages.append((mail.recipient, message))
        del loaded
    return messages


def bare_loop(messages: list[tuple[str, bytes]]) -> tuple[float, float]:
    """Seconds and CPU seconds of this process for the bare smtplib loop."""
    sink = Sink()
    start, cpu = time.perf_counter(), time.process_time()
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as connection:
        for recipient, message in messages:
            connection.sendmail(MAIL_FROM, [recipient], message)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    sink.stop()
    return elapsed, cpu


def bench_drain(name: str, url: str, args: argparse.Namespace) -> None:
    queue_mails(url, args.mails)
    messages = pre_rendered(url)
    count = len(messages)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    print(f"== {name}: {count} mails to an aiosmtpd sink on loopback, {args.rounds} round(s)")
    ratios, rates = [], []
    for round_ in range(args.rounds):
        if round_:
            with engine.begin() as connection:  # the same mails, due again
                connection.execute(
                    update(OutboxMail).values(status="pending", attempts=0, sent_at=None,
                                              next_attempt_at=NOW)
                )  # fmt: skip
        baseline, baseline_cpu = bare_loop(messages)
        sink = Sink()
        sender = Sender(sessions, parse_smtp_url(f"smtp://127.0.0.1:{sink.port}"),
                        mail_from=MAIL_FROM, base_url="https://pp.example.fr",
                        batch=args.batch, senders=args.senders)  # fmt: skip
        start, cpu = time.perf_counter(), time.process_time()
        report = sender.drain(now=NOW)
        drained, cpu = time.perf_counter() - start, time.process_time() - cpu
        with engine.connect() as connection:
            sent = connection.scalar(
                select(func.count()).select_from(OutboxMail).where(OutboxMail.status == "sent")
            )
        _, twice = sink.stop()
        ratios.append(baseline / drained)
        rates.append(count / drained)
        print(f"bare smtplib loop (pre-rendered) {count / baseline:8.0f} mails/s "
              f"({baseline:.1f} s, CPU {baseline_cpu / count * 1000:.2f} ms/mail)")  # fmt: skip
        print(
            f"project sender ({args.senders} x {args.batch}) {count / drained:8.0f} mails/s "
            f"({drained:.1f} s, CPU {cpu / count * 1000:.2f} ms/mail; {len(report.sent)} sent, "
            f"{sent} marked, {twice} twice)"
        )
        print(f"ratio sender / bare loop       {baseline / drained:.2f}x")
    engine.dispose()
    print(f"median: sender {statistics.median(rates):.0f} mails/s, "
          f"{statistics.median(ratios):.2f}x the bare loop (target: >= 500 mails/s)")  # fmt: skip


class Silent:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.accepted = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
                self.accepted.set()
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


def closing_tick(scheduler: Scheduler, dossiers: int, url: str) -> float:
    """Seconds for a tick whose sweeps close a due campaign of `dossiers` dossiers."""
    campaign_id, _ = populate(url, dossiers)
    start = time.perf_counter()
    report = scheduler.tick()
    elapsed = time.perf_counter() - start
    assert report is not None and campaign_id in report.closed
    return elapsed


def bench_hung(name: str, url: str, dossiers: int) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE outbox SET status = 'sent'"))
    queue_mails(url, 200)
    scheduler = Scheduler(sessions, Leadership(sessions))
    closing_tick(scheduler, 10, url)  # closes what the earlier rounds left open
    free = statistics.median(closing_tick(scheduler, dossiers, url) for _ in range(3))
    silent = Silent()
    timeout = 10.0  # long enough for the three ticks to run while the mail job is stuck
    sender = Sender(sessions, parse_smtp_url(f"smtp://127.0.0.1:{silent.port}?timeout={timeout}"),
                    mail_from=MAIL_FROM, senders=2)  # fmt: skip
    drain: dict[str, float] = {}

    def stuck() -> None:
        start = time.perf_counter()
        drain["report"] = sender.drain()  # type: ignore[assignment]
        drain["seconds"] = time.perf_counter() - start

    job = threading.Thread(target=stuck)
    job.start()
    silent.accepted.wait(timeout=30)  # the mail job is now waiting for a greeting
    hung = statistics.median(closing_tick(scheduler, dossiers, url) for _ in range(3))
    stuck_during_ticks = job.is_alive()
    job.join(timeout=60)
    scheduler.leadership.release()
    silent.close()

    # A stalled sender and a standby: the first claims, stalls past its claim, resumes.
    sink = Sink()
    smtp = parse_smtp_url(f"smtp://127.0.0.1:{sink.port}")
    stalled, standby = (Sender(sessions, smtp, mail_from=MAIL_FROM) for _ in range(2))
    with engine.begin() as connection:
        connection.execute(text("UPDATE outbox SET status = 'sent' WHERE status = 'pending'"))
    queue_mails(url, 100)
    with sessions() as session:
        claim = stalled.claim(session, NOW)
        assert claim is not None
        standby.drain(now=NOW + CLAIM + dt.timedelta(seconds=1))
        stalled.deliver(session, claim, SendReport())
    delivered, twice = sink.stop()
    engine.dispose()
    print(f"== {name}: a hung SMTP server, a tick closing {dossiers} dossiers")
    print(f"tick, no mail job              {free * 1000:8.0f} ms (median of 3)")
    print(f"tick, mail job stuck           {hung * 1000:8.0f} ms (median of 3, "
          f"{'all' if stuck_during_ticks else 'not all'} while it was stuck)")  # fmt: skip
    print(f"ratio stuck / free             {hung / free:.2f}x (target: ~1, sweeps unaffected)")
    print(
        f"stuck drain of 200 mails       {drain.get('seconds', float('nan')):8.1f} s "
        f"(timeout {timeout:g} s, once; before: 200 x 20 s)"
    )
    print(f"stalled sender + standby       {delivered} deliveries of 100 mails, "
          f"{twice} twice (before: every mail twice)")  # fmt: skip


def bench_restart(name: str, url: str) -> None:
    """A scheduler restarted on the host of a leader that died without releasing its lease."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    with engine.begin() as connection:
        connection.execute(delete(SchedulerLease))
        connection.execute(
            insert(SchedulerLease).values(
                name=LEASE_NAME,
                holder=f"{socket.gethostname()}:{child.pid}:dead00",
                expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60),
            )
        )
    start = time.perf_counter()
    taken = Leadership(sessions).acquire()
    elapsed = time.perf_counter() - start
    engine.dispose()
    print(f"== {name}: restart after a crash (same host, leader's process gone)")
    print(f"lease taken                    {elapsed * 1000:8.1f} ms ({'yes' if taken else 'NO'}; "
          f"before: the 60 s lease ran out first)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mails", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1, help="bare loop and drain, alternated")
    parser.add_argument("--dossiers", type=int, default=1_000, help="closed by the hung tick")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink(args.sink)
        return
    for name, url in migrated_databases():
        label = "SQLite (WAL, synchronous=NORMAL)" if name == "SQLite" else name
        bench_drain(label, url, args)
        bench_hung(label, url, args.dossiers)
        bench_restart(label, url)


if __name__ == "__main__":
    main()
