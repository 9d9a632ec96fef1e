"""Warnings on the volet form, at save time: a value the déposant may keep (an RPPS number
being allocated, whose key is off the usual algorithm; a CEDEX postal code) is saved, and a
French warning stands next to its field — not only on the « Confirmer » tab."""

from __future__ import annotations

from tests.conftest import COMPLETE_VALUES
from tests.test_web_deposant import DURING, reread, text_of
from workflow.plumbing.identifiers import RPPS_KEY_WARNING

WRONG_KEY_RPPS = "10003456787"  # 11 digits, Luhn key off by one


def candidat(**overrides: str) -> dict[str, object]:
    return {**COMPLETE_VALUES["candidat"], "date_inscription": "", **overrides}


def test_an_rpps_with_an_unusual_key_is_saved_with_a_warning_next_to_the_field(
    at, world, client, campaign, hospital, signed_in, session
):
    dossier = world.dossier(campaign, hospital)
    url = f"/dossiers/{dossier.id}/volets/candidat"
    with at(DURING):
        saved = client.post(url, data=candidat(rpps=WRONG_KEY_RPPS), follow_redirects=True)
    assert saved.status_code == 200
    page = saved.text
    assert f'id="warning-rpps">{RPPS_KEY_WARNING}' in page.replace("&#39;", "'")
    assert "Vérifiez « N° RPPS » : voir l'avertissement sous le champ." in text_of(saved)
    reread(session)
    assert dossier.values["candidat"]["rpps"] == WRONG_KEY_RPPS


def test_an_rpps_with_the_usual_key_has_no_warning(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital)
    url = f"/dossiers/{dossier.id}/volets/candidat"
    with at(DURING):
        saved = client.post(url, data=candidat(rpps="10003456786"), follow_redirects=True)
    assert saved.status_code == 200
    assert 'id="warning-rpps"' not in saved.text
    assert "voir l'avertissement" not in text_of(saved)


def test_a_refused_volet_shows_the_error_not_the_warning(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital)
    url = f"/dossiers/{dossier.id}/volets/candidat"
    with at(DURING):
        refused = client.post(url, data=candidat(rpps="1000345678"))
    assert refused.status_code == 422
    assert 'id="error-rpps">Le n° RPPS doit comporter 11 chiffres' in refused.text
    assert 'id="warning-rpps"' not in refused.text
