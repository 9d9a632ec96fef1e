"""A campaign's reference documents (AUMG: « Le cahier des charges et le mode opératoire
sont consultables à la fin du dossier en ligne ») are listed on its page and at the end of
the dossier; files are served by the model route, whose path checks stay."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.conftest import definition
from tests.test_web_deposant import DURING, text_of
from workflow.campaigns.loader import CampaignFileError, load_campaign_text

MODEL = "models/idf-mgvh-2020/lettre-engagement-type-ville-hopital.docx"
DOCUMENTS = [
    {"key": "cahier_des_charges", "title": "Cahier des charges", "model": MODEL},
    {
        "key": "mode_operatoire",
        "title": "Mode opératoire",
        "url": "https://www.iledefrance.ars.sante.fr/mode-operatoire",
    },
]


def test_reference_documents_are_on_the_campaign_page_and_at_the_end_of_the_dossier(
    world, client, auth
):
    campaign = world.campaign(reference_documents=DOCUMENTS)
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital)
    public = client.get(f"/campagnes/{campaign.slug}").text
    auth.login(world.user("deposant", hospital))
    with auth.at(DURING):
        end = client.get(f"/dossiers/{dossier.id}/confirmer").text
    for page in (public, end):
        assert "Documents de référence de l'appel à candidatures" in text_of_html(page)
        assert f'href="/campagnes/{campaign.slug}/modeles/cahier_des_charges"' in page
        assert 'href="https://www.iledefrance.ars.sante.fr/mode-operatoire"' in page


def text_of_html(html: str) -> str:
    class Response:
        text = html

    return text_of(Response())


def test_a_reference_file_is_downloaded_and_one_outside_the_models_is_not(world, client):
    campaign = world.campaign(
        reference_documents=[
            DOCUMENTS[0],
            {"key": "fuite", "title": "Hors du dossier", "model": "../pyproject.toml"},
            DOCUMENTS[1],
        ]
    )
    response = client.get(f"/campagnes/{campaign.slug}/modeles/cahier_des_charges")
    assert response.status_code == 200
    assert response.data[:2] == b"PK"
    assert client.get(f"/campagnes/{campaign.slug}/modeles/fuite").status_code == 404
    assert client.get(f"/campagnes/{campaign.slug}/modeles/mode_operatoire").status_code == 404


def test_a_campaign_without_reference_documents_shows_no_section(world, client):
    campaign = world.campaign()
    assert "Documents de référence" not in client.get(f"/campagnes/{campaign.slug}").text


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"key": "cdc", "title": "Cahier"}, "indiquez « model » ou « url »"),
        ({"key": "cdc", "title": "Cahier", "model": MODEL, "url": "https://a.fr"}, "l'un des"),
        ({"key": "cdc", "title": "Cahier", "url": "javascript:alert(1)"}, "url"),
        ({"key": "cv", "title": "Cahier", "model": MODEL}, "clé déjà prise par une pièce"),
    ],
)
def test_a_reference_document_needs_one_safe_source_and_its_own_key(document, message):
    with pytest.raises(ValidationError, match=message):
        definition(reference_documents=[document])


def test_the_loader_refuses_a_reference_file_outside_the_models_folder(tmp_path):
    text = (
        "slug: essai\ntitle: Essai\nagency: ARS\ncontacts: [{email: a@ars.sante.fr}]\n"
        "depositor: universite\ndepositor_label: Université\n"
        "opens: 2026-01-01\ndeadline: 2026-02-01\n"
        "volets: [{key: un, title: Un}]\n"
        "reference_documents:\n  - {key: cdc, title: Cahier, model: ../secret.pdf}\n"
    )
    with pytest.raises(CampaignFileError) as error:
        load_campaign_text(text, "essai.yaml", tmp_path)
    assert "essai.yaml:11: reference_documents[0].model: le document modèle doit être" in str(
        error.value
    )
