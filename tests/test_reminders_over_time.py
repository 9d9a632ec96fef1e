"""Reminders tell the truth over time: the clock moves (time-machine) through a scheduler
downtime, an administrator's deadline changes and an SMTP outage, the scheduler sweeps and
sends to a real SMTP server on loopback, and each mail received says what was true when it
left — read here subject by subject, body by body."""

from __future__ import annotations

import datetime as dt

import time_machine
from sqlalchemy import select

from tests.conftest import START, World, at_paris
from workflow.administration.campaigns import change_deadline
from workflow.mail.sender import Sender, parse_smtp_url, send_pending
from workflow.models import Campaign, Dossier
from workflow.people.actors import Actor
from workflow.plumbing.dates import PARIS, time_left
from workflow.plumbing.db import transaction
from workflow.scheduling.jobs import remind_brouillons
from workflow.scheduling.scheduler import Leadership, Scheduler

TITLE = "Assistants spécialistes partagés (test)"
ADMIN = Actor("administrateur", None, None, "Administrateur ARS")


class Service:
    """The scheduler as production runs it, ticking at instants the test chooses."""

    def __init__(self, sessions, smtp_server):
        self.sessions = sessions
        self.smtp = smtp_server
        sender = Sender(
            sessions,
            parse_smtp_url(smtp_server.url),
            mail_from="ars@example.fr",
            base_url="https://pp.example.fr",
        )
        self.scheduler = Scheduler(
            sessions, Leadership(sessions, ttl=dt.timedelta(seconds=60)), sender=sender
        )
        self.seen = 0

    def tick_at(self, moment: dt.datetime) -> list[tuple[str, str]]:
        """Ticks at `moment`; returns the (subject, plain text) of the mails that arrived."""
        with time_machine.travel(moment, tick=False):
            self.scheduler.tick()
            self.scheduler.send_mail()
        arrived = self.smtp.messages[self.seen :]
        self.seen = len(self.smtp.messages)
        return [(m["Subject"], m.get_body(("plain",)).get_content()) for m in arrived]

    def move_deadline(self, campaign_id: int, day: dt.date, moment: dt.datetime) -> None:
        with self.sessions() as session, transaction(session):
            campaign = session.get(Campaign, campaign_id)
            change_deadline(session, campaign, day, ADMIN, "Erreur de saisie", now=moment)


def one_brouillon(sessions, **campaign) -> tuple[int, str]:
    with sessions() as session:
        world = World(session)
        created = world.campaign(**campaign)
        hospital = world.organisation()
        deposant = world.user("deposant", hospital)
        world.dossier(created, hospital, "brouillon", complete=False)
        return created.id, deposant.email


def test_reminders_through_a_downtime_and_deadline_changes_say_the_real_time_left(
    sessions, smtp_server
):
    campaign_id, address = one_brouillon(sessions)  # deadline: 20 March 2026 inclus
    service = Service(sessions, smtp_server)

    # The scheduler was down from D-10 to D-4: the J-7 reminder leaves late, and says so.
    ((subject, text),) = service.tick_at(at_paris(2026, 3, 16, 9))
    assert subject == f"Rappel : 1 dossier non déposé — clôture dans 4 jours ({TITLE})"
    assert "La campagne clôt dans 4 jours." in text
    assert "déposé jusqu'au 20 mars 2026 inclus (heure de Paris)" in text
    assert smtp_server.messages[-1]["To"] == address
    assert service.tick_at(at_paris(2026, 3, 16, 18)) == []

    # The administrator extends the deadline: the brouillon's organisation is told, once.
    service.move_deadline(campaign_id, dt.date(2026, 3, 27), at_paris(2026, 3, 17, 10))
    ((subject, text),) = service.tick_at(at_paris(2026, 3, 17, 10, 0, 30))
    assert subject == (
        f"La date limite de la campagne « {TITLE} » a changé : jusqu'au 27 mars 2026 inclus"
    )
    assert (
        "les dossiers étaient à déposer jusqu'au 20 mars 2026 inclus, ils sont désormais à "
        "déposer jusqu'au 27 mars 2026 inclus (heure de Paris). La campagne clôt dans 10 jours."
    ) in text
    assert "Votre organisation a 1 dossier encore modifiable" in text
    assert service.tick_at(at_paris(2026, 3, 17, 11)) == []

    # Moved back by mistake, then forward again: each change is told, but the J-7 already
    # sent for the 20 March deadline does not leave twice, and J-1 of 20 March is not due.
    service.move_deadline(campaign_id, dt.date(2026, 3, 20), at_paris(2026, 3, 17, 12))
    ((subject, _),) = service.tick_at(at_paris(2026, 3, 17, 12, 0, 30))
    assert subject.endswith("a changé : jusqu'au 20 mars 2026 inclus")
    service.move_deadline(campaign_id, dt.date(2026, 3, 27), at_paris(2026, 3, 17, 13))
    ((subject, _),) = service.tick_at(at_paris(2026, 3, 17, 13, 0, 30))
    assert subject.endswith("a changé : jusqu'au 27 mars 2026 inclus")

    # The new deadline has its own J-7...
    ((subject, text),) = service.tick_at(at_paris(2026, 3, 20, 9))
    assert subject == f"Rappel : 1 dossier non déposé — clôture dans 7 jours ({TITLE})"
    assert "déposé jusqu'au 27 mars 2026 inclus (heure de Paris)" in text
    assert service.tick_at(at_paris(2026, 3, 21, 9)) == []

    # ...and after another stop until the deadline day itself, its J-1 says « aujourd'hui ».
    ((subject, text),) = service.tick_at(at_paris(2026, 3, 27, 8))
    assert subject == f"Rappel : 1 dossier non déposé — clôture aujourd'hui à 23h59 ({TITLE})"
    assert "La campagne clôt aujourd'hui à 23h59." in text
    assert service.tick_at(at_paris(2026, 3, 27, 22)) == []
    assert service.tick_at(at_paris(2026, 3, 28, 0, 0, 1)) == []
    assert all(m["To"] == address for m in smtp_server.messages)
    assert len(smtp_server.messages) == 6


def test_a_skipped_tier_never_leaves_later(sessions):
    campaign_id, _ = one_brouillon(sessions)
    # Down until J-1: only the J-1 reminder leaves, the J-7 one is recorded as skipped...
    assert [k.split(":")[0] for k in remind_brouillons(sessions, at_paris(2026, 3, 19, 9))] == [
        "rappel-brouillon-j1"
    ]
    assert remind_brouillons(sessions, at_paris(2026, 3, 19, 10)) == []
    assert remind_brouillons(sessions, at_paris(2026, 3, 20, 10)) == []


def test_a_reminder_delayed_by_an_smtp_outage_says_the_time_left_when_it_leaves(
    sessions, smtp_server
):
    one_brouillon(sessions)
    assert len(remind_brouillons(sessions, at_paris(2026, 3, 16, 9))) == 1  # queued at D-4
    # The SMTP server answered nothing until D-1: the mail leaves then, and says « demain ».
    send_pending(
        sessions,
        parse_smtp_url(smtp_server.url),
        mail_from="ars@example.fr",
        now=at_paris(2026, 3, 19, 9),
    )
    (message,) = smtp_server.messages
    assert message["Subject"] == f"Rappel : 1 dossier non déposé — clôture demain ({TITLE})"


def test_after_a_long_stop_the_maintien_is_asked_once_with_the_reminder_s_wording(
    sessions, smtp_server
):
    with sessions() as session:
        world = World(session)
        # Start dates listed out of order: the mails name the earliest, as the guard does.
        campaign = world.campaign(start_dates=[dt.date(2026, 11, 16), START])
        hospital = world.organisation()
        address = world.user("deposant", hospital).email
        accepted = world.dossier(campaign, hospital, "accepte", published=True)
    service = Service(sessions, smtp_server)
    assert service.tick_at(at_paris(2026, 9, 20)) == []

    # Down from 20 September to 26 October: the request and its reminder are both due.
    ((subject, text),) = service.tick_at(at_paris(2026, 10, 26, 9))
    assert subject == (
        "Confirmez le maintien du projet de recrutement au plus tard le 31 octobre 2026 "
        f"— dossier n° {accepted.number} ({TITLE})"
    )
    assert text.startswith(
        f"Bonjour,\n\nLe candidat de votre dossier n° {accepted.number} a été retenu : le "
        "maintien du projet de recrutement reste à confirmer. La confirmation est attendue au "
        "plus tard le 31 octobre 2026 (la fenêtre se ferme dans 5 jours) : ouvrez le dossier"
    )
    assert "avant le" not in text
    assert service.tick_at(at_paris(2026, 10, 30, 9)) == []
    assert [m["To"] for m in smtp_server.messages] == [address]


def test_a_maintien_asked_on_time_is_reminded_in_the_last_week(sessions, smtp_server):
    with sessions() as session:
        world = World(session)
        campaign = world.campaign(start_dates=[dt.date(2026, 11, 16), START])
        hospital = world.organisation()
        world.user("deposant", hospital)
        accepted = world.dossier(campaign, hospital, "accepte", published=True)
        confirmed = world.dossier(campaign, hospital, "confirme", published=True)
    service = Service(sessions, smtp_server)
    ((subject, text),) = service.tick_at(at_paris(2026, 10, 1, 8))
    assert subject.startswith("Confirmez le maintien du projet de recrutement — dossier n°")
    assert "à partir du 1er octobre 2026 et au plus tard le 31 octobre 2026 :" in text
    ((subject, text),) = service.tick_at(at_paris(2026, 10, 30, 8))
    assert subject == (
        "Rappel : confirmation du maintien attendue au plus tard le 31 octobre 2026 "
        f"— dossier n° {accepted.number} ({TITLE})"
    )
    assert "(la fenêtre se ferme demain)" in text
    ((subject, text),) = service.tick_at(at_paris(2026, 11, 2, 7))
    assert subject == f"Confirmez la prise de poste — dossier n° {confirmed.number} ({TITLE})"
    assert "peut être confirmée depuis le 2 novembre 2026." in text


def test_time_left_is_said_as_the_manuals_say_it():
    def paris(*args: int) -> dt.datetime:
        return dt.datetime(*args, tzinfo=PARIS)

    midnight_after_20_march = paris(2026, 3, 21)
    assert time_left(paris(2026, 3, 20, 9), midnight_after_20_march, True) == "aujourd'hui à 23h59"
    assert time_left(paris(2026, 3, 19, 23, 59), midnight_after_20_march, True) == "demain"
    assert time_left(paris(2026, 3, 16, 0, 1), midnight_after_20_march, True) == "dans 4 jours"
    assert time_left(midnight_after_20_march, midnight_after_20_march, True) == ""
    noon = paris(2025, 2, 14, 12)
    assert time_left(paris(2025, 2, 14, 8), noon, False) == "aujourd'hui à 12h"
    assert time_left(paris(2025, 2, 13, 8), noon, False) == "demain à 12h"
    assert time_left(paris(2025, 2, 10, 8), noon, False) == "dans 4 jours, le 14 février 2025 à 12h"
    half_past = paris(2025, 2, 14, 18, 30)
    assert time_left(paris(2025, 2, 14, 8), half_past, False) == "aujourd'hui à 18h30"


def test_a_tier_sent_under_the_old_notice_key_is_not_sent_again(sessions):
    """Notices written before reminders named their deadline still count for it."""
    from workflow.models import Notice

    campaign_id, _ = one_brouillon(sessions)
    with sessions() as session, transaction(session):
        org = session.scalar(select(Dossier.organisation_id))
        key = f"rappel-brouillon-j7:campaign={campaign_id}:org={org}"
        session.add(Notice(key=key, sent_at=at_paris(2026, 3, 13, 9)))
    assert remind_brouillons(sessions, at_paris(2026, 3, 14, 9)) == []
    assert len(remind_brouillons(sessions, at_paris(2026, 3, 19, 9))) == 1  # J-1 is new
    with sessions() as session, transaction(session):
        campaign = session.get(Campaign, campaign_id)
        change_deadline(
            session, campaign, dt.date(2026, 4, 3), ADMIN, "Panne", now=at_paris(2026, 3, 19, 10)
        )
    # The moved deadline's J-7 is its own, whatever the old key said.
    assert len(remind_brouillons(sessions, at_paris(2026, 3, 27, 9))) == 1
