"""Two transitions on one dossier at once: exactly one wins, the other gets a conflict."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from workflow.machine.operations import fire
from workflow.models import AuditEvent, Dossier, OutboxMail
from workflow.people.actors import Actor
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import ConflictError, TransitionRefused


def test_a_stale_copy_of_the_dossier_loses_with_a_conflict(world, sessions):
    """Two instructors read the dossier, both decide; the second write finds the version
    counter moved and changes nothing."""
    with sessions() as setup:
        from tests.conftest import World

        w = World(setup)
        campaign = w.campaign()
        dossier_id = w.dossier(campaign, w.organisation(), "en_instruction").id
        first, second = w.actor("instructeur"), w.actor("instructeur")
    with sessions() as a, sessions() as b:
        seen_by_a = a.get(Dossier, dossier_id)
        seen_by_b = b.get(Dossier, dossier_id)
        assert seen_by_a.version == seen_by_b.version
        with transaction(a):
            fire(a, seen_by_a, "accepter", first, {"motivation": "Projet solide."})
        with pytest.raises(ConflictError) as conflict, transaction(b):
            fire(b, seen_by_b, "refuser", second, {"motivation": "Zone non prioritaire."})
        assert "modifié entre-temps" in conflict.value.message
    with sessions() as check:
        dossier = check.get(Dossier, dossier_id)
        assert dossier.state == "accepte"
        assert dossier.decision.kind == "accepte"
        events = check.scalar(select(func.count()).select_from(AuditEvent))
        assert events == 1


def test_a_page_showing_an_old_version_gets_a_conflict(world, session):
    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation(), "en_construction")
    instructeur = world.actor("instructeur")
    seen = dossier.version
    with transaction(session):
        fire(session, dossier, "passer_en_instruction", instructeur, expected_version=seen)
    with pytest.raises(ConflictError), transaction(session):
        fire(session, dossier, "demander_corrections", instructeur, expected_version=seen)


def test_two_threads_firing_together_one_wins(world, sessions):
    """Real concurrency: two connections fire at the same moment, each with the version its
    page showed; whatever the interleaving, one succeeds and the other is told of the
    conflict (or, if it read after the commit, that the state no longer allows it)."""
    with sessions() as setup:
        from tests.conftest import World

        w = World(setup)
        campaign = w.campaign()
        dossier = w.dossier(campaign, w.organisation(), "en_instruction")
        dossier_id, version = dossier.id, dossier.version
        actors = [w.actor("instructeur"), w.actor("instructeur")]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(actor, event):
        with sessions() as session:
            loaded = session.get(Dossier, dossier_id)
            barrier.wait()
            try:
                with transaction(session):
                    fire(
                        session,
                        loaded,
                        event,
                        actor,
                        {"motivation": "Décision du jury."},
                        expected_version=version,
                    )
                outcomes.append("won")
            except ConflictError:
                outcomes.append("conflict")
            except TransitionRefused:
                outcomes.append("refused")

    threads = [
        threading.Thread(target=decide, args=(actors[0], "accepter")),
        threading.Thread(target=decide, args=(actors[1], "refuser")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "won"]
    with sessions() as check:
        assert check.get(Dossier, dossier_id).state in ("accepte", "refuse")
        assert check.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_a_stale_copy_loses_a_transition_that_only_sets_columns(world, sessions):
    """« Passer en instruction » is written as one UPDATE checked against the version the
    page loaded: the second instructor's stale copy changes nothing, writes no audit event
    and queues no mail."""
    with sessions() as setup:
        from tests.conftest import World

        w = World(setup)
        campaign = w.campaign()
        hospital = w.organisation()
        w.user("deposant", hospital)  # who the mail of the transition goes to
        dossier_id = w.dossier(campaign, hospital, "en_construction").id
        first, second = w.actor("instructeur"), w.actor("instructeur")
    with sessions() as a, sessions() as b:
        seen_by_a = a.get(Dossier, dossier_id)
        seen_by_b = b.get(Dossier, dossier_id)
        with transaction(a):
            fire(a, seen_by_a, "passer_en_instruction", first)
        with pytest.raises(ConflictError), transaction(b):
            fire(b, seen_by_b, "passer_en_instruction", second)
    with sessions() as check:
        dossier = check.get(Dossier, dossier_id)
        assert (dossier.state, dossier.version) == ("en_instruction", 2)
        assert check.scalar(select(func.count()).select_from(AuditEvent)) == 1
        assert check.scalar(select(func.count()).select_from(OutboxMail)) == 1


def test_the_dossier_a_caller_holds_shows_the_change_fire_wrote(world, session, sessions):
    """After `fire`, the caller's own copy has the new state, version and effect columns,
    the session has nothing left to write, and the next event on it goes through."""
    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation(), "en_construction")
    instructeur = world.actor("instructeur")
    with transaction(session):
        fire(session, dossier, "passer_en_instruction", instructeur)
        assert (dossier.state, dossier.version) == ("en_instruction", 2)
        assert not session.dirty
    due = dt.date(2026, 4, 30)
    with transaction(session):
        fire(
            session,
            dossier,
            "demander_corrections",
            instructeur,
            {"message": " Joindre le CV. ", "due_date": due},
            now=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
            expected_version=2,
        )
    assert (dossier.state, dossier.version) == ("en_construction", 3)
    with sessions() as check:
        stored = check.get(Dossier, dossier.id)
        assert (stored.state, stored.version) == ("en_construction", 3)
        assert stored.corrections_message == "Joindre le CV."
        assert stored.corrections_due_at == dossier.corrections_due_at
        assert stored.updated_at == dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def test_a_transition_writes_its_audit_event_and_mails_with_the_change(world, session):
    """« Demander des corrections » is written with its audit event and its mail (in one
    statement on PostgreSQL): who, when, from which state to which, the payload, the mail's
    context and a Message-ID of its own."""
    campaign = world.campaign()
    hospital = world.organisation()
    deposant = world.user("deposant", hospital)
    dossier = world.dossier(campaign, hospital, "en_instruction")
    instructeur = world.user("instructeur")
    when = dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC)
    payload = {"message": "Joindre le CV.", "due_date": dt.date(2026, 4, 30)}
    with transaction(session):
        fire(session, dossier, "demander_corrections", Actor.of(instructeur), payload, now=when)
    (event,) = session.scalars(select(AuditEvent)).all()
    assert (event.dossier_id, event.campaign_id, event.actor_id) == (
        dossier.id,
        campaign.id,
        instructeur.id,
    )
    assert (event.event, event.from_state, event.to_state, event.at) == (
        "demander_corrections",
        "en_instruction",
        "en_construction",
        when,
    )
    assert event.payload == {"message": "Joindre le CV.", "due_date": "2026-04-30"}
    (mail,) = session.scalars(select(OutboxMail)).all()
    assert (mail.template, mail.recipient, mail.dossier_id, mail.campaign_id) == (
        "demande_corrections",
        deposant.email,
        dossier.id,
        campaign.id,
    )
    assert mail.context == {"message": "Joindre le CV."}
    assert (mail.status, mail.next_attempt_at) == ("pending", when)
    assert mail.message_id.startswith("<") and mail.message_id.endswith("@postes-partages>")
