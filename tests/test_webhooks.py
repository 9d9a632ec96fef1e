"""Webhooks (issue #13): an administrator registers a URL per campaign for chosen events;
each delivery is queued in the transaction of the change it announces, sent after it by the
scheduler, signed with HMAC-SHA256 over a timestamp and the body, retried with backoff under
the same delivery id, never sent twice by two schedulers, and its history kept with the
receiver's answer code."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from sqlalchemy import event, select

from tests.conftest import at_paris
from tests.webhook_receiver import Receiver
from workflow.api import signing
from workflow.api.delivery import RETRY_DELAYS, DeliveryReport, WebhookSender
from workflow.api.webhooks import register_webhook, url_problem
from workflow.journal.webhooks import AVIS_GIVEN, MESSAGE, STATE_CHANGE, queue_webhook
from workflow.machine.closing import close_campaign
from workflow.machine.operations import fire
from workflow.models import WebhookDelivery
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput

INSTRUCTING = at_paris(2026, 4, 2, 10)


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def register(world, session, campaign, url, events=(STATE_CHANGE,)):
    admin = world.actor("administrateur")
    with transaction(session):
        hook, secret = register_webhook(
            session, campaign.id, url, events, admin, allow_loopback_http=True
        )
    return hook, secret


def deliveries(session) -> list[WebhookDelivery]:
    """The deliveries as the senders left them (a new read transaction sees their writes)."""
    session.commit()
    session.expire_all()
    return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_the_signature_is_an_hmac_of_the_timestamp_and_the_body_within_a_window():
    body = b'{"event":"dossier.etat_change"}'
    header = signing.signature("whsec_secret", 1_775_000_000, body)
    assert header.startswith("t=1775000000,v1=")
    assert signing.verify("whsec_secret", header, body, now=1_775_000_100)
    assert not signing.verify("whsec_autre", header, body, now=1_775_000_100)
    assert not signing.verify("whsec_secret", header, body + b" ", now=1_775_000_100)
    # Replayed after the 5-minute window: refused.
    assert not signing.verify("whsec_secret", header, body, now=1_775_000_000 + 301)


def test_only_https_or_loopback_http_in_development_may_receive():
    assert url_problem("https://outil.ars.sante.fr/hooks", False) is None
    assert url_problem("http://127.0.0.1:8080/h", True) is None
    assert url_problem("http://localhost/h", True) is None
    assert "https://" in url_problem("http://127.0.0.1:8080/h", False)
    assert "https://" in url_problem("http://10.0.0.5/h", True)
    assert "https://" in url_problem("ftp://outil.ars.sante.fr/", True)
    assert url_problem("https://jean:motdepasse@outil.ars.sante.fr/", False)
    assert url_problem("https://outil:99999999/", False)
    # Internal addresses written as IPs: the cloud's metadata service, the private network.
    assert "réseau interne" in url_problem("https://169.254.169.254/latest/", False)
    assert "réseau interne" in url_problem("https://10.0.0.5/h", False)
    assert "réseau interne" in url_problem("https://[::1]/h", False)
    assert url_problem("https://203.0.114.7/h", False) is None


def test_registration_checks_its_fields(world, session, campaign):
    admin = world.actor("administrateur")
    with pytest.raises(InvalidInput) as refused, transaction(session):
        register_webhook(session, campaign.id, "http://10.1.2.3/", [], admin)
    assert set(refused.value.errors) == {"url", "events"}
    with pytest.raises(InvalidInput), transaction(session):
        register_webhook(session, campaign.id, "https://x.fr/", ["dossier.inconnu"], admin)
    with transaction(session):
        hook, secret = register_webhook(session, campaign.id, "https://x.fr/", [MESSAGE], admin)
    assert hook.secret == secret and secret.startswith("whsec_")


def test_a_change_queues_a_delivery_for_the_webhooks_that_listen(world, session):
    dossier, _ = world.deposited()
    campaign = dossier.campaign
    listening, _ = register(world, session, campaign, "https://a.example.fr/")
    register(world, session, campaign, "https://b.example.fr/", events=(MESSAGE, AVIS_GIVEN))
    other = world.campaign(slug="test-autre")
    register(world, session, other, "https://c.example.fr/")
    stopped, _ = register(world, session, campaign, "https://d.example.fr/")
    with transaction(session):
        stopped.active = False

    instructeur = world.actor("instructeur")
    with time_machine.travel(INSTRUCTING, tick=False), transaction(session):
        fire(session, dossier, "passer_en_instruction", instructeur)
    (queued,) = deliveries(session)
    assert queued.webhook_id == listening.id
    assert queued.event == STATE_CHANGE
    assert queued.status == "pending"
    assert queued.payload == {
        "dossier_id": dossier.id,
        "number": dossier.number,
        "campaign_id": campaign.id,
        "event": "passer_en_instruction",
        "from_state": "en_construction",
        "to_state": "en_instruction",
        "version": dossier.version,
        "at": INSTRUCTING.astimezone(dt.UTC).isoformat(),
    }


def test_a_change_no_webhook_of_its_campaign_listens_to_queues_nothing(world, session):
    # Webhooks that listen elsewhere: another event, another campaign, stopped.
    dossier, _ = world.deposited()
    campaign = dossier.campaign
    register(world, session, campaign, "https://b.example.fr/", events=(MESSAGE,))
    register(world, session, world.campaign(slug="test-autre"), "https://c.example.fr/")
    stopped, _ = register(world, session, campaign, "https://d.example.fr/")
    with transaction(session):
        stopped.active = False
    instructeur = world.actor("instructeur")
    sent: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        with time_machine.travel(INSTRUCTING, tick=False), transaction(session):
            fire(session, dossier, "passer_en_instruction", instructeur)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert deliveries(session) == []
    # SQLite learns from the UPDATE that nobody listens and sends no INSERT for the
    # deliveries; PostgreSQL's one statement selects none.
    assert not [s for s in sent if s.lstrip().startswith("INSERT INTO webhook_deliveries")]
    assert dossier.state == "en_instruction"


def test_a_change_rolled_back_announces_nothing(world, session):
    dossier, _ = world.deposited()
    register(world, session, dossier.campaign, "https://a.example.fr/")
    instructeur = world.actor("instructeur")
    with pytest.raises(RuntimeError), transaction(session):
        fire(session, dossier, "passer_en_instruction", instructeur)
        raise RuntimeError("the page failed after the change")
    assert deliveries(session) == []


def test_other_features_queue_their_events_through_one_function(world, session, campaign):
    hook, _ = register(world, session, campaign, "https://a.example.fr/", events=(MESSAGE,))
    with transaction(session):
        assert queue_webhook(session, campaign.id, MESSAGE, {"message_id": 7}) == 1
        assert queue_webhook(session, campaign.id, AVIS_GIVEN, {"avis_id": 3}) == 0
    with pytest.raises(ValueError), transaction(session):
        queue_webhook(session, campaign.id, "dossier.supprime", {})
    assert [(d.event, d.payload) for d in deliveries(session)] == [(MESSAGE, {"message_id": 7})]


def test_the_closing_of_a_campaign_announces_each_dossier_moved(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    building = [world.dossier(campaign, hospital, "en_construction") for _ in range(3)]
    world.dossier(campaign, hospital, "brouillon")
    register(world, session, campaign, "https://a.example.fr/")
    # « Les dossiers en construction passent en instruction » at the deadline (20 March).
    with transaction(session):
        closed = close_campaign(session, campaign.id, now=at_paris(2026, 3, 21))
    assert closed.moved == 3
    payloads = [d.payload for d in deliveries(session)]
    assert sorted(p["dossier_id"] for p in payloads) == sorted(d.id for d in building)
    assert {(p["from_state"], p["to_state"]) for p in payloads} == {
        ("en_construction", "en_instruction")
    }


def test_a_failed_delivery_is_retried_with_the_same_id_until_accepted(
    world, session, sessions, receiver
):
    dossier, _ = world.deposited()
    hook, secret = register(world, session, dossier.campaign, receiver.url)
    receiver.secret = secret
    receiver.answers = [500]
    instructeur = world.actor("instructeur")
    with time_machine.travel(INSTRUCTING, tick=False):
        with transaction(session):
            fire(session, dossier, "passer_en_instruction", instructeur)
        sender = WebhookSender(sessions, allow_loopback_http=True, timeout=5)
        first = sender.drain()
    assert first.retried and not first.delivered
    (row,) = deliveries(session)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 500)
    assert row.last_response == "refus de test"
    assert row.next_attempt_at == INSTRUCTING + RETRY_DELAYS[0]

    # Not due yet: nothing goes.
    with time_machine.travel(INSTRUCTING + dt.timedelta(seconds=30), tick=False):
        assert sender.drain().delivered == []
    with time_machine.travel(INSTRUCTING + RETRY_DELAYS[0], tick=False):
        second = sender.drain()
    assert second.delivered == [row.delivery_id]
    (row,) = deliveries(session)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 2, 200)

    assert len(receiver.received) == 2
    assert all(r["signature_ok"] for r in receiver.received)
    ids = {r["headers"]["X-PostesPartages-Delivery"] for r in receiver.received}
    assert ids == {row.delivery_id}
    assert receiver.received[0]["body"] == receiver.received[1]["body"]
    document = receiver.documents()[0]
    assert document["event"] == "dossier.etat_change"
    assert document["data"]["to_state"] == "en_instruction"
    assert receiver.received[0]["headers"]["X-PostesPartages-Event"] == STATE_CHANGE


def test_a_delivery_fails_for_good_after_the_last_retry(world, session, sessions, receiver):
    campaign = world.campaign()
    hook, secret = register(world, session, campaign, receiver.url, events=(MESSAGE,))
    receiver.answers = [503] * (len(RETRY_DELAYS) + 1)
    moment = INSTRUCTING
    with time_machine.travel(moment, tick=False), transaction(session):
        queue_webhook(session, campaign.id, MESSAGE, {"message_id": 1})
    sender = WebhookSender(sessions, allow_loopback_http=True)
    for delay in [dt.timedelta(0), *RETRY_DELAYS]:
        moment += delay
        with time_machine.travel(moment, tick=False):
            sender.drain()
    (row,) = deliveries(session)
    assert (row.status, row.attempts) == ("failed", len(RETRY_DELAYS) + 1)
    assert len(receiver.received) == len(RETRY_DELAYS) + 1


def test_a_redirect_is_not_followed_and_an_unreachable_receiver_is_retried(
    world, session, sessions
):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        campaign = world.campaign()
        register(world, session, campaign, f"http://127.0.0.1:{server.server_address[1]}/")
        register(world, session, campaign, "http://127.0.0.1:9/")  # nothing listens there
        with time_machine.travel(INSTRUCTING, tick=False):
            with transaction(session):
                queue_webhook(session, campaign.id, STATE_CHANGE, {"dossier_id": 1})
            report = WebhookSender(sessions, allow_loopback_http=True, timeout=2).drain()
    finally:
        server.shutdown()
        server.server_close()
    assert len(report.retried) == 2
    redirected, unreachable = deliveries(session)
    assert redirected.last_status_code == 302
    assert unreachable.last_status_code is None
    assert "ConnectionRefusedError" in unreachable.last_response


def test_a_loopback_url_is_refused_at_sending_in_production(world, session, sessions, receiver):
    campaign = world.campaign()
    register(world, session, campaign, receiver.url)
    with transaction(session):
        queue_webhook(session, campaign.id, STATE_CHANGE, {"dossier_id": 1})
    WebhookSender(sessions, allow_loopback_http=False).drain()
    (row,) = deliveries(session)
    assert "https://" in row.last_response
    assert receiver.received == []


def test_two_schedulers_never_deliver_the_same_row(world, session, sessions, receiver):
    campaign = world.campaign()
    register(world, session, campaign, receiver.url)
    with time_machine.travel(INSTRUCTING, tick=False):
        with transaction(session):
            for n in range(4):
                queue_webhook(session, campaign.id, STATE_CHANGE, {"dossier_id": n})
        first = WebhookSender(sessions, allow_loopback_http=True)
        second = WebhookSender(sessions, allow_loopback_http=True)
        claimed = first._claim(INSTRUCTING)
        assert len(claimed) == 4
        # While the first holds its claim, the second finds nothing to send.
        assert second.drain().delivered == []
        report = DeliveryReport()
        for row_id in claimed:
            first._send_one(row_id, report)
    assert len(report.delivered) == 4
    assert len(receiver.received) == 4
    assert {json.loads(r["body"])["data"]["dossier_id"] for r in receiver.received} == set(range(4))
    assert [d.status for d in deliveries(session)] == ["delivered"] * 4


def test_a_sender_that_lost_its_claim_sends_nothing(world, session, sessions, receiver):
    campaign = world.campaign()
    register(world, session, campaign, receiver.url)
    with time_machine.travel(INSTRUCTING, tick=False):
        with transaction(session):
            queue_webhook(session, campaign.id, STATE_CHANGE, {"dossier_id": 1})
        stalled = WebhookSender(sessions, allow_loopback_http=True)
        (row_id,) = stalled._claim(INSTRUCTING)
    # The stalled sender wakes up after its claim expired and another sender took the row.
    later = INSTRUCTING + stalled.claim_for + dt.timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        other = WebhookSender(sessions, allow_loopback_http=True)
        assert other._claim(later) == [row_id]
        report = DeliveryReport()
        stalled._send_one(row_id, report)
        assert receiver.received == []
        other._send_one(row_id, report)
    assert len(receiver.received) == 1
    (row,) = deliveries(session)
    assert (row.status, row.attempts) == ("delivered", 1)


def test_an_avis_given_is_announced(world, session):
    from workflow.instruction.avis import give_avis, invite_avis

    # « Avis du coordonnateur de la spécialité » (idf-asp-vague6-mode-operatoire.txt).
    avis_kinds = [
        {"key": "coordonnateur", "label": "Avis du coordonnateur", "giver": "coordonnateur"}
    ]
    campaign = world.campaign(avis=avis_kinds)
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    register(world, session, campaign, "https://a.example.fr/", events=(AVIS_GIVEN,))
    instructeur = world.actor("instructeur")
    with time_machine.travel(INSTRUCTING, tick=False), transaction(session):
        avis = invite_avis(
            session,
            dossier,
            "coordonnateur",
            "coord.dermato@aphp.fr",
            "",
            instructeur,
            secret_key="s",
            base_url="http://localhost",
        )
    assert deliveries(session) == []  # asking is not giving
    with time_machine.travel(INSTRUCTING, tick=False), transaction(session):
        give_avis(session, avis, "favorable", "Projet cohérent avec le service.")
    (row,) = deliveries(session)
    assert row.event == AVIS_GIVEN
    assert row.payload["avis_key"] == "coordonnateur"
    assert row.payload["verdict"] == "favorable"
    assert row.payload["dossier_id"] == dossier.id


def test_a_message_of_the_messagerie_is_announced(world, session):
    from workflow.messagerie.messages import post_message

    campaign = world.campaign()
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, "en_instruction")
    register(world, session, campaign, "https://a.example.fr/", events=(MESSAGE,))
    deposant = world.actor("deposant", hospital)
    with time_machine.travel(INSTRUCTING, tick=False), transaction(session):
        post_message(session, dossier, deposant, "Voici le planning de l'assistant partagé.")
    (row,) = deliveries(session)
    assert row.event == MESSAGE
    assert row.payload["dossier_id"] == dossier.id
    assert row.payload["side"] == "organisation"
    assert row.payload["message"] == "Voici le planning de l'assistant partagé."


def test_an_avis_collected_on_a_brouillon_is_not_announced(world, session):
    """A brouillon does not exist for the ARS's tools: the avis the déposant collects before
    deposit are announced by no webhook (they are read with the deposited dossier)."""
    from workflow.instruction.avis import announce_avis_given
    from workflow.models import Avis

    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation())
    register(world, session, campaign, "https://a.example.fr/", events=(AVIS_GIVEN,))
    avis = Avis(dossier_id=dossier.id, avis_key="coordonnateur", giver_email="c@aphp.fr")
    with time_machine.travel(INSTRUCTING, tick=False), transaction(session):
        announce_avis_given(session, dossier, avis, at_paris(2026, 4, 2))
    assert dossier.state == "brouillon"
    assert deliveries(session) == []
