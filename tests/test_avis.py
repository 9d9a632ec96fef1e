"""Avis: invited by an instructor, given through a signed expiring link, deleted by the ARS."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import at_paris
from workflow.instruction.avis import (
    avis_from_token,
    avis_token,
    delete_avis,
    give_avis,
    invite_avis,
)
from workflow.mail.templates import render
from workflow.models import AuditEvent, Avis, OutboxMail
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, InvalidLink, TransitionRefused

SECRET = "test-secret"
AVIS = [
    {
        "key": "coordonnateur",
        "label": "Avis du coordonnateur de la spécialité",
        "giver": "coordonnateur",
    }
]
ASKED = at_paris(2026, 4, 2, 10)


def invited(world, session):
    campaign = world.campaign(avis=AVIS)
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    instructeur = world.actor("instructeur")
    with time_machine.travel(ASKED, tick=False), transaction(session):
        avis = invite_avis(
            session,
            dossier,
            "coordonnateur",
            " Coordo@CHU-Rouen.fr ",
            "Pr Martin",
            instructeur,
            secret_key=SECRET,
            base_url="https://pp.example.fr/",
        )
    return dossier, avis, instructeur


def test_the_person_asked_receives_a_personal_link(world, session):
    dossier, avis, _ = invited(world, session)
    (mail,) = session.scalars(select(OutboxMail)).all()
    assert (mail.template, mail.recipient) == ("demande_avis", "Coordo@chu-rouen.fr")
    rendered = render(session, mail)
    assert rendered.subject.startswith(f"Avis demandé — dossier n° {dossier.number}")
    assert "Avis du coordonnateur de la spécialité" in rendered.text
    assert "https://pp.example.fr/avis/" in rendered.text
    assert "valable jusqu'au 2 mai 2026 à 10h00" in rendered.text
    token = mail.context["link"].rsplit("/", 1)[1]
    with time_machine.travel(ASKED + dt.timedelta(days=29), tick=False):
        assert avis_from_token(session, token, SECRET).id == avis.id


def test_the_link_expires_after_thirty_days_and_cannot_be_forged(world, session):
    _, avis, _ = invited(world, session)
    with time_machine.travel(ASKED, tick=False):
        token = avis_token(avis.id, SECRET)
    later = time_machine.travel(ASKED + dt.timedelta(days=31), tick=False)
    with later, pytest.raises(InvalidLink, match="expiré"):
        avis_from_token(session, token, SECRET)
    with pytest.raises(InvalidLink, match="pas valide"):
        avis_from_token(session, token + "x", SECRET)
    with pytest.raises(InvalidLink, match="pas valide"):
        avis_from_token(session, avis_token(avis.id, "another-secret"), SECRET)


def test_an_avis_is_given_once_and_audited(world, session):
    _, avis, _ = invited(world, session)
    with transaction(session):
        give_avis(
            session,
            avis,
            "favorable",
            "Projet cohérent avec la maquette.",
            now=at_paris(2026, 4, 5),
        )
    assert (avis.verdict, avis.comment) == ("favorable", "Projet cohérent avec la maquette.")
    with pytest.raises(InvalidInput, match="déjà été donné, le 5 avril 2026"), transaction(session):
        give_avis(session, avis, "defavorable", "")
    events = [e.event for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events == ["demander_avis", "donner_avis"]


def test_an_avis_needs_a_verdict(world, session):
    _, avis, _ = invited(world, session)
    with pytest.raises(InvalidInput) as invalid, transaction(session):
        give_avis(session, avis, "", "Sans avis")
    assert invalid.value.errors == {"verdict": "Indiquez un avis favorable ou défavorable."}


def test_a_deleted_avis_link_no_longer_works(world, session):
    _, avis, instructeur = invited(world, session)
    token = avis_token(avis.id, SECRET)  # made now: valid for thirty days
    with transaction(session):
        delete_avis(session, avis, instructeur)
    assert session.scalars(select(Avis)).all() == []
    with pytest.raises(InvalidLink, match="retirée"):
        avis_from_token(session, token, SECRET)


def test_only_the_ars_asks_for_avis_the_campaign_lists(world, session):
    campaign = world.campaign(avis=AVIS)
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, "en_instruction")
    deposant = world.actor("deposant", hospital)
    instructeur = world.actor("instructeur")
    with pytest.raises(TransitionRefused), transaction(session):
        invite_avis(
            session,
            dossier,
            "coordonnateur",
            "a@b.fr",
            "",
            deposant,
            secret_key=SECRET,
            base_url="",
        )
    with pytest.raises(InvalidInput, match="pas prévu"), transaction(session):
        invite_avis(
            session, dossier, "directeur", "a@b.fr", "", instructeur, secret_key=SECRET, base_url=""
        )
    with pytest.raises(InvalidInput) as invalid, transaction(session):
        invite_avis(
            session,
            dossier,
            "coordonnateur",
            "pas-une-adresse",
            "",
            instructeur,
            secret_key=SECRET,
            base_url="",
        )
    assert "giver_email" in invalid.value.errors
