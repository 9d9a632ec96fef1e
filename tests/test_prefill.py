"""Nothing typed twice: the fields a campaign marks as the recruiter's own (`prefill:`)
start from the organisation's account — name, FINESS, address — and stay editable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.conftest import definition
from tests.test_seed_campaigns import load
from tests.test_web_deposant import DURING, reread

IDENTIFICATION = {
    "key": "identification",
    "title": "Identification",
    "fields": [
        {"key": "recruteur_nom", "label": "Nom", "type": "text", "prefill": "organisation.name"},
        {"key": "recruteur_finess", "label": "FINESS", "type": "finess",
         "prefill": "organisation.finess"},
        {"key": "recruteur_cp", "label": "CP", "type": "postal_code",
         "prefill": "organisation.postal_code"},
        {"key": "recruteur_ville", "label": "Ville", "type": "text",
         "prefill": "organisation.city"},
        {"key": "recruteur_adresse", "label": "Adresse", "type": "text",
         "prefill": "organisation.address"},
        {"key": "partenaire_nom", "label": "Nom du partenaire", "type": "text"},
    ],
}  # fmt: skip


@pytest.fixture
def setting(world, auth):  # type: ignore[no-untyped-def]
    campaign = world.campaign(
        volets=[IDENTIFICATION, {"key": "suite", "title": "Suite", "fields": []}],
        rules=[],
        summary={},
    )
    hospital = world.organisation(
        finess="950001370", name="Centre Hospitalier de Gonesse", postal_code="95500",
        city="Gonesse", address=None,
    )  # fmt: skip
    dossier = world.dossier(campaign, hospital, complete=False)
    auth.login(world.user("deposant", hospital))
    return dossier


def test_a_new_dossier_shows_the_accounts_name_finess_and_address(client, auth, setting):
    with auth.at(DURING):
        page = client.get(f"/dossiers/{setting.id}/volets/identification").text
    assert 'name="recruteur_nom" value="Centre Hospitalier de Gonesse"' in page
    assert 'name="recruteur_finess" value="950001370"' in page
    assert 'name="recruteur_cp" value="95500"' in page
    assert 'name="recruteur_ville" value="Gonesse"' in page
    # An empty account value leaves the field empty; a field not marked stays empty.
    assert 'name="recruteur_adresse" value=""' in page
    assert 'name="partenaire_nom" value=""' in page
    assert page.count("Repris du compte de votre organisation") == 4
    # Shown is not saved: the other tabs wait for « Enregistrer ».
    assert 'class="locked"' in page


def test_prefilled_values_are_editable_and_the_saved_ones_win(client, auth, setting, session):
    url = f"/dossiers/{setting.id}/volets/identification"
    with auth.at(DURING):
        saved = client.post(
            url,
            data={
                "recruteur_nom": "CH de Gonesse (site de Gonesse)",
                "recruteur_finess": "950001370",
                "recruteur_cp": "95500",
                "recruteur_ville": "Gonesse",
            },
        )
        assert saved.status_code == 302
        page = client.get(url).text
    assert 'name="recruteur_nom" value="CH de Gonesse (site de Gonesse)"' in page
    assert "Repris du compte" not in page
    reread(session)
    assert setting.values["identification"]["recruteur_nom"] == "CH de Gonesse (site de Gonesse)"


def test_an_unknown_prefill_source_is_refused() -> None:
    field = {"key": "x", "label": "X", "type": "text", "prefill": "organisation.password_hash"}
    with pytest.raises(ValidationError, match="organisation.name"):
        definition(volets=[{"key": "a", "title": "A", "fields": [field]}], rules=[], summary={})


@pytest.mark.parametrize(
    ("slug", "ref", "source"),
    [
        ("idf-asp-vague6", "identification.recruteur_finess", "organisation.finess"),
        ("idf-mgvh-2020", "identification.recruteur_adresse", "organisation.address"),
        ("idf-aumg-vague12", "identification.universite_nom", "organisation.name"),
    ],
)
def test_the_campaigns_mark_the_depositors_own_fields(slug, ref, source) -> None:
    assert load(slug).field(ref).prefill == source
