"""The workflow operations behind the déposant's pages: pieces, the order of priority, what a
page may ask before offering an action, and the state a déposant is shown."""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import COMPLETE_VALUES, at_paris, pdf_bytes
from workflow.machine.editing import attach_piece, move_in_priority
from workflow.machine.operations import refusal_reasons, state_for_deposant
from workflow.models import Attachment, AuditEvent
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, TransitionRefused
from workflow.plumbing.storage import Storage

DURING = at_paris(2026, 2, 10)


def test_asking_why_an_action_is_refused_changes_nothing(world, session, campaign, hospital):
    dossier = world.dossier(campaign, hospital, "accepte", published=True)
    deposant = world.actor("deposant", hospital)
    version = dossier.version
    with time_machine.travel(at_paris(2026, 9, 1), tick=False):
        reasons = refusal_reasons(session, dossier, "confirmer_maintien", deposant)
    assert reasons == [
        "La confirmation du maintien du projet de recrutement est ouverte du 1er octobre "
        "2026 au 31 octobre 2026."
    ]
    session.rollback()
    assert (dossier.state, dossier.version) == ("accepte", version)
    with time_machine.travel(at_paris(2026, 10, 2), tick=False):
        assert refusal_reasons(session, dossier, "confirmer_maintien", deposant) == []


def test_a_decision_held_back_leaves_the_dossier_en_instruction_for_its_deposant(
    world, campaign, hospital
):
    held = world.dossier(campaign, hospital, "refuse", published=False)
    published = world.dossier(campaign, hospital, "refuse", published=True)
    assert state_for_deposant(held) == "en_instruction"
    assert state_for_deposant(published) == "refuse"


def test_a_piece_attached_in_a_change_that_fails_leaves_no_file(
    world, session, campaign, hospital, tmp_path
):
    dossier = world.dossier(campaign, hospital, complete=False)
    with transaction(session):
        dossier.values = {"identification": COMPLETE_VALUES["identification"]}
    storage = Storage(tmp_path / "uploads")
    deposant = world.actor("deposant", hospital)
    with (
        time_machine.travel(DURING, tick=False),
        pytest.raises(RuntimeError),
        transaction(session),
    ):
        attach_piece(session, dossier, deposant, "cv", "cv.pdf", pdf_bytes(), storage)
        raise RuntimeError("the request fails after the upload")
    assert [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()] == []
    assert session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_a_piece_the_campaign_does_not_ask_for_is_refused(
    world, session, campaign, hospital, tmp_path
):
    dossier = world.dossier(campaign, hospital, complete=True)
    deposant = world.actor("deposant", hospital)
    with time_machine.travel(DURING, tick=False), pytest.raises(InvalidInput), transaction(session):
        attach_piece(session, dossier, deposant, "cv", "cv.pdf", b"not a pdf", Storage(tmp_path))
    from workflow.plumbing.errors import WorkflowError

    with (
        time_machine.travel(DURING, tick=False),
        pytest.raises(WorkflowError, match="Pièce inconnue"),
        transaction(session),
    ):
        attach_piece(session, dossier, deposant, "diplome", "d.pdf", pdf_bytes(), Storage(tmp_path))


def test_only_the_organisation_orders_its_dossiers(world, session, campaign, hospital):
    mine = world.dossier(campaign, hospital, "en_construction")
    world.dossier(campaign, hospital, "en_construction")
    stranger = world.actor("deposant", world.organisation())
    with (
        time_machine.travel(DURING, tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        move_in_priority(session, mine, stranger, 1)
    assert refused.value.reasons == ["Ce dossier n'appartient pas à votre organisation."]
    deposant = world.actor("deposant", hospital)
    with time_machine.travel(DURING, tick=False), transaction(session):
        order = move_in_priority(session, mine, deposant, 1)
    assert [d.priority for d in order] == [1, 2] and order[1].id == mine.id
    event = session.scalars(select(AuditEvent).where(AuditEvent.event == "prioriser")).one()
    assert (event.dossier_id, event.payload, event.actor_id) == (
        mine.id,
        {"from": 1, "to": 2},
        deposant.user_id,
    )


def test_saving_a_volet_journals_who_saved_which_volet_once_and_announces_no_change_of_state(
    world, session, campaign, hospital
):
    from workflow.api.webhooks import register_webhook
    from workflow.journal.webhooks import STATE_CHANGE
    from workflow.machine.editing import save_volet
    from workflow.models import WebhookDelivery

    dossier = world.dossier(campaign, hospital, complete=True)
    admin = world.actor("administrateur")
    with transaction(session):
        hook = "https://outil.ars.example.fr/hooks"
        register_webhook(session, campaign.id, hook, [STATE_CHANGE], admin)
    deposant = world.actor("deposant", hospital)
    version = dossier.version
    raw = {**COMPLETE_VALUES["identification"], "partenaire_nom": "CHU de Rouen"}
    with time_machine.travel(DURING, tick=False), transaction(session):
        save_volet(session, dossier, deposant, "identification", raw, expected_version=version)
    session.expire_all()
    saved = session.get(type(dossier), dossier.id)
    assert saved.version == version + 1
    assert saved.values["identification"]["partenaire_nom"] == "CHU de Rouen"
    assert saved.partner_name == "CHU de Rouen"
    assert "chu de rouen" in saved.search_text
    (event,) = session.scalars(
        select(AuditEvent).where(
            AuditEvent.dossier_id == dossier.id, AuditEvent.event == "modifier"
        )
    )
    assert (event.campaign_id, event.actor_id, event.actor_label) == (
        campaign.id,
        deposant.user_id,
        deposant.label,
    )
    assert (event.from_state, event.to_state, event.payload) == (
        "brouillon",
        "brouillon",
        {"volet": "identification"},
    )
    assert event.at == DURING
    assert session.scalar(select(func.count(WebhookDelivery.id))) == 0
