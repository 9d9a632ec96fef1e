"""Issue #13's « done when »: an administrator creates a token and a webhook on their pages,
a client lists the campaign's dossiers with the token, fires « passer en instruction » with
If-Match, and the loopback receiver gets the signed webhook — refused once (500), retried by
the scheduler's sender with the same delivery id, accepted; a stale If-Match is a 412."""

from __future__ import annotations

import re

import pytest
import time_machine

from tests.conftest import at_paris
from tests.webhook_receiver import Receiver
from workflow.api.delivery import RETRY_DELAYS, WebhookSender
from workflow.scheduling.scheduler import Leadership, Scheduler

# After the deadline of the test campaign (« jusqu'au 20 mars 2026 inclus »).
INSTRUCTING = at_paris(2026, 4, 2, 10)


@pytest.fixture
def receiver():
    server = Receiver(answers=[500])
    yield server
    server.close()


def test_token_list_fire_and_a_signed_webhook_retried_until_accepted(
    world, session, sessions, client, auth, receiver
):
    campaign = world.campaign()
    hospital = world.organisation()
    world.user("deposant", hospital)
    dossier = world.dossier(campaign, hospital, "en_construction")
    auth.login(world.user("administrateur"))

    with auth.at(INSTRUCTING):
        page = client.post(
            "/admin/api/jetons",
            data={"name": "Tableau de bord ARS", "scope": "ecriture", "campagnes": campaign.id},
        )
        secret = re.search(r'<code id="secret">([^<]+)</code>', page.text).group(1)
        page = client.post(
            "/admin/api/webhooks",
            data={
                "url": receiver.url,
                "campagne": campaign.id,
                "evenements": ["dossier.etat_change"],
            },
        )
        assert page.status_code == 200, page.text
        receiver.secret = re.search(r'<code id="secret">([^<]+)</code>', page.text).group(1)
        auth.logout()  # the API never needs the session

        api = {"Authorization": f"Bearer {secret}"}
        listed = client.get("/api/v1/campaigns/test-asp/dossiers", headers=api).get_json()
        (item,) = listed["items"]
        assert (item["id"], item["state"]) == (dossier.id, "en_construction")

        fired = client.post(
            f"/api/v1/dossiers/{dossier.id}/events",
            json={"event": "passer_en_instruction"},
            headers={**api, "If-Match": str(item["version"])},
        )
        assert fired.status_code == 200
        assert fired.get_json()["state"] == "en_instruction"

        # Firing again on the version read before: somebody (here, ourselves) changed it.
        stale = client.post(
            f"/api/v1/dossiers/{dossier.id}/events",
            json={"event": "accepter", "motivation": "Projet solide."},
            headers={**api, "If-Match": str(item["version"])},
        )
        assert stale.status_code == 412
        assert stale.mimetype == "application/problem+json"

        # The scheduler as `run.py scheduler` builds it, in development (http to loopback).
        scheduler = Scheduler(
            sessions,
            Leadership(sessions),
            webhooks=WebhookSender(sessions, allow_loopback_http=True),
        )
        first = scheduler.send_webhooks()
    assert first.retried and not first.delivered

    with time_machine.travel(INSTRUCTING + RETRY_DELAYS[0], tick=False):
        second = scheduler.send_webhooks()
    assert len(second.delivered) == 1

    assert [r["signature_ok"] for r in receiver.received] == [True, True]
    (delivery_id,) = {r["headers"]["X-PostesPartages-Delivery"] for r in receiver.received}
    assert second.delivered == [delivery_id]
    document = receiver.documents()[1]
    assert document["data"]["dossier_id"] == dossier.id
    assert (document["data"]["from_state"], document["data"]["to_state"]) == (
        "en_construction",
        "en_instruction",
    )

    # The administrator sees both attempts' outcome on the webhook's page.
    auth.login(world.user("administrateur"))
    hooks = client.get("/admin/api/webhooks")
    hook_id = re.search(r'id="webhook-(\d+)"', hooks.text).group(1)
    history = client.get(f"/admin/api/webhooks/{hook_id}")
    assert delivery_id in history.text
    assert "remis le" in history.text
    assert "<td>200</td>" in history.text
    assert "<td>2</td>" in history.text  # two attempts
