"""The campaign's own sentences reach the déposant: the recap and the draft reminder print
the `rules_text` of the campaign (IdF: « … ne sera pas traité », Normandie: « … ne sera pas
examiné par la commission régionale »), never one region's sentence for every campaign."""

from __future__ import annotations

import pytest

from tests.conftest import at_paris
from tests.test_web_deposant import text_of
from workflow.mail.templates import render
from workflow.models import OutboxMail
from workflow.plumbing.db import transaction
from workflow.scheduling.jobs import remind_brouillons

IDF = "Tout dossier incomplet et/ou déposé hors-délai ne sera pas traité"
NORMANDIE = "Tout dossier incomplet ne sera pas examiné par la commission régionale"


@pytest.mark.parametrize("rules_text", [IDF, NORMANDIE])
def test_the_recap_prints_the_campaigns_own_rules_text(world, client, auth, rules_text):
    campaign = world.campaign(slug="test-rules", rules_text=rules_text)
    hospital = world.organisation()
    world.dossier(campaign, hospital)
    auth.login(world.user("deposant", hospital))
    page = text_of(client.get(f"/campagnes/{campaign.slug}/recapitulatif"))
    assert rules_text in page
    other = NORMANDIE if rules_text == IDF else IDF
    assert other not in page
    assert "Aucun dossier incomplet ou hors délai ne sera traité" not in page


def test_the_draft_reminder_prints_the_rules_text_of_each_campaign(sessions, session, world):
    idf = world.campaign(slug="test-idf", rules_text=IDF)
    normandie = world.campaign(slug="test-normandie", rules_text=NORMANDIE)
    for campaign in (idf, normandie):
        organisation = world.organisation()
        world.user("deposant", organisation)
        world.dossier(campaign, organisation)
    j7 = at_paris(2026, 3, 13, 9)
    assert len(remind_brouillons(sessions, j7)) == 2
    with transaction(session):
        mails = session.query(OutboxMail).filter_by(template="rappel_brouillon").all()
        by_campaign = {m.campaign_id: render(session, m, now=j7) for m in mails}
    for campaign, text, other in ((idf, IDF, NORMANDIE), (normandie, NORMANDIE, IDF)):
        rendered = by_campaign[campaign.id]
        assert text in rendered.text and text in rendered.html
        assert other not in rendered.text and other not in rendered.html
