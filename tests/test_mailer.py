"""The outbox sent over a real SMTP server on loopback: retries, bounces, exactly once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import World, at_paris
from workflow.machine.operations import fire
from workflow.mail.sender import (
    CLAIM,
    RateLimiter,
    Sender,
    SendReport,
    failed_mails,
    parse_smtp_url,
    send_pending,
)
from workflow.models import OutboxMail
from workflow.plumbing.db import transaction

DEPOSIT_DAY = at_paris(2026, 3, 10)


def deposited(sessions) -> tuple[int, str]:
    """A dossier deposited, its accusé de réception waiting in the outbox."""
    with sessions() as session:
        dossier, deposant = World(session).deposited()
        return dossier.id, deposant.label


def send(sessions, smtp_server, now=DEPOSIT_DAY, port=None):
    settings = parse_smtp_url(f"smtp://127.0.0.1:{port or smtp_server.port}?timeout=5")
    return send_pending(sessions, settings, mail_from="ars@example.fr",
                        base_url="https://pp.example.fr", now=now)  # fmt: skip


def outbox(sessions) -> list[OutboxMail]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def test_the_accuse_de_reception_arrives_with_its_number_and_message_id(sessions, smtp_server):
    _, address = deposited(sessions)
    report = send(sessions, smtp_server)
    (mail,) = outbox(sessions)
    assert report.sent == [mail.id]
    (message,) = smtp_server.to(address)
    assert message["Subject"].startswith("Votre dossier n° 1 a bien été déposé")
    assert message["Message-ID"] == mail.message_id
    assert message["From"] == "ars@example.fr"
    text = message.get_body(("plain",)).get_content()
    assert "Candidat pressenti : Lambourde Peggy" in text
    assert "https://pp.example.fr/dossiers/" in text
    html = message.get_body(("html",)).get_content()
    assert "<strong>n° 1</strong>" in html
    assert (mail.status, mail.attempts) == ("sent", 1)


def sender_for(sessions, url, **options) -> Sender:
    return Sender(sessions, parse_smtp_url(url), mail_from="ars@example.fr",
                  base_url="https://pp.example.fr", **options)  # fmt: skip


def test_a_mail_waits_while_smtp_is_down_then_arrives_exactly_once(sessions, smtp_server):
    _, address = deposited(sessions)
    smtp_server.stop()
    sender = sender_for(sessions, f"{smtp_server.url}?timeout=5")
    down = sender.drain(now=DEPOSIT_DAY)
    (mail,) = outbox(sessions)
    assert down.released == [mail.id] and down.breaker_open
    # Nothing was sent: the mail is due again at once and the attempt is not counted.
    assert (mail.status, mail.attempts, mail.next_attempt_at) == ("pending", 0, DEPOSIT_DAY)
    assert mail.last_error
    # The breaker keeps the sender off the server for 30 s: no claim, no attempt.
    assert sender.drain(now=DEPOSIT_DAY + dt.timedelta(seconds=29)).claimed == 0
    assert outbox(sessions)[0].attempts == 0
    smtp_server.start()
    back = DEPOSIT_DAY + dt.timedelta(seconds=30)
    assert sender.drain(now=back).sent == [mail.id]
    assert sender.drain(now=back + dt.timedelta(hours=1)).sent == []
    assert len(smtp_server.to(address)) == 1
    assert outbox(sessions)[0].status == "sent"


def test_a_4xx_answer_is_retried_after_a_minute_with_the_same_message_id(sessions, smtp_server):
    _, address = deposited(sessions)
    smtp_server.deferred.add(address)
    report = send(sessions, smtp_server)
    (mail,) = outbox(sessions)
    assert report.retried == [mail.id]
    assert (mail.status, mail.attempts) == ("pending", 1)
    assert mail.next_attempt_at == DEPOSIT_DAY + dt.timedelta(minutes=1)
    assert "451" in mail.last_error
    smtp_server.deferred.clear()
    assert send(sessions, smtp_server, now=DEPOSIT_DAY + dt.timedelta(minutes=1)).sent == [mail.id]
    (message,) = smtp_server.to(address)
    assert message["Message-ID"] == mail.message_id


def test_a_change_rolled_back_sends_nothing(sessions, smtp_server):
    with sessions() as session:
        world = World(session)
        campaign = world.campaign()
        hospital = world.organisation()
        deposant = world.actor("deposant", hospital)
        dossier = world.dossier(campaign, hospital)
        with (
            time_machine.travel(DEPOSIT_DAY, tick=False),
            pytest.raises(RuntimeError),
            transaction(session),
        ):
            fire(session, dossier, "deposer", deposant)
            raise RuntimeError("the page failed after the transition")
    assert outbox(sessions) == []
    assert send(sessions, smtp_server).sent == []
    assert smtp_server.messages == []


def test_a_refused_address_is_recorded_as_a_bounce_and_not_retried(sessions, smtp_server):
    _, address = deposited(sessions)
    smtp_server.refused.add(address)
    report = send(sessions, smtp_server)
    (mail,) = outbox(sessions)
    assert report.failed == [mail.id]
    assert mail.status == "failed"
    assert "550" in mail.last_error
    with sessions() as session:
        assert [m.id for m in failed_mails(session)] == [mail.id]
    assert send(sessions, smtp_server, now=DEPOSIT_DAY + dt.timedelta(days=1)).failed == []


def test_the_dashboard_reads_only_the_newest_bounces_it_shows(sessions, smtp_server):
    mails_for(sessions, 3)
    smtp_server.refused.update(mail.recipient for mail in outbox(sessions))
    bounced = sorted(send(sessions, smtp_server).failed)
    assert len(bounced) == 3
    with sessions() as session:
        assert [m.id for m in failed_mails(session, limit=2)] == bounced[:0:-1]
        assert [m.id for m in failed_mails(session)] == bounced[::-1]


def test_two_senders_at_once_send_each_mail_once(sessions, smtp_server):
    with sessions() as session:
        world = World(session)
        campaign = world.campaign()
        hospital = world.organisation()
        for _ in range(3):
            world.actor("deposant", hospital)
        deposant = world.actor("deposant", hospital)
        dossiers = [world.dossier(campaign, hospital) for _ in range(5)]
        with time_machine.travel(DEPOSIT_DAY, tick=False):
            for dossier in dossiers:
                with transaction(session):
                    fire(session, dossier, "deposer", deposant)
    barrier = threading.Barrier(2)

    def sender():
        barrier.wait()
        send(sessions, smtp_server)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    mails = outbox(sessions)
    assert len(mails) == 20
    assert {m.status for m in mails} == {"sent"}
    assert sorted(m["Message-ID"] for m in smtp_server.messages) == sorted(
        m.message_id for m in mails
    )


def test_smtp_urls_are_read_with_their_options():
    settings = parse_smtp_url("smtp://ars%40example.fr:s3cr%C3%A9t@mail.example.fr:587?starttls=1")
    assert (settings.host, settings.port, settings.user) == (
        "mail.example.fr",
        587,
        "ars@example.fr",
    )
    assert (settings.password, settings.starttls, settings.ssl) == ("s3crét", True, False)
    assert parse_smtp_url("smtps://mail.example.fr").port == 465
    with pytest.raises(ValueError, match="SMTP_URL"):
        parse_smtp_url("http://mail.example.fr")


def mails_for(sessions, dossiers: int) -> list[str]:
    """`dossiers` deposited dossiers of one hospital with one déposant: one accusé de
    réception each; returns their Message-IDs."""
    with sessions() as session:
        world = World(session)
        campaign = world.campaign()
        hospital = world.organisation()
        deposant = world.actor("deposant", hospital)
        for dossier in [world.dossier(campaign, hospital) for _ in range(dossiers)]:
            with time_machine.travel(DEPOSIT_DAY, tick=False), transaction(session):
                fire(session, dossier, "deposer", deposant)
    return [m.message_id for m in outbox(sessions)]


def test_a_hung_smtp_server_costs_one_timeout_then_the_breaker_keeps_senders_off(
    sessions, silent_smtp_server
):
    mails_for(sessions, 5)
    sender = sender_for(sessions, silent_smtp_server.url(timeout=0.5), senders=2)
    report = sender.drain(now=DEPOSIT_DAY)
    assert report.sent == [] and report.breaker_open
    assert sorted(report.released) == [m.id for m in outbox(sessions)]
    # Every row is due again at once, its attempt not counted, the reason noted.
    assert {(m.status, m.attempts, m.next_attempt_at) for m in outbox(sessions)} == {
        ("pending", 0, DEPOSIT_DAY)
    }
    assert all(m.last_error for m in outbox(sessions))
    assert len(silent_smtp_server.connections) == 1  # one timeout, not one per mail
    # Open for 30 s: no connection at all.
    assert sender.drain(now=DEPOSIT_DAY + dt.timedelta(seconds=20)).claimed == 0
    assert len(silent_smtp_server.connections) == 1
    # Then one probe: one more timeout, and the breaker opens for longer (1 min).
    probe = sender.drain(now=DEPOSIT_DAY + dt.timedelta(seconds=30))
    assert probe.breaker_open and probe.sent == []
    assert len(silent_smtp_server.connections) == 2
    assert sender.drain(now=DEPOSIT_DAY + dt.timedelta(seconds=80)).claimed == 0
    assert sender.breaker.open_until == DEPOSIT_DAY + dt.timedelta(seconds=90)


def test_a_sender_that_lost_its_claim_sends_nothing_more_and_each_mail_arrives_once(
    sessions, smtp_server
):
    message_ids = mails_for(sessions, 10)
    stalled = sender_for(sessions, smtp_server.url)
    standby = sender_for(sessions, smtp_server.url)
    with sessions() as session:
        claim = stalled.claim(session, DEPOSIT_DAY)
        assert claim is not None and len(claim.attempts) == 10
        # The first sender stalls past its claim; the other one re-claims and sends.
        later = DEPOSIT_DAY + CLAIM + dt.timedelta(seconds=1)
        assert len(standby.drain(now=later).sent) == 10
        resumed = SendReport()
        stalled.deliver(session, claim, resumed)
    assert resumed.sent == [] and sorted(resumed.lost) == sorted(claim.attempts)
    assert sorted(m["Message-ID"] for m in smtp_server.messages) == sorted(message_ids)
    assert {(m.status, m.attempts) for m in outbox(sessions)} == {("sent", 2)}


def test_a_sender_whose_claim_ran_out_by_the_real_clock_sends_nothing(sessions, smtp_server):
    mails_for(sessions, 3)
    sender = sender_for(sessions, smtp_server.url)
    with time_machine.travel(DEPOSIT_DAY, tick=False) as traveller, sessions() as session:
        claim = sender.claim(session, DEPOSIT_DAY)
        traveller.shift(CLAIM)  # swapped out for five minutes between the claim and the send
        report = SendReport()
        sender.deliver(session, claim, report)
    assert report.sent == [] and len(report.lost) == 3
    assert smtp_server.messages == []
    # The rows were left alone: due again when the claim ends, for whoever takes them.
    assert {m.next_attempt_at for m in outbox(sessions)} == {DEPOSIT_DAY + CLAIM}


class SimulatedClock:
    """A monotonic clock that only moves when a sender sleeps (parallel sleeps add up, which
    can only spread the mails further apart, never bunch them)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.lock = threading.Lock()

    def now(self) -> float:
        with self.lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.t += seconds


def test_the_rate_limit_is_respected_over_parallel_senders(sessions, smtp_server):
    mails_for(sessions, 6)  # 6 dossiers: 6 mails
    simulated = SimulatedClock()
    instants: list[float] = []

    class Recorded(RateLimiter):
        def wait(self) -> None:
            super().wait()
            instants.append(simulated.now())

    rate = Recorded(2, monotonic=simulated.now, sleep=simulated.sleep)
    report = sender_for(sessions, smtp_server.url, senders=2, batch=2, rate=rate).drain(
        now=DEPOSIT_DAY
    )
    assert len(report.sent) == len(smtp_server.messages) == len(instants) == 6
    per_second: dict[int, int] = {}
    for instant in instants:
        per_second[int(instant + 1e-9)] = per_second.get(int(instant + 1e-9), 0) + 1
    assert max(per_second.values()) <= 2
    assert simulated.now() >= 2.5  # 6 mails at 2 a second: the last one leaves at 2.5 s


def test_a_sender_told_to_stop_puts_its_unsent_mails_back_at_once(sessions, smtp_server):
    mails_for(sessions, 5)
    sender = sender_for(sessions, smtp_server.url)

    class StopAfterTwo(RateLimiter):
        calls = 0

        def wait(self) -> None:
            StopAfterTwo.calls += 1
            if StopAfterTwo.calls == 2:
                sender.stopping.set()  # SIGTERM while the second mail goes out

    sender.rate = StopAfterTwo(None)
    report = sender.drain(now=DEPOSIT_DAY)
    assert len(report.sent) == len(smtp_server.messages) == 2
    assert len(report.released) == 3
    assert (
        sorted((m.status, m.attempts, m.next_attempt_at) for m in outbox(sessions))
        == [("pending", 0, DEPOSIT_DAY)] * 3 + [("sent", 1, DEPOSIT_DAY + CLAIM)] * 2
    )
