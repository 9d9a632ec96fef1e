"""The completeness badge says what is missing, by kind (« 2 champs obligatoires, 5 cases à
cocher » is not « 7 éléments manquants » when every volet is complete), and a decided
dossier no longer shows the time left to deposit."""

from __future__ import annotations

from tests.conftest import COMPLETE_VALUES, definition
from tests.test_web_deposant import DURING, text_of
from workflow.campaigns.completeness import completeness
from workflow.campaigns.missing import missing_by_kind
from workflow.plumbing.db import transaction


def test_complete_volets_with_boxes_unticked_count_as_boxes_to_tick() -> None:
    report = completeness(definition(), COMPLETE_VALUES, pieces=["cv"])
    assert missing_by_kind(report, COMPLETE_VALUES) == ["2 cases à cocher"]


def test_an_empty_dossier_lacks_fields_a_piece_and_boxes() -> None:
    report = completeness(definition(), {})
    # 4 fields of Identification, Nom, Prénom and the two times of Candidat, and « N° RPPS
    # ou date d'inscription » (one rule, anchored on a field left empty).
    assert missing_by_kind(report, {}) == [
        "9 champs obligatoires",
        "1 pièce à joindre",
        "2 cases à cocher",
    ]


def test_a_filled_field_that_breaks_a_rule_is_to_correct_not_to_fill() -> None:
    values = {**COMPLETE_VALUES, "candidat": {**COMPLETE_VALUES["candidat"], "temps_hopital": 60}}
    report = completeness(definition(), values, pieces=["cv"], attestations=["complet"])
    assert missing_by_kind(report, values) == ["1 champ à corriger", "1 case à cocher"]


def test_the_recap_badge_says_what_is_missing_by_kind(
    auth, world, client, campaign, hospital, signed_in, session
):
    dossier = world.dossier(campaign, hospital)
    with transaction(session):
        dossier.attestations, dossier.consent = [], False
    with auth.at(DURING):
        page = text_of(client.get(f"/campagnes/{campaign.slug}/recapitulatif"))
    assert "Incomplet : 2 cases à cocher" in page
    assert "manquant" not in page


def test_an_accepted_dossier_no_longer_shows_the_time_left_to_deposit(
    auth, world, client, campaign, hospital, signed_in
):
    accepted = world.dossier(campaign, hospital, state="accepte", published=True)
    draft = world.dossier(campaign, hospital)
    with auth.at(DURING):
        decided = text_of(client.get(f"/dossiers/{accepted.id}/decision"))
        open_draft = text_of(client.get(f"/dossiers/{draft.id}/decision"))
        listed = text_of(client.get(f"/campagnes/{campaign.slug}"))
    assert "il reste" not in decided
    assert "il reste 38 jours" in open_draft
    assert "Incomplet" not in listed and "Complet" in listed


def test_the_instructors_dashboard_says_what_a_deposited_dossier_lacks_by_kind(
    world, client, auth, campaign, session
):
    instructor = world.user("administrateur")
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    with transaction(session):
        dossier.attestations = []
    auth.login(instructor)
    page = text_of(client.get(f"/instruction/campagnes/{campaign.slug}"))
    assert "Incomplet : 1 case à cocher" in page
