"""End to end in Debian's Chromium: an instructeur an administrator invited clicks
« S'identifier avec ProConnect » on « Connexion », is identified by the local OpenID
provider (tests/oidc_provider.py, on its own loopback port), lands on the instruction
dashboard with the campaign it follows, and signs out of both the service and ProConnect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e_support import (
    LiveApp,
    check_accessibility,
    chromium,
    database_with_campaigns,
    needs_chromium,
    new_page,
    served,
)
from tests.oidc_provider import ARS_SIRET, CLIENT_ID, CLIENT_SECRET, Identity, Provider
from workflow.administration.instructors import create_instructor, follow
from workflow.models import Campaign, SecurityEvent
from workflow.people.actors import Actor
from workflow.plumbing.db import transaction

pytestmark = needs_chromium

EMAIL = "instructrice.asp@ars.sante.fr"


@pytest.fixture
def provider() -> Iterator[Provider]:
    running = Provider().start()
    yield running
    running.stop()


@pytest.fixture
def live_app(tmp_path: Path, smtp_server, provider: Provider) -> Iterator[LiveApp]:  # type: ignore[no-untyped-def]
    database, engine, sessions = database_with_campaigns(tmp_path)
    config = {
        "PROCONNECT_ISSUER": provider.issuer,
        "PROCONNECT_CLIENT_ID": CLIENT_ID,
        "PROCONNECT_CLIENT_SECRET": CLIENT_SECRET,
        "PROCONNECT_SIRETS": ARS_SIRET,
    }
    with served(
        database, engine, sessions, smtp_server.url, tmp_path / "uploads", config=config
    ) as live:
        yield live


def test_an_invited_instructeur_signs_in_with_proconnect_and_signs_out(live_app, provider):
    with live_app.sessions() as session, transaction(session):
        admin = Actor("administrateur", None, None, "admin@ars.sante.fr")
        user = create_instructor(session, EMAIL, "Inès Tructrice", admin, secret_key="k" * 40)
        campaign = session.scalar(select(Campaign).where(Campaign.slug == "demo-idf-asp-vague6"))
        follow(session, user, campaign, admin)
        title = campaign.title
    provider.identity = Identity(email=EMAIL, given_name="Inès", usual_name="Tructrice")

    with chromium() as browser:
        page = new_page(browser)
        page.goto(f"{live_app.url}/connexion")
        check_accessibility(page)
        page.get_by_role("button", name="S’identifier avec ProConnect").click()

        page.wait_for_url(f"{live_app.url}/instruction/")
        assert page.locator("h1").inner_text() == "Instruction des dossiers"
        assert title in page.content()
        assert provider.authorizations[-1]["code_challenge_method"] == "S256"
        check_accessibility(page)

        page.get_by_role("button", name="Se déconnecter").click()
        page.wait_for_url(f"{live_app.url}/")
        assert "Vous êtes déconnecté, de ce service et de ProConnect." in page.content()
        assert provider.logouts and provider.logouts[-1]["id_token_hint"].count(".") == 2
        check_accessibility(page)
        page.goto(f"{live_app.url}/instruction/")
        assert "/connexion" in page.url
        check_accessibility(page)

    with live_app.sessions() as session:
        kinds = list(session.scalars(select(SecurityEvent.kind).order_by(SecurityEvent.id)))
    assert kinds[-2:] == ["connexion_reussie", "deconnexion"]
