"""Every notification template renders in French with the campaign, the dossier number and
a link, and arrives through a real SMTP server with the right recipient."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import World, at_paris
from workflow.journal.outbox import TEMPLATES_DIR, queue
from workflow.machine.operations import fire
from workflow.mail.sender import parse_smtp_url, send_pending
from workflow.models import OutboxMail
from workflow.plumbing.db import transaction

TEMPLATES = sorted(p.stem for p in TEMPLATES_DIR.glob("*.txt") if not p.stem.startswith("_"))
# What each template finds in its context besides the dossier and the campaign.
CONTEXTS = {
    "demande_corrections": {"message": "Merci de joindre le CV signé."},
    "desistement": {"reason": "Le candidat a choisi un autre poste."},
    "rappel_brouillon": {"days_left": 7, "brouillons": 2},
    "demande_avis": {
        "avis_label": "Avis du coordonnateur",
        "link": "https://pp.example.fr/avis/t",
        "expires_at": "2026-06-01T10:00:00+00:00",
    },
    "rappel_avis": {"avis_key": "coordonnateur"},
    # The avis the déposant collects before deposit (workflow/instruction/avis_collected.py).
    "invitation_avis": {
        "avis_label": "Avis du CHEF DE SERVICE UNIVERSITAIRE (annexe 5)",
        "organisation": "CH de Dieppe",
        "candidat": False,
        "link": "https://pp.example.fr/avis/t",
        "expires_at": "2026-06-01T10:00:00+00:00",
    },
    "rappel_avis_deposant": {
        "avis_label": "Annexe 12 – Protection des données (consentement du candidat)",
        "organisation": "CH de Dieppe",
        "candidat": True,
        "link": "https://pp.example.fr/avis/t",
        "expires_at": "2026-06-01T10:00:00+00:00",
    },
    "avis_donne": {"avis_label": "Avis du DIRECTEUR du CHU (annexe 8)", "giver_name": "Dr Roux"},
    "export_pret": {
        "export_id": 7,
        "kind_label": "XLSX (Excel)",
        "dossiers": 3,
        "expires_at": "2026-06-08T10:00:00+00:00",
    },
    "nouveau_message": {
        "side": "ars",
        "body": "Merci de préciser la quotité de temps partagé.",
        "attachment": "lettre-engagement.pdf",
    },
    "invitation_commission": {
        "member_name": "Pr Hélène Durand",
        "session_title": "Jury de sélection",
        "held_on": "2026-06-15",
        "link": "https://pp.example.fr/commission/t",
        "expires_at": "2026-08-14T10:00:00+00:00",
    },
    "liste_complementaire": {},
    "promotion_liste_complementaire": {},
    "changement_date_limite": {
        "before": "jusqu'au 20 mars 2026 inclus",
        "after": "jusqu'au 27 mars 2026 inclus",
        "dossiers": 2,
    },
}
# Account mails have no dossier nor campaign: tests/test_accounts.py renders and sends them.
ACCOUNT_TEMPLATES = {
    "confirmation_compte",
    "reinitialisation_mot_de_passe",
    "invitation_compte",
    "invitation_instructeur",  # tests/test_instructors.py
    "tentative_creation_compte",  # below
}


@pytest.mark.parametrize("template", sorted(set(TEMPLATES) - ACCOUNT_TEMPLATES))
def test_each_dossier_template_renders_and_arrives(template, sqlite_url, smtp_server):
    from workflow.plumbing.db import make_engine, make_session_factory

    sessions = make_session_factory(make_engine(sqlite_url))
    with sessions() as session:
        world = World(session)
        campaign = world.campaign()
        hospital = world.organisation()
        dossier = world.dossier(campaign, hospital, "accepte", published=True)
        with transaction(session):
            dossier.corrections_due_at = dt.datetime(2026, 7, 1, 22, tzinfo=dt.UTC)
            dossier.actual_start_date = dt.date(2026, 11, 3)
            if template == "invitation_cosignature":
                # Mailed to the partner only: its copy carries the partner's personal link.
                dossier.partner_email = "bam@ch.example.fr"
            queue(
                session,
                template,
                ["bam@ch.example.fr"],
                dossier=dossier,
                context=CONTEXTS.get(template, {}),
                now=at_paris(2026, 6, 1),
            )
    report = send_pending(
        sessions,
        parse_smtp_url(smtp_server.url),
        mail_from="ars@example.fr",
        base_url="https://pp.example.fr",
        now=at_paris(2026, 6, 1),
        # The partner's personal link (co-signature, decision) is signed when the mail leaves.
        secret_key="mail-templates-test-secret",
    )
    assert len(report.sent) == 1
    (message,) = smtp_server.to("bam@ch.example.fr")
    subject = message["Subject"]
    assert f"n° {dossier.number}" in subject or campaign.title in subject
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "None" not in body
        if template != "rappel_avis":  # the giver's personal link is not ours to repeat
            assert "https://pp.example.fr/" in body
    assert "ars-idf-asp@ars.sante.fr" in text + html


def test_the_confirmations_go_to_the_ars_contact(world, session):
    campaign = world.campaign()
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    dossier = world.dossier(campaign, hospital, "accepte", published=True)
    with time_machine.travel(at_paris(2026, 10, 12), tick=False), transaction(session):
        fire(session, dossier, "confirmer_maintien", deposant)
    (mail,) = session.scalars(select(OutboxMail)).all()
    assert (mail.template, mail.recipient) == ("confirmation_maintien", "ars-idf-asp@ars.sante.fr")


def test_the_owner_of_an_address_is_told_someone_tried_to_register_with_it(sqlite_url, smtp_server):
    from workflow.people import accounts
    from workflow.plumbing.db import make_engine, make_session_factory

    sessions = make_session_factory(make_engine(sqlite_url))
    form = accounts.Registration(
        organisation_type="candidat",
        organisation_name="Peggy Lambourde",
        email="peggy@example.fr",
        password="Affaires-Medicales-2026",
        password_confirmation="Affaires-Medicales-2026",
    )
    with sessions() as session:
        for _ in range(2):
            with transaction(session):
                accounts.register(session, form, secret_key="k", now=at_paris(2026, 6, 1))
    report = send_pending(
        sessions,
        parse_smtp_url(smtp_server.url),
        mail_from="ars@example.fr",
        base_url="https://pp.example.fr",
        now=at_paris(2026, 6, 1),
    )
    assert report.failed == [] and len(report.sent) == 2
    warning = next(m for m in smtp_server.to("peggy@example.fr") if "Tentative" in m["Subject"])
    assert warning["Subject"] == (
        "Tentative de création de compte avec votre adresse — Postes partagés"
    )
    text = warning.get_body(("plain",)).get_content()
    html = warning.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Quelqu'un a tenté de créer un compte" in body.replace("&#39;", "'")
        assert "https://pp.example.fr/connexion" in body
        assert "https://pp.example.fr/compte/mot-de-passe-oublie" in body
        assert "None" not in body and "valable 2 heures" in body
