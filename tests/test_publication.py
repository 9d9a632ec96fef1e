"""Grouped publication: decisions held back, then published at once with their mails."""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import at_paris
from workflow.machine.operations import fire
from workflow.machine.publication import publish_results
from workflow.mail.templates import render
from workflow.models import AuditEvent, Dossier, OutboxMail
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import ConflictError, TransitionRefused

JURY = at_paris(2026, 5, 20, 15)


def decided(world, session):
    campaign = world.campaign(publication="grouped")
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    instructeur = world.actor("instructeur")
    dossiers = [world.dossier(campaign, hospital, "en_instruction") for _ in range(3)]
    for dossier, event in zip(dossiers, ["accepter", "refuser", "classer_sans_suite"], strict=True):
        with transaction(session):
            fire(session, dossier, event, instructeur, {"motivation": "Avis du jury."})
    return campaign, deposant, instructeur, dossiers


def test_publishing_releases_every_decision_and_mails_both_partners(world, session):
    campaign, deposant, instructeur, dossiers = decided(world, session)
    assert session.scalars(select(OutboxMail)).all() == []
    with time_machine.travel(JURY, tick=False), transaction(session):
        assert publish_results(session, campaign, instructeur).decisions == 3
    session.expire_all()
    assert all(d.decision.published_at == JURY for d in dossiers)
    mails = session.scalars(select(OutboxMail).order_by(OutboxMail.dossier_id)).all()
    assert sorted((m.dossier_id, m.recipient) for m in mails) == sorted(
        (d.id, who) for d in dossiers for who in (deposant.label, "dam@chu-la-pyte.fr")
    )
    # One template per outcome (the AUMG manual's three « mail type »), each to its dossier.
    template_of = {m.dossier_id: m.template for m in mails}
    assert [template_of[d.id] for d in dossiers] == [
        "decision_accepte",
        "decision_refuse",
        "decision_sans_suite",
    ]
    accepted = next(m for m in mails if m.dossier_id == dossiers[0].id)
    text = render(session, accepted).text
    assert "le dossier est ACCEPTÉ (avis favorable)" in text
    assert "Motivation de la décision : Avis du jury." in text
    assert "du 1er octobre 2026 au 31 octobre 2026 le maintien du projet de recrutement" in text
    assert "à partir du 2 novembre 2026 la prise de poste" in text
    refused = next(m for m in mails if m.dossier_id == dossiers[1].id)
    assert "le dossier est REFUSÉ (avis défavorable)" in render(session, refused).text
    events = session.scalars(select(AuditEvent).where(AuditEvent.event == "publier_resultats"))
    assert sorted(e.dossier_id for e in events) == sorted(d.id for d in dossiers)


def test_publishing_twice_publishes_nothing_twice(world, session):
    campaign, _, instructeur, _ = decided(world, session)
    with transaction(session):
        publish_results(session, campaign, instructeur)
    with transaction(session):
        assert publish_results(session, campaign, instructeur).decisions == 0
    assert len(session.scalars(select(OutboxMail)).all()) == 6


def test_a_published_decision_can_no_longer_be_taken_back(world, session):
    campaign, _, instructeur, dossiers = decided(world, session)
    with transaction(session):
        publish_results(session, campaign, instructeur)
    stale = dossiers[1]
    with pytest.raises(ConflictError), transaction(session):
        fire(session, stale, "repasser_en_instruction", instructeur, {"reason": "Erreur"})
    fresh = session.get(Dossier, stale.id)
    with pytest.raises(TransitionRefused, match="ne peut plus être reprise"), transaction(session):
        fire(session, fresh, "repasser_en_instruction", instructeur, {"reason": "Erreur"})


def test_a_deposant_cannot_publish(world, session):
    campaign, deposant, _, _ = decided(world, session)
    with pytest.raises(TransitionRefused), transaction(session):
        publish_results(session, campaign, deposant)
