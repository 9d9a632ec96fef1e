"""The scheduler with a controllable clock: closing at the deadline, reminders sent once,
confirmations asked when their window opens, one leader at a time."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading

from sqlalchemy import func, select, update

from tests.conftest import World, at_paris
from workflow.journal.outbox import queue
from workflow.mail.sender import Sender, parse_smtp_url
from workflow.models import AuditEvent, Avis, Campaign, Dossier, OutboxMail, SchedulerLease
from workflow.plumbing.db import transaction
from workflow.scheduling.jobs import remind_avis, remind_brouillons, request_confirmations
from workflow.scheduling.scheduler import LEASE_NAME, Leadership, Scheduler

LAST_SECOND = at_paris(2026, 3, 20, 23, 59, 59)
MIDNIGHT = at_paris(2026, 3, 21, 0, 0, 0)
LEASE = dt.timedelta(seconds=60)


def scheduler(sessions, smtp_url=None, ttl=60) -> Scheduler:
    sender = None
    if smtp_url:
        sender = Sender(sessions, parse_smtp_url(smtp_url), mail_from="ars@example.fr")
    return Scheduler(sessions, Leadership(sessions, ttl=dt.timedelta(seconds=ttl)), sender)


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


def test_the_mail_job_flushes_the_outbox_to_smtp(sessions, smtp_server):
    _, address = campaign_with_dossiers(sessions)
    ticker = scheduler(sessions, smtp_url=smtp_server.url)
    ticker.tick(MIDNIGHT)
    assert {m.status for m in mails(sessions)} == {"pending"}  # the tick sends nothing
    ticker.send_mail(MIDNIGHT)
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


def test_the_sweeps_run_while_the_mail_job_is_stuck_on_a_hung_smtp_server(
    sessions, silent_smtp_server
):
    campaign_id, _ = campaign_with_dossiers(sessions)
    with sessions() as session, transaction(session):
        dossier = session.scalars(select(Dossier).where(Dossier.state == "en_construction")).first()
        queue(session, "passage_en_instruction", ["bam@ch.example.fr"], dossier=dossier,
              now=MIDNIGHT - dt.timedelta(days=1))  # fmt: skip
    ticker = scheduler(sessions, smtp_url=silent_smtp_server.url(timeout=3))
    mail_job = threading.Thread(target=ticker.send_mail, args=(MIDNIGHT,))
    mail_job.start()
    assert silent_smtp_server.accepted.wait(timeout=10)
    # The mail job waits for a greeting that never comes; the tick closes the campaign.
    assert ticker.tick(MIDNIGHT).closed == [campaign_id]
    assert mail_job.is_alive()
    mail_job.join(timeout=10)
    assert not mail_job.is_alive()
    assert ticker.sender.breaker.open_until == MIDNIGHT + dt.timedelta(seconds=30)
    # The mail claimed before the hang is due again at once, its attempt not counted; the
    # closing's mails wait for the breaker to close.
    first, *closing = mails(sessions)
    assert (first.status, first.attempts, first.next_attempt_at) == ("pending", 0, MIDNIGHT)
    assert len(closing) == 2
    assert {(m.status, m.attempts) for m in closing} == {("pending", 0)}


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def lease_held_by(sessions, holder: str, expires: dt.datetime) -> None:
    with sessions() as session, transaction(session):
        session.add(SchedulerLease(name=LEASE_NAME, holder=holder, expires_at=expires))


def test_a_restarted_scheduler_takes_over_at_once_from_its_dead_predecessor(sessions):
    lease_held_by(sessions, f"{socket.gethostname()}:{dead_pid()}:abcdef", MIDNIGHT + LEASE)
    restarted = scheduler(sessions)
    assert restarted.tick(MIDNIGHT) is not None
    with sessions() as session:
        (lease,) = session.scalars(select(SchedulerLease)).all()
        assert lease.holder == restarted.leadership.holder


def test_a_live_predecessor_or_one_on_another_host_keeps_its_lease(sessions):
    # A live pid, even one that recycled a dead leader's, means wait for the lease to end.
    alive = f"{socket.gethostname()}:{os.getppid()}:abcdef"
    lease_held_by(sessions, alive, MIDNIGHT + LEASE)
    assert scheduler(sessions).tick(MIDNIGHT) is None
    with sessions() as session, transaction(session):
        session.execute(update(SchedulerLease).values(holder=f"elsewhere:{dead_pid()}:abcdef"))
    assert scheduler(sessions).tick(MIDNIGHT) is None  # that pid means nothing here
    assert scheduler(sessions).tick(MIDNIGHT + LEASE + dt.timedelta(seconds=1)) is not None


def test_the_leader_and_the_standby_both_send_and_each_mail_arrives_once(sessions, smtp_server):
    campaign_with_dossiers(sessions)
    leader, standby = (scheduler(sessions, smtp_url=smtp_server.url) for _ in range(2))
    assert leader.tick(MIDNIGHT) is not None and standby.tick(MIDNIGHT) is None
    barrier = threading.Barrier(2)

    def mail_job(ticker: Scheduler) -> None:
        barrier.wait(timeout=10)
        ticker.send_mail(MIDNIGHT)

    jobs = [threading.Thread(target=mail_job, args=(t,)) for t in (leader, standby)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=60)
    sent = mails(sessions)
    assert len(sent) == 2 and {m.status for m in sent} == {"sent"}
    assert sorted(m["Message-ID"] for m in smtp_server.messages) == sorted(
        m.message_id for m in sent
    )
