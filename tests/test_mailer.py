"""The outbox sent over a real SMTP server on loopback: retries, bounces, exactly once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import World, at_paris
from workflow.machine.operations import fire
from workflow.mail.sender import failed_mails, parse_smtp_url, send_pending
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


def test_a_mail_waits_while_smtp_is_down_then_arrives_exactly_once(sessions, smtp_server):
    _, address = deposited(sessions)
    smtp_server.stop()
    down = send(sessions, smtp_server)
    (mail,) = outbox(sessions)
    assert down.retried == [mail.id]
    assert mail.status == "pending"
    assert mail.next_attempt_at == DEPOSIT_DAY + dt.timedelta(minutes=1)
    assert mail.last_error
    assert send(sessions, smtp_server, now=DEPOSIT_DAY + dt.timedelta(seconds=30)).sent == []
    smtp_server.start()
    later = DEPOSIT_DAY + dt.timedelta(minutes=2)
    assert send(sessions, smtp_server, now=later).sent == [mail.id]
    assert send(sessions, smtp_server, now=later + dt.timedelta(hours=1)).sent == []
    assert len(smtp_server.to(address)) == 1
    assert outbox(sessions)[0].status == "sent"


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
