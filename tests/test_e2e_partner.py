"""The partner establishment in a real browser (Playwright, Debian's Chromium): a dossier of
the demo IdF ASP campaign is decided and its results published; the partner's mail is read
from the aiosmtpd sink (« Envoi automatique d'un mail d'information sur la publication des
résultats aux deux établissements partenaires »), its personal link opened in the browser,
without an account, and the decision read there."""

from __future__ import annotations

import re
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
from tests.test_e2e_instruction import CANDIDATES, DEPOSANT, PARTNER, SLUG, deposit_dossiers
from workflow.machine.operations import fire
from workflow.machine.publication import publish_results
from workflow.models import Campaign, Dossier
from workflow.people.actors import Actor
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

pytestmark = needs_chromium

MOTIVATION = "Projet médical partagé solide ; avis favorable du jury régional."


@pytest.fixture
def live_app(tmp_path: Path, smtp_server) -> Iterator[LiveApp]:  # type: ignore[no-untyped-def]
    """The three demo dossiers deposited; Lambourde's accepted, the others refused; the
    results published (the instructor's pages are tested in test_e2e_instruction)."""
    database, engine, sessions = database_with_campaigns(tmp_path)
    uploads = tmp_path / "uploads"
    instructeur = Actor("instructeur", None, None, "claire.martin@ars-idf.example.fr")
    with sessions() as session:
        ids = deposit_dossiers(session, Storage(uploads))
        for candidate in CANDIDATES:
            dossier = session.get(Dossier, ids[candidate])
            assert dossier is not None
            event = "accepter" if candidate == "Lambourde" else "refuser"
            with transaction(session):
                fire(session, dossier, "passer_en_instruction", instructeur)
            with transaction(session):
                fire(session, dossier, event, instructeur, {"motivation": MOTIVATION})
        campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        assert campaign is not None
        with transaction(session):
            publish_results(session, campaign, instructeur)
    with served(database, engine, sessions, smtp_server.url, uploads, ids) as live:
        live.flush_outbox()
        yield live


def test_the_partner_opens_the_link_of_its_mail_and_reads_the_decision(
    live_app: LiveApp, smtp_server
):
    number = live_app.dossier("Lambourde").number
    [mail] = [
        m
        for m in smtp_server.to(PARTNER)
        if m["Subject"].startswith(f"Décision ARS : dossier n° {number} accepté")
    ]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "le dossier est ACCEPTÉ (avis favorable)" in text
    assert f"Motivation de la décision : {MOTIVATION}" in text
    assert "codes d'accès" not in text
    link = re.search(rf"{re.escape(live_app.url)}/partenaire/[\w.\-]+", text)
    assert link, text
    # The recruiting hospital's own copy sends it to its account, not to the partner's page.
    [own] = [m for m in smtp_server.to(DEPOSANT[0]) if f"n° {number} accepté" in m["Subject"]]
    assert "/partenaire/" not in own.get_body(preferencelist=("plain",)).get_content()

    with chromium() as browser:
        page = new_page(browser)
        page.goto(link.group(0))
        assert page.inner_text("h1").startswith(f"Dossier n° {number}")
        assert page.inner_text("#decision-kind") == "Accepté — avis favorable"
        assert page.inner_text("#decision-motivation") == MOTIVATION
        assert "lecture seule" in page.inner_text("#partenaire-lecture")
        # Nothing to fill in or send: the demo ASP campaign asks no co-signature.
        assert page.locator("main form").count() == 0
        check_accessibility(page)
        # A link cut short opens nothing.
        cut = page.goto(link.group(0)[:-4])
        assert cut is not None and cut.status == 404
        assert "Ce lien n'est pas valide" in page.inner_text("main")
        check_accessibility(page, "lien tronqué")
