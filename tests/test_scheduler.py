"""The scheduler with a controllable clock: closing at the deadline, reminders sent once,
confirmations asked when their window opens, one leader at a time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from tests.conftest import World, at_paris
from workflow.mail.sender import parse_smtp_url
from workflow.models import AuditEvent, Avis, Campaign, OutboxMail
from workflow.plumbing.db import transaction
from workflow.scheduling.jobs import remind_avis, remind_brouillons, request_confirmations
from workflow.scheduling.scheduler import Leadership, Scheduler

LAST_SECOND = at_paris(2026, 3, 20, 23, 59, 59)
MIDNIGHT = at_paris(2026, 3, 21, 0, 0, 0)


def scheduler(sessions, smtp=None, ttl=60) -> Scheduler:
    return Scheduler(
        sessions,
        Leadership(sessions, ttl=dt.timedelta(seconds=ttl)),
        smtp=smtp,
        mail_from="ars@example.fr",
    )


def campaign_with_dossiers(sessions, **overrides):
    with sessions() as session:
        world = World(session)
        campaign = world.campaign(**overrides)
        hospital = world.organisation()
        deposant = world.actor("deposant", hospital)
        for state in ("en_construction", "en_construction", "brouillon"):
            world.dossier(campaign, hospital, state, complete=state != "brouillon")
        return campaign.id, deposant.label


def mails(sessions, template=None) -> list[OutboxMail]:
    with sessions() as session:
        query = select(OutboxMail).order_by(OutboxMail.id)
        if template:
            query = query.where(OutboxMail.template == template)
        return list(session.scalars(query))


def test_a_campaign_closes_at_midnight_after_its_deadline_day_not_before(sessions):
    campaign_id, _ = campaign_with_dossiers(sessions)
    ticker = scheduler(sessions)
    assert ticker.tick(LAST_SECOND).closed == []
    assert ticker.tick(MIDNIGHT).closed == [campaign_id]
    assert ticker.tick(MIDNIGHT + dt.timedelta(seconds=30)).closed == []
    assert len(mails(sessions, "passage_en_instruction")) == 2


def test_a_deadline_missed_while_the_service_was_down_is_caught_up_at_start(sessions):
    campaign_id, _ = campaign_with_dossiers(sessions)
    restarted = scheduler(sessions)  # a new process, days after the deadline
    report = restarted.tick(MIDNIGHT + dt.timedelta(days=3, hours=5))
    assert report.closed == [campaign_id]
    with sessions() as session:
        assert session.get(Campaign, campaign_id).closed_at is not None


def test_two_schedulers_one_leads_and_the_campaign_closes_once(sessions):
    campaign_id, _ = campaign_with_dossiers(sessions)
    first, second = scheduler(sessions), scheduler(sessions)
    assert first.tick(MIDNIGHT).closed == [campaign_id]
    assert second.tick(MIDNIGHT) is None  # standby while the lease lives
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 2


def test_a_standby_takes_over_when_the_leader_stops_renewing(sessions):
    leader, standby = scheduler(sessions, ttl=60), scheduler(sessions, ttl=60)
    assert leader.tick(MIDNIGHT) is not None
    assert standby.tick(MIDNIGHT + dt.timedelta(seconds=59)) is None
    assert standby.tick(MIDNIGHT + dt.timedelta(seconds=61)) is not None
    assert leader.tick(MIDNIGHT + dt.timedelta(seconds=62)) is None


def test_a_released_lease_is_taken_at_once(sessions):
    leader, standby = scheduler(sessions), scheduler(sessions)
    assert leader.leadership.acquire()
    assert not standby.leadership.acquire()
    leader.leadership.release()
    assert standby.leadership.acquire()


def test_brouillon_reminders_go_once_at_j7_and_once_at_j1(sessions):
    _, address = campaign_with_dossiers(sessions)
    assert remind_brouillons(sessions, at_paris(2026, 3, 12, 9)) == []  # J-8
    j7 = remind_brouillons(sessions, at_paris(2026, 3, 13, 9))
    assert len(j7) == 1
    assert remind_brouillons(sessions, at_paris(2026, 3, 13, 18)) == []
    assert remind_brouillons(sessions, at_paris(2026, 3, 16, 9)) == []
    j1 = at_paris(2026, 3, 19, 9)
    assert len(remind_brouillons(sessions, j1)) == 1
    assert remind_brouillons(sessions, at_paris(2026, 3, 20, 23)) == []
    sent = mails(sessions, "rappel_brouillon")
    assert [m.recipient for m in sent] == [address, address]
    from workflow.mail.templates import render

    with sessions() as session:
        subject = render(session, session.get(OutboxMail, sent[1].id), now=j1).subject
    assert subject.startswith("Rappel : 1 dossier non déposé — clôture demain")


def test_no_brouillon_reminder_after_the_deadline(sessions):
    campaign_with_dossiers(sessions)
    assert remind_brouillons(sessions, MIDNIGHT) == []


def test_avis_are_reminded_weekly_until_given(sessions):
    with sessions() as session:
        world = World(session)
        campaign = world.campaign()
        dossier = world.dossier(campaign, world.organisation(), "en_instruction")
        with transaction(session):
            avis = Avis(
                dossier_id=dossier.id,
                avis_key="coordonnateur",
                giver_email="coordo@chu.example.fr",
                invited_at=at_paris(2026, 4, 1),
            )
            session.add(avis)
    assert remind_avis(sessions, at_paris(2026, 4, 7)) == []
    assert len(remind_avis(sessions, at_paris(2026, 4, 8, 13))) == 1
    assert remind_avis(sessions, at_paris(2026, 4, 10)) == []
    assert len(remind_avis(sessions, at_paris(2026, 4, 15, 14))) == 1
    assert [m.recipient for m in mails(sessions, "rappel_avis")] == ["coordo@chu.example.fr"] * 2


def test_confirmations_are_asked_when_the_window_opens_and_prise_de_poste_from_the_start(
    sessions,
):
    with sessions() as session:
        world = World(session)
        campaign = world.campaign()
        hospital = world.organisation()
        world.actor("deposant", hospital)
        accepted = world.dossier(campaign, hospital, "accepte", published=True)
        world.dossier(campaign, hospital, "accepte", published=False)  # not yet published
        confirmed = world.dossier(campaign, hospital, "confirme", published=True)
    assert request_confirmations(sessions, at_paris(2026, 9, 30)) == []
    assert request_confirmations(sessions, at_paris(2026, 10, 1, 8)) == [
        f"maintien:dossier={accepted.id}"
    ]
    assert request_confirmations(sessions, at_paris(2026, 10, 2)) == []
    assert request_confirmations(sessions, at_paris(2026, 10, 25)) == [
        f"maintien-rappel:dossier={accepted.id}"
    ]
    assert request_confirmations(sessions, at_paris(2026, 11, 2, 7)) == [
        f"prise-de-poste:dossier={confirmed.id}"
    ]
    templates = [m.template for m in mails(sessions)]
    assert templates == [
        "demande_confirmation_maintien",
        "rappel_confirmation_maintien",
        "demande_prise_de_poste",
    ]


def test_the_leader_flushes_the_outbox_to_smtp(sessions, smtp_server):
    _, address = campaign_with_dossiers(sessions)
    ticker = scheduler(sessions, smtp=parse_smtp_url(smtp_server.url))
    ticker.tick(MIDNIGHT)
    subjects = sorted(m["Subject"] for m in smtp_server.to(address))
    assert len(subjects) == 2
    assert all("va être examiné" in s for s in subjects)
    assert {m.status for m in mails(sessions)} == {"sent"}


def test_a_corrected_dossier_goes_back_into_instruction_after_its_due_date(sessions):
    from workflow.machine.operations import fire
    from workflow.models import Dossier
    from workflow.scheduling.jobs import return_corrected_dossiers

    with sessions() as session:
        world = World(session)
        campaign = world.campaign()
        hospital = world.organisation()
        world.actor("deposant", hospital)
        dossier = world.dossier(campaign, hospital, "en_instruction")
        instructeur = world.actor("instructeur")
        with transaction(session):
            fire(
                session,
                dossier,
                "demander_corrections",
                instructeur,
                {"message": "Joindre le CV signé.", "due_date": dt.date(2026, 4, 3)},
                now=at_paris(2026, 3, 30),
            )
    assert return_corrected_dossiers(sessions, at_paris(2026, 4, 3, 23, 59)) == []
    assert return_corrected_dossiers(sessions, at_paris(2026, 4, 4, 0, 0, 1)) == [
        f"corrections:dossier={dossier.id}"
    ]
    with sessions() as session:
        back = session.get(Dossier, dossier.id)
        assert (back.state, back.corrections_due_at) == ("en_instruction", None)
    assert [m.template for m in mails(sessions)] == [
        "demande_corrections",
        "passage_en_instruction",
    ]
