"""« Passer en instruction » on several selected dossiers: each through `fire`, one
transaction each; a refusal or a concurrent change stops only that dossier, with its reason."""

from __future__ import annotations

from sqlalchemy import select

from workflow.machine.batch import Selected, fire_each
from workflow.models import AuditEvent, Dossier, OutboxMail
from workflow.plumbing.db import transaction


def test_each_selected_dossier_moves_and_the_others_say_why_not(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    world.actor("deposant", hospital)
    ready = [world.dossier(campaign, hospital, "en_construction") for _ in range(2)]
    already = world.dossier(campaign, hospital, "en_instruction")
    stale = world.dossier(campaign, hospital, "en_construction")
    elsewhere = world.dossier(world.campaign(slug="autre"), hospital, "en_construction")
    with transaction(session):
        stale.candidate_name = "Changé entre-temps"  # its version is now 2
    selected = [
        *(Selected(d.id, d.version) for d in ready),
        Selected(already.id, already.version),
        Selected(stale.id, 1),
        Selected(elsewhere.id, elsewhere.version),
        Selected(999_999),
    ]
    outcome = fire_each(
        session, campaign.id, selected, "passer_en_instruction", world.actor("instructeur")
    )
    assert outcome.done == [d.number for d in ready]
    assert [number for number, _ in outcome.refused] == [already.number, stale.number]
    assert "Le dossier est « En instruction »" in outcome.refused[0][1]
    assert "modifié entre-temps" in outcome.refused[1][1]
    session.expire_all()
    states = dict(session.execute(select(Dossier.id, Dossier.state)).all())
    assert [states[d.id] for d in ready] == ["en_instruction"] * 2
    assert states[stale.id] == states[elsewhere.id] == "en_construction"
    audited = session.scalars(
        select(AuditEvent.dossier_id).where(AuditEvent.event == "passer_en_instruction")
    ).all()
    assert sorted(audited) == sorted(d.id for d in ready)
    mails = session.scalars(select(OutboxMail.template)).all()
    assert mails == ["passage_en_instruction"] * 2
