"""Editing a dossier volet by volet, the confirmation tab, creating and deleting dossiers."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import COMPLETE_VALUES, at_paris
from workflow.campaigns.store import definition_of
from workflow.machine.editing import (
    create_dossier,
    delete_dossier,
    save_confirmation,
    save_volet,
    volet_report,
)
from workflow.machine.operations import fire
from workflow.models import AuditEvent, Dossier, Organisation
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, TransitionRefused

DURING = at_paris(2026, 2, 10)
AFTER = at_paris(2026, 3, 21, 9)


@pytest.fixture
def setup(world):
    campaign = world.campaign()
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    return campaign, hospital, deposant


def test_a_deposant_creates_a_brouillon_on_the_current_version(setup, session):
    campaign, hospital, deposant = setup
    with time_machine.travel(DURING, tick=False), transaction(session):
        dossier = create_dossier(session, campaign, deposant)
    assert (dossier.state, dossier.organisation_id) == ("brouillon", hospital.id)
    assert dossier.campaign_version.version == 1
    (event,) = session.scalars(select(AuditEvent)).all()
    assert (event.event, event.to_state) == ("creer", "brouillon")


def test_a_university_cannot_open_a_dossier_in_a_hospital_campaign(setup, session):
    campaign, _, _ = setup
    with transaction(session):
        university = Organisation(type="universite", name="Université", siret="77220148900022")
        session.add(university)
    from workflow.people.actors import Actor

    actor = Actor("deposant", None, university.id, "dumg@example.fr")
    with (
        time_machine.travel(DURING, tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        create_dossier(session, campaign, actor)
    assert refused.value.reasons == [
        "Cette campagne est réservée au Bureau des Affaires Médicales de l'établissement recruteur."
    ]


def test_no_dossier_is_created_after_the_deadline(setup, session):
    campaign, _, deposant = setup
    with (
        time_machine.travel(AFTER, tick=False),
        pytest.raises(TransitionRefused, match="date limite de dépôt est passée"),
        transaction(session),
    ):
        create_dossier(session, campaign, deposant)


def test_identification_is_saved_before_the_other_volets(setup, world, session):
    campaign, hospital, deposant = setup
    dossier = world.dossier(campaign, hospital, complete=False)
    with (
        time_machine.travel(DURING, tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        save_volet(session, dossier, deposant, "candidat", COMPLETE_VALUES["candidat"])
    assert refused.value.reasons[0].startswith(
        "Complétez et enregistrez d'abord le volet « Identification »"
    )


def test_an_empty_identification_save_opens_no_other_volet(setup, world, session):
    # IdF ASP manual: « Une fois l'onglet « Identification » complété, vous avez la
    # possibilité de renseigner les différents onglets dans n'importe quel ordre ».
    campaign, hospital, deposant = setup
    dossier = world.dossier(campaign, hospital, complete=False)
    with time_machine.travel(DURING, tick=False):
        with transaction(session):
            save_volet(session, dossier, deposant, "identification", {})
        half = {**COMPLETE_VALUES["identification"], "specialite": ""}
        with transaction(session):
            save_volet(session, dossier, deposant, "identification", half)
        with pytest.raises(TransitionRefused), transaction(session):
            save_volet(session, dossier, deposant, "candidat", COMPLETE_VALUES["candidat"])
        with transaction(session):
            save_volet(
                session, dossier, deposant, "identification", COMPLETE_VALUES["identification"]
            )
        with transaction(session):
            save_volet(session, dossier, deposant, "candidat", COMPLETE_VALUES["candidat"])
    assert dossier.values["candidat"]["nom"] == "Lambourde"


def test_without_identification_first_every_volet_is_open_at_once(world, session):
    # Only the IdF ASP and MGVH manuals say so; the other seeds never order the volets.
    campaign = world.campaign(identification_first=False)
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    dossier = world.dossier(campaign, hospital, complete=False)
    with time_machine.travel(DURING, tick=False), transaction(session):
        save_volet(session, dossier, deposant, "candidat", COMPLETE_VALUES["candidat"])
    assert dossier.values["candidat"]["prenom"] == "Peggy"


def test_an_invalid_finess_is_refused_and_nothing_saved_is_lost(setup, world, session):
    campaign, hospital, deposant = setup
    dossier = world.dossier(campaign, hospital, complete=False)
    good = dict(COMPLETE_VALUES["identification"])
    with time_machine.travel(DURING, tick=False):
        with transaction(session):
            save_volet(session, dossier, deposant, "identification", good)
        bad = {**good, "recruteur_finess": "010000157", "partenaire_nom": "Autre nom"}
        with pytest.raises(InvalidInput) as invalid, transaction(session):
            save_volet(session, dossier, deposant, "identification", bad)
    assert set(invalid.value.errors) == {"recruteur_finess"}
    assert "clé" in invalid.value.errors["recruteur_finess"].lower()
    session.expire_all()
    saved = session.get(Dossier, dossier.id)
    assert saved.values["identification"]["partenaire_nom"] == "CHU La Pyte"
    assert saved.partner_name == "CHU La Pyte"


def test_saving_a_volet_normalises_values_and_fills_the_recap_columns(setup, world, session):
    campaign, hospital, deposant = setup
    dossier = world.dossier(campaign, hospital, complete=False)
    ident = {**COMPLETE_VALUES["identification"], "recruteur_finess": " 010 000 156 "}
    candidat = {**COMPLETE_VALUES["candidat"], "temps_hopital": "40 %", "temps_partenaire": "60"}
    with time_machine.travel(DURING, tick=False):
        with transaction(session):
            save_volet(session, dossier, deposant, "identification", ident)
        with transaction(session):
            save_volet(session, dossier, deposant, "candidat", candidat)
    report = volet_report(definition_of(session, dossier.campaign_version_id), dossier)
    assert dossier.values["identification"]["recruteur_finess"] == "010000156"
    assert dossier.values["candidat"]["temps_hopital"] == 40
    assert dossier.candidate_name == "Lambourde Peggy"
    assert dossier.speciality == "Dermatologie"
    assert not report.complete
    assert [p.place for p in report.problems] == ["pieces", "confirmation", "confirmation"]


def test_a_deposited_dossier_stays_complete_when_edited_before_the_deadline(setup, world, session):
    campaign, hospital, deposant = setup
    dossier = world.dossier(campaign, hospital, "en_construction")
    broken = {**COMPLETE_VALUES["candidat"], "temps_partenaire": 40}
    with (
        time_machine.travel(DURING, tick=False),
        pytest.raises(InvalidInput) as invalid,
        transaction(session),
    ):
        save_volet(session, dossier, deposant, "candidat", broken)
    assert "doit rester complet" in invalid.value.message
    assert "actuellement 90 %" in invalid.value.message


def test_a_deposited_dossier_is_frozen_after_the_deadline_unless_corrections_are_asked(
    setup, world, session
):
    campaign, hospital, deposant = setup
    dossier = world.dossier(campaign, hospital, "en_instruction")
    instructeur = world.actor("instructeur")
    values = {**COMPLETE_VALUES["candidat"], "prenom": "Marie"}
    with time_machine.travel(AFTER, tick=False):
        with transaction(session):
            fire(
                session,
                dossier,
                "demander_corrections",
                instructeur,
                {"message": "Corriger le prénom.", "due_date": dt.date(2026, 3, 25)},
            )
        with transaction(session):
            save_volet(session, dossier, deposant, "candidat", values)
    assert dossier.candidate_name == "Lambourde Marie"
    with (
        time_machine.travel(at_paris(2026, 3, 26, 0, 0, 1), tick=False),
        pytest.raises(TransitionRefused, match="date limite de dépôt est passée"),
        transaction(session),
    ):
        save_volet(session, dossier, deposant, "candidat", values)


def test_another_organisation_cannot_edit_the_dossier(setup, world, session):
    campaign, hospital, _ = setup
    dossier = world.dossier(campaign, hospital, complete=False)
    stranger = world.actor("deposant", world.organisation())
    with (
        time_machine.travel(DURING, tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        save_volet(session, dossier, stranger, "identification", {})
    assert refused.value.reasons == ["Ce dossier n'appartient pas à votre organisation."]


def test_the_confirmation_tab_keeps_only_the_campaigns_attestations(setup, world, session):
    campaign, hospital, deposant = setup
    dossier = world.dossier(campaign, hospital, complete=False)
    with time_machine.travel(DURING, tick=False), transaction(session):
        report = save_confirmation(session, dossier, deposant, ["complet", "inventee"], True)
    assert dossier.attestations == ["complet"]
    assert dossier.consent is True
    assert all(p.place != "confirmation" for p in report.problems)


def test_a_deposant_deletes_a_dossier_before_the_deadline_and_the_trail_remains(
    setup, world, session
):
    campaign, hospital, deposant = setup
    dossier = world.dossier(campaign, hospital, "en_construction")
    dossier_id, number = dossier.id, dossier.number
    with time_machine.travel(DURING, tick=False), transaction(session):
        delete_dossier(session, dossier, deposant)
    assert session.get(Dossier, dossier_id) is None
    (event,) = session.scalars(select(AuditEvent)).all()
    assert (event.event, event.dossier_id, event.payload) == (
        "supprimer",
        dossier_id,
        {"number": number},
    )


def test_a_dossier_in_instruction_cannot_be_deleted(setup, world, session):
    campaign, hospital, deposant = setup
    dossier = world.dossier(campaign, hospital, "en_instruction")
    with (
        time_machine.travel(DURING, tick=False),
        pytest.raises(TransitionRefused, match="n'est plus modifiable"),
        transaction(session),
    ):
        delete_dossier(session, dossier, deposant)


def test_corrections_reopen_editing_but_not_deletion_after_the_deadline(setup, world, session):
    campaign, hospital, deposant = setup
    dossier = world.dossier(campaign, hospital, "en_instruction")
    instructeur = world.actor("instructeur")
    with time_machine.travel(AFTER, tick=False):
        with transaction(session):
            fire(
                session,
                dossier,
                "demander_corrections",
                instructeur,
                {"message": "Corriger le prénom.", "due_date": dt.date(2026, 3, 25)},
            )
        with (
            pytest.raises(TransitionRefused, match="date limite de dépôt est passée"),
            transaction(session),
        ):
            delete_dossier(session, dossier, deposant)
    assert session.get(Dossier, dossier.id) is not None
