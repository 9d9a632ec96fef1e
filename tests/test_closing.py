"""Closing a campaign at its deadline: set-based, audited, mailed, and done once."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import func, select

from tests.conftest import World, at_paris
from workflow.machine.closing import close_campaign, due_campaign_ids
from workflow.mail.templates import render
from workflow.models import AuditEvent, Campaign, Dossier, OutboxMail
from workflow.people.actors import SCHEDULER
from workflow.plumbing.db import transaction

AFTER_DEADLINE = at_paris(2026, 3, 21, 0, 0, 0)


def populated(world: World, moves: bool = True):
    campaign = world.campaign(deadline_moves_to_instruction=moves)
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    deposited = [world.dossier(campaign, hospital, "en_construction") for _ in range(3)]
    draft = world.dossier(campaign, hospital, "brouillon", complete=False)
    return campaign, deposant, deposited, draft


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_campaign_is_not_due_before_midnight_after_its_deadline_day(world, session):
    campaign, *_ = populated(world)
    last_second = at_paris(2026, 3, 20, 23, 59, 59)
    assert due_campaign_ids(session, last_second) == []
    assert due_campaign_ids(session, AFTER_DEADLINE) == [campaign.id]
    with transaction(session):
        closed = close_campaign(session, campaign.id, last_second)
    assert (closed.closed_now, closed.moved) == (False, 0)


def test_closing_moves_deposited_dossiers_into_instruction_with_audit_and_mails(world, session):
    campaign, deposant, deposited, draft = populated(world)
    with transaction(session):
        closed = close_campaign(session, campaign.id, AFTER_DEADLINE)
    assert (closed.closed_now, closed.moved) == (True, 3)
    session.expire_all()
    assert {d.state for d in deposited} == {"en_instruction"}
    assert all(d.version == 2 for d in deposited)
    assert draft.state == "brouillon"
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.dossier_id)).all()
    assert [(e.dossier_id, e.event, e.from_state, e.to_state, e.actor_label) for e in events] == [
        (d.id, "passer_en_instruction", "en_construction", "en_instruction", SCHEDULER.label)
        for d in deposited
    ]
    assert all(e.at == AFTER_DEADLINE for e in events)
    mails = session.scalars(select(OutboxMail).order_by(OutboxMail.dossier_id)).all()
    assert [(m.dossier_id, m.recipient, m.template) for m in mails] == [
        (d.id, deposant.label, "passage_en_instruction") for d in deposited
    ]
    assert len({m.message_id for m in mails}) == 3
    rendered = render(session, mails[0])
    assert rendered.subject.startswith(f"Votre dossier n° {deposited[0].number} va être examiné")


def test_closing_twice_changes_nothing_more(world, session):
    campaign, *_ = populated(world)
    with transaction(session):
        close_campaign(session, campaign.id, AFTER_DEADLINE)
    with transaction(session):
        again = close_campaign(session, campaign.id, AFTER_DEADLINE + dt.timedelta(hours=1))
    assert (again.closed_now, again.moved) == (False, 0)
    assert count(session, AuditEvent) == 3
    assert count(session, OutboxMail) == 3
    session.expire_all()
    assert session.get(Campaign, campaign.id).closed_at == AFTER_DEADLINE


def test_a_campaign_that_keeps_dossiers_open_is_closed_without_moving_them(world, session):
    campaign, _, deposited, _ = populated(world, moves=False)
    with transaction(session):
        closed = close_campaign(session, campaign.id, AFTER_DEADLINE)
    assert (closed.closed_now, closed.moved) == (True, 0)
    session.expire_all()
    assert {d.state for d in deposited} == {"en_construction"}


def test_two_schedulers_closing_together_close_once(world, sessions):
    with sessions() as setup:
        campaign, *_ = populated(World(setup))
        campaign_id = campaign.id
    barrier = threading.Barrier(2)
    results = []

    def close():
        with sessions() as session:
            barrier.wait()
            with transaction(session):
                results.append(close_campaign(session, campaign_id, AFTER_DEADLINE))

    threads = [threading.Thread(target=close) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.moved for r in results) == [0, 3]
    with sessions() as check:
        assert count(check, AuditEvent) == 3
        assert count(check, OutboxMail) == 3
        assert count(check, Dossier, Dossier.state == "en_instruction") == 3
