"""Depositing a dossier: the number, the accusé de réception, and the refusals."""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import at_paris
from workflow.machine.operations import fire
from workflow.mail.templates import render
from workflow.models import AuditEvent, OutboxMail
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import TransitionRefused


def test_a_complete_dossier_deposited_in_time_gets_its_number_and_its_mail(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    dossier = world.dossier(campaign, hospital, complete=True)
    with time_machine.travel(at_paris(2026, 3, 10), tick=False), transaction(session):
        fire(session, dossier, "deposer", deposant)
    assert dossier.state == "en_construction"
    assert dossier.number == 1
    events = session.scalars(select(AuditEvent).where(AuditEvent.dossier_id == dossier.id)).all()
    assert [(e.event, e.from_state, e.to_state) for e in events] == [
        ("deposer", "brouillon", "en_construction")
    ]
    (mail,) = session.scalars(select(OutboxMail)).all()
    assert mail.recipient == deposant.label
    rendered = render(session, mail, "https://postes.example.fr")
    assert rendered.subject.startswith("Votre dossier n° 1 a bien été déposé")
    assert "Structure partenaire : CHU La Pyte" in rendered.text
    assert "Spécialité : Dermatologie" in rendered.text
    assert "Candidat pressenti : Lambourde Peggy" in rendered.text
    assert "jusqu'au 20 mars 2026 inclus" in rendered.text
    assert "<strong>n° 1</strong>" in rendered.html


def test_an_incomplete_dossier_is_refused_with_every_missing_item(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    dossier = world.dossier(campaign, hospital, complete=False)
    with (
        time_machine.travel(at_paris(2026, 3, 10), tick=False),
        pytest.raises(TransitionRefused) as refused,
        transaction(session),
    ):
        fire(session, dossier, "deposer", deposant)
    reasons = refused.value.reasons
    assert "Identification — « FINESS du recruteur » est obligatoire." in reasons
    assert "Pièce manquante : CV du candidat." in reasons
    assert any(
        "Renseignez « N° RPPS » ou « Date prévisionnelle d'inscription »" in r for r in reasons
    )
    assert any(r.startswith("Attestation à cocher") for r in reasons)
    session.expire_all()
    assert dossier.state == "brouillon"
    assert dossier.number is None
    assert session.scalars(select(OutboxMail)).all() == []
    assert session.scalars(select(AuditEvent)).all() == []
