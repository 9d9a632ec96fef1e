"""An administrator extends or shortens a deadline, with a reason kept in the audit trail."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import at_paris
from workflow.administration.campaigns import change_deadline
from workflow.models import AuditEvent, Campaign
from workflow.people.actors import Actor
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import TransitionRefused

ADMIN = Actor("administrateur", None, None, "admin@ars.example.fr")


def test_extending_a_closed_campaign_reopens_it_and_is_audited(world, session):
    campaign = world.campaign()
    with transaction(session):
        campaign.closed_at = at_paris(2026, 3, 21)
    now = at_paris(2026, 3, 22)
    with transaction(session):
        change_deadline(session, campaign, dt.date(2026, 3, 27), ADMIN, "Panne du 20 mars", now)
    assert campaign.deadline_at == at_paris(2026, 3, 28, 0, 0, 0)
    assert campaign.closed_at is None
    (event,) = session.scalars(select(AuditEvent)).all()
    assert (event.event, event.actor_label) == ("modifier_date_limite", "admin@ars.example.fr")
    assert event.payload == {
        "avant": "jusqu'au 20 mars 2026 inclus",
        "apres": "jusqu'au 27 mars 2026 inclus",
        "motif": "Panne du 20 mars",
    }


def test_a_deadline_change_needs_an_administrator_and_a_reason(world, session):
    campaign = world.campaign()
    instructeur = Actor("instructeur", None, None, "i@ars.example.fr")
    with pytest.raises(TransitionRefused) as refused, transaction(session):
        change_deadline(session, campaign, dt.date(2026, 4, 1), instructeur, " ")
    assert refused.value.reasons == [
        "Action réservée aux administrateurs de l'ARS.",
        "Le motif est obligatoire.",
    ]
    with pytest.raises(TransitionRefused, match="suivre l'ouverture"), transaction(session):
        change_deadline(session, campaign, dt.date(2025, 12, 1), ADMIN, "Erreur")


def test_the_command_line_shortens_a_deadline_to_a_time(sqlite_url):
    from tests.conftest import definition
    from workflow.campaigns.store import store_campaign
    from workflow.plumbing.db import make_engine, make_session_factory

    sessions = make_session_factory(make_engine(sqlite_url))
    with sessions() as session, transaction(session):
        store_campaign(session, definition())
    result = subprocess.run(
        [
            sys.executable,
            "run.py",
            "set-deadline",
            "test-asp",
            "2026-03-18T12:00",
            "--reason",
            "Jury avancé",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env={"DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    with sessions() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert campaign.deadline_at == at_paris(2026, 3, 18, 12)
        assert campaign.deadline_whole_day is False


def test_an_administrator_opens_a_campaign_early_and_closes_it_now(world, session):
    from workflow.administration.campaigns import close_now, open_now

    campaign = world.campaign()
    hospital = world.organisation()
    world.actor("deposant", hospital)
    world.dossier(campaign, hospital, "en_construction")
    with transaction(session):
        open_now(session, campaign, ADMIN, "Ouverture anticipée", now=at_paris(2026, 1, 2, 9))
    assert campaign.opens_at == at_paris(2026, 1, 2, 9)
    with transaction(session):
        closed = close_now(session, campaign, ADMIN, "Jury avancé", now=at_paris(2026, 3, 1, 18))
    assert (closed.closed_now, closed.moved) == (True, 1)
    assert campaign.deadline_at == at_paris(2026, 3, 1, 18)
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.event, e.actor_label) for e in events] == [
        ("ouvrir_campagne", "admin@ars.example.fr"),
        ("clore_campagne", "admin@ars.example.fr"),
        ("passer_en_instruction", "admin@ars.example.fr"),
    ]
    with pytest.raises(TransitionRefused, match="déjà close"), transaction(session):
        close_now(session, campaign, ADMIN, "Encore", now=at_paris(2026, 3, 2))
