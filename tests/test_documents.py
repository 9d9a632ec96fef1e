"""Decision letters and procès-verbaux as PDF (WeasyPrint), opened again with pypdf; each
letter archived once with its SHA-256 in the audit trail, and attached to the decision mail
the partners receive (« Envoi automatique d'un mail d'information sur la publication des
résultats aux deux établissements partenaires », IdF ASP Vague 6 manual, V)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from weasyprint.urls import URLFetchingError

from tests.conftest import at_paris
from workflow.documents.archive import AUDIT_EVENT
from workflow.documents.letters import letter_document, letter_of, render_letter
from workflow.documents.minutes import minutes_document, render_minutes
from workflow.documents.pdf import TEMPLATES_DIR, LocalFilesOnly, html_to_pdf
from workflow.machine.operations import fire
from workflow.machine.publication import publish_results
from workflow.mail.sender import parse_smtp_url, send_pending
from workflow.models import ArchivedDocument, AuditEvent, OutboxMail
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage


def pdf_text(data: bytes) -> str:
    """The text of every page, whitespace collapsed (pypdf breaks lines where the PDF does)."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


# --- the procès-verbal ------------------------------------------------------------------------


@dataclass
class Row:
    number: str
    organisation: str
    candidate: str
    opinion: str
    rank: int | None
    mean_score: float | None
    decision: str


@dataclass
class Group:
    label: str
    funded_posts: int
    rows: list[Row] = field(default_factory=list)


@dataclass
class Minutes:
    campaign_title: str
    held_on: dt.date
    title: str
    members_present: list[str]
    groups: list[Group]


def test_the_minutes_list_the_members_present_and_each_group_with_opinion_rank_and_decision():
    minutes = Minutes(
        campaign_title="Assistants Spécialistes Régionaux 2026-2028 (Normandie)",
        held_on=dt.date(2026, 5, 12),
        title="Commission régionale de sélection",
        members_present=["Dr Anne Martin (ARS Normandie)", "Pr Karim Benali (CHU de Caen)"],
        groups=[
            Group(
                "Dermatologie",
                2,
                [
                    Row(
                        "90001", "CH de Lisieux", "Lambourde Peggy", "Favorable", 1, 16.5, "Accepté"
                    ),
                    Row("90002", "CH d'Avranches", "Durand Léo", "Défavorable", 2, 9.25, "Refusé"),
                ],
            ),
            Group(
                "Psychiatrie",
                1,
                [
                    Row(
                        "90003",
                        "CH du Rouvray",
                        "Petit Zoé",
                        "Réservé",
                        None,
                        None,
                        "Classé sans suite",
                    )
                ],
            ),
        ],
    )
    with time_machine.travel(at_paris(2026, 5, 13), tick=False):
        data = render_minutes(minutes)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in (
        "Commission régionale de sélection",
        "Assistants Spécialistes Régionaux 2026-2028 (Normandie)",
        "Séance du 12 mai 2026",
        "Dr Anne Martin (ARS Normandie)",
        "Pr Karim Benali (CHU de Caen)",
        "Dermatologie — 2 postes financés",
        "Psychiatrie — 1 poste financé",
        "Lambourde Peggy",
        "CH de Lisieux",
        "16,50",
        "9,25",
        "Accepté",
        "Refusé",
        "Classé sans suite",
        "Procès-verbal établi le 13 mai 2026",
    ):
        assert expected in text, expected
    # The ranked rows come in their order, and the unranked one reads « — ».
    assert text.index("Lambourde Peggy") < text.index("Durand Léo") < text.index("Petit Zoé")


def test_the_minutes_of_a_session_are_archived_once_per_content(world, session, tmp_path):
    storage = Storage(tmp_path / "uploads")
    campaign = world.campaign()
    administrateur = world.actor("administrateur")
    minutes = Minutes("ASR 2026", dt.date(2026, 5, 12), "Commission", ["Dr Martin"], [])
    kept = []
    with time_machine.travel(at_paris(2026, 5, 13), tick=False):
        for _ in range(2):
            with transaction(session):
                kept.append(
                    minutes_document(
                        session, storage, minutes, campaign_id=campaign.id,
                        commission_session_id=4, actor=administrateur, now=at_paris(2026, 5, 13),
                    )
                )  # fmt: skip
        minutes.members_present.append("Pr Benali")
        with transaction(session):
            changed = minutes_document(
                session, storage, minutes, campaign_id=campaign.id,
                commission_session_id=4, actor=administrateur, now=at_paris(2026, 5, 13),
            )  # fmt: skip
    assert kept[0].id == kept[1].id != changed.id
    assert "Pr Benali" in pdf_text(storage.read(changed.storage_name))
    events = session.scalars(select(AuditEvent).where(AuditEvent.event == AUDIT_EVENT)).all()
    assert sorted(e.payload["sha256"] for e in events) == sorted([kept[0].sha256, changed.sha256])
    assert all(e.dossier_id is None and e.campaign_id == campaign.id for e in events)


def test_documents_are_rendered_offline_nothing_but_the_package_templates_is_fetched():
    fetcher = LocalFilesOnly()
    for url in ("http://127.0.0.1:9/pixel.png", "https://example.org/a.css", "file:///etc/passwd"):
        with pytest.raises(URLFetchingError):
            fetcher.fetch(url)
    stylesheet = fetcher.fetch((TEMPLATES_DIR / "documents.css").as_uri())
    assert stylesheet is not None
    # A page that names a remote image still renders, without it.
    data = html_to_pdf('<p>Décision</p><img src="http://127.0.0.1:9/pixel.png" alt="">')
    assert "Décision" in pdf_text(data)


# --- the decision letter ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [("accepte", "Accepté — avis favorable"), ("refuse", "Refusé — avis défavorable")],
)
def test_the_letter_carries_the_letterhead_the_names_the_outcome_and_the_dates(
    world, session, kind, outcome
):
    campaign = world.campaign(department="DOS - Pôle Ressources Humaines en Santé")
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, kind, published=True)
    letter = letter_of(session, dossier)
    text = pdf_text(render_letter(letter))
    for expected in (
        "ARS Île-de-France",
        "DOS - Pôle Ressources Humaines en Santé",
        "ars-idf-asp@ars.sante.fr",
        hospital.name,
        "CHU La Pyte",
        "Lambourde Peggy",
        "Dermatologie",
        f"dossier n° {dossier.number}",
        outcome,
        "Projet solide.",
        "Le 1er juin 2026",
        "déposé le 1er mars 2026",
    ):
        assert expected in text, expected
    # The rest of the recruitment is announced to the accepted dossier only.
    assert ("maintien du projet de recrutement" in text) is (kind == "accepte")


def test_a_letter_is_archived_once_and_the_audit_trail_holds_the_hash_of_the_stored_file(
    world, session, tmp_path
):
    storage = Storage(tmp_path / "uploads")
    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation(), "accepte", published=True)
    instructeur = world.actor("instructeur")
    with transaction(session):
        first = letter_document(session, storage, dossier, instructeur, at_paris(2026, 6, 2))
    with transaction(session):
        again = letter_document(session, storage, dossier, instructeur, at_paris(2026, 6, 3))
    assert again.id == first.id
    assert session.scalars(select(ArchivedDocument)).all() == [first]
    stored = storage.read(first.storage_name)
    assert hashlib.sha256(stored).hexdigest() == first.sha256
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.event == AUDIT_EVENT)).all()
    assert event.dossier_id == dossier.id and event.actor_label == instructeur.label
    assert event.payload["sha256"] == hashlib.sha256(stored).hexdigest()
    assert event.payload["storage_name"] == first.storage_name
    assert "Lambourde Peggy" in pdf_text(stored)
    # The database keeps the archive as it was written.
    for statement in ("UPDATE documents SET sha256 = :x", "DELETE FROM documents"):
        with pytest.raises(DBAPIError, match="append-only"), transaction(session):
            session.execute(text(statement), {"x": "0" * 64})


def test_the_published_decision_mail_carries_the_archived_letter_to_both_partners(
    world, session, sessions, smtp_server, tmp_path
):
    storage = Storage(tmp_path / "uploads")
    campaign = world.campaign()
    hospital = world.organisation()
    deposant = world.user("deposant", hospital)
    instructeur = world.actor("instructeur")
    dossier = world.dossier(campaign, hospital, "en_instruction")
    with transaction(session):
        fire(session, dossier, "refuser", instructeur, {"motivation": "Projet médical trop flou."},
             now=at_paris(2026, 5, 20))  # fmt: skip
    with transaction(session):
        publish_results(session, campaign, instructeur, now=at_paris(2026, 5, 21))
    report = send_pending(
        sessions,
        parse_smtp_url(smtp_server.url),
        mail_from="ars@example.fr",
        base_url="https://pp.example.fr",
        now=at_paris(2026, 5, 21),
        storage=storage,
    )
    assert report.failed == [] and report.retried == [] and len(report.sent) == 2
    (document,) = session.scalars(select(ArchivedDocument)).all()
    for address in (deposant.email, "dam@chu-la-pyte.fr"):
        (message,) = smtp_server.to(address)
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == f"decision-dossier-{dossier.number}.pdf"
        data = attachment.get_content()
        # The bytes sent are the archived ones, and the trail holds their hash.
        assert hashlib.sha256(data).hexdigest() == document.sha256
        text = pdf_text(data)
        assert "Refusé — avis défavorable" in text and "Projet médical trop flou." in text
        assert "Lambourde Peggy" in text and hospital.name in text
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.event == AUDIT_EVENT)).all()
    assert event.payload["sha256"] == document.sha256
    assert event.actor_label == "planificateur"


def test_a_decision_mail_whose_letter_cannot_be_made_waits_and_says_why(
    world, session, sessions, smtp_server, tmp_path
):
    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    with transaction(session):
        session.add(
            OutboxMail(
                template="decision",
                recipient="dam@chu-la-pyte.fr",
                dossier_id=dossier.id,
                campaign_id=campaign.id,
                context={},
                attachments=["lettre_decision"],
                message_id="<sans-decision@postes-partages>",
                status="pending",
                attempts=0,
                next_attempt_at=at_paris(2026, 5, 21),
                created_at=at_paris(2026, 5, 21),
            )
        )
    report = send_pending(
        sessions,
        parse_smtp_url(smtp_server.url),
        mail_from="ars@example.fr",
        now=at_paris(2026, 5, 21),
        storage=Storage(tmp_path / "uploads"),
    )
    assert report.sent == [] and len(report.retried) == 1
    assert smtp_server.to("dam@chu-la-pyte.fr") == []
    session.expire_all()
    (mail,) = session.scalars(select(OutboxMail)).all()
    assert mail.status == "pending" and "pièce jointe" in mail.last_error
    assert "pas de décision" in mail.last_error
