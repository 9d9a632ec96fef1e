"""The « Décision » tab recalls what the seeds' screens show above « Avis » and
« Motivation »: IdF ASP, each établissement's Nom, CP, Ville, Directeur and Spécialité; MGVH,
the candidate's Statut and ONM. Each campaign declares it (`decision_summary`)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.conftest import definition
from tests.test_seed_campaigns import load
from tests.test_web_deposant import DURING, text_of

SUMMARY = [
    {
        "title": "Etablissement de santé Partenaire",
        "fields": ["identification.partenaire_nom", "identification.specialite"],
    },
    {"title": "Candidat", "fields": ["candidat.nom", "candidat.rpps"]},
]


def test_the_idf_asp_decision_screen_recalls_both_establishments() -> None:
    groups = {g.title: g.fields for g in load("idf-asp-vague6").decision_summary}
    for side in ("recruteur", "partenaire"):
        title = f"Etablissement de santé {side.capitalize()}"
        assert groups[title] == tuple(
            f"identification.{side}_{key}"
            for key in ("nom", "cp", "ville", "directeur", "specialite")
        )


def test_the_mgvh_decision_screen_recalls_the_candidates_status_and_onm() -> None:
    groups = {g.title: g.fields for g in load("idf-mgvh-2020").decision_summary}
    assert "candidat.statut" in groups["Candidat"]
    assert "candidat.rpps" in groups["Candidat"]


def test_a_campaign_without_decision_summary_recalls_nothing() -> None:
    assert definition().decision_summary == ()


def test_a_decision_summary_naming_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="champ inconnu : « candidat.onm »"):
        definition(decision_summary=[{"title": "Candidat", "fields": ["candidat.onm"]}])


def test_the_decision_tab_shows_the_declared_fields_with_their_values(world, client, auth):
    campaign = world.campaign(decision_summary=SUMMARY)
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, "en_instruction")
    auth.login(world.user("deposant", hospital))
    with auth.at(DURING):
        page = text_of(client.get(f"/dossiers/{dossier.id}/decision"))
    assert "Etablissement de santé Partenaire Nom du partenaire CHU La Pyte" in page
    assert "Spécialité Dermatologie" in page
    assert "Candidat Nom Lambourde N° RPPS 10003456786" in page
