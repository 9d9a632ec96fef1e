"""In Debian's Chromium: an administrateur opens the statistics of a campaign from its
dashboard; the State's bar charts (`@gouvfr/dsfr-chart`) draw under the page's policy, and
the same figures read in the tables beside them; the CSV link downloads them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import World
from tests.e2e_support import (
    LiveApp,
    assert_clean_console,
    check_accessibility,
    chromium,
    database_with_campaigns,
    needs_chromium,
    new_page,
    served,
)
from workflow.models import User
from workflow.people.passwords import hash_password
from workflow.plumbing import clock
from workflow.plumbing.db import transaction

pytestmark = needs_chromium

ADMINISTRATEUR = ("admin@ars-idf.example.fr", "Administration-ARS-2026!")
CHART_JS = Path(__file__).resolve().parents[1] / "node_modules/@gouvfr/dsfr-chart/dist/BarChart"


@pytest.fixture
def live_app(tmp_path: Path, smtp_server) -> Iterator[tuple[LiveApp, str]]:  # type: ignore[no-untyped-def]
    database, engine, sessions = database_with_campaigns(tmp_path)
    with sessions() as session:
        world = World(session)
        campaign = world.campaign()
        hospital = world.organisation()
        for state in ("en_construction", "en_instruction", "accepte", "refuse", "en_poste"):
            world.dossier(campaign, hospital, state, published=True)
        with transaction(session):
            session.add(
                User(
                    email=ADMINISTRATEUR[0],
                    password_hash=hash_password(ADMINISTRATEUR[1]),
                    role="administrateur",
                    email_confirmed_at=clock.now(),
                )
            )
        slug = campaign.slug
    with served(database, engine, sessions, smtp_server.url, tmp_path / "uploads") as live:
        yield live, slug


@pytest.mark.skipif(not CHART_JS.is_dir(), reason="npm install puts @gouvfr/dsfr-chart there")
def test_the_statistics_page_draws_its_charts_and_reads_as_tables(live_app, tmp_path):
    live, slug = live_app
    with chromium() as browser:
        page = new_page(browser, accept_downloads=True)
        page.goto(f"{live.url}/connexion")
        check_accessibility(page)
        page.fill("#f-email", ADMINISTRATEUR[0])
        page.fill("#f-password", ADMINISTRATEUR[1])
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_load_state()
        check_accessibility(page)
        page.goto(f"{live.url}/instruction/campagnes/{slug}")
        check_accessibility(page)
        page.get_by_role("link", name="Statistiques de la campagne").click()
        # The chart components draw on a canvas inside their own element.
        page.wait_for_selector("#graphique-etats bar-chart canvas", state="attached")
        page.wait_for_selector("#graphique-specialites bar-chart canvas", state="attached")
        assert page.inner_text("#total-deposes") == "5"
        assert page.inner_text("#taux-acceptation") == "66,7 %"
        states = page.inner_text("#tableau-etats")
        assert "En poste" in states and "Refusé" in states
        decisions = page.locator("#tableau-decisions tbody tr").last.inner_text()
        assert "non renseigné" in decisions  # no funded posts in this campaign
        # Checked with the charts drawn: their canvases are in the page axe reads.
        check_accessibility(page, "graphiques dessinés")
        with page.expect_download() as download:
            page.click("#statistiques-csv")
        data = Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert data.splitlines()[0].startswith("Niveau;Libellé;Dossiers déposés")
        assert_clean_console(browser)
