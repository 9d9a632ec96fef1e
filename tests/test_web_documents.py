"""The decision letter downloaded by both sides: the déposant once the decision is published
(« Les résultats sont consultables après le jury de sélection », IdF ASP Vague 6 manual, V),
the ARS from the decision on; each time the same archived bytes, recorded once."""

from __future__ import annotations

import hashlib
import io

from pypdf import PdfReader
from sqlalchemy import select

from tests.conftest import at_paris
from workflow.administration.instructors import follow
from workflow.machine.publication import publish_results
from workflow.models import ArchivedDocument, AuditEvent
from workflow.plumbing.db import transaction

DURING = at_paris(2026, 6, 2)


def text_of(data: bytes) -> str:
    return " ".join(
        " ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(data)).pages
    )


def test_the_deposant_downloads_the_letter_of_a_published_decision_the_same_each_time(
    world, session, client, signed_in, hospital, campaign, at
):
    dossier = world.dossier(campaign, hospital, "accepte", published=True)
    with at(DURING):
        page = client.get(f"/dossiers/{dossier.id}/decision")
        assert 'id="lettre-decision"' in page.text
        first = client.get(f"/dossiers/{dossier.id}/decision/lettre.pdf")
        second = client.get(f"/dossiers/{dossier.id}/decision/lettre.pdf")
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert f"decision-dossier-{dossier.number}.pdf" in first.headers["Content-Disposition"]
    assert first.data == second.data
    text = text_of(first.data)
    assert "Accepté — avis favorable" in text and "Lambourde Peggy" in text
    assert hospital.name in text and "Projet solide." in text
    (document,) = session.scalars(select(ArchivedDocument)).all()
    assert document.sha256 == hashlib.sha256(first.data).hexdigest()
    (event,) = session.scalars(
        select(AuditEvent).where(AuditEvent.event == "archiver_document")
    ).all()
    assert event.actor_label == signed_in.email and event.payload["sha256"] == document.sha256


def test_before_publication_the_deposant_has_no_letter(
    world, client, signed_in, hospital, campaign, at
):
    dossier = world.dossier(campaign, hospital, "refuse", published=False)
    with at(DURING):
        assert 'id="lettre-decision"' not in client.get(f"/dossiers/{dossier.id}/decision").text
        response = client.get(f"/dossiers/{dossier.id}/decision/lettre.pdf")
    assert response.status_code == 404 and "Page introuvable" in response.text


def test_the_ars_letter_downloaded_before_publication_is_the_one_the_partners_receive(
    world, session, client, auth, app, campaign, hospital
):
    dossier = world.dossier(campaign, hospital, "sans_suite", published=False)
    instructeur = world.user("instructeur")
    administrateur = world.actor("administrateur")
    with transaction(session):
        follow(session, instructeur, campaign, administrateur)
    auth.login(instructeur)
    page = client.get(f"/instruction/dossiers/{dossier.id}")
    assert 'id="lettre-decision"' in page.text
    downloaded = client.get(f"/instruction/dossiers/{dossier.id}/lettre-decision.pdf")
    assert downloaded.status_code == 200
    assert "Classé sans suite" in text_of(downloaded.data)
    # Published later: the mail's attachment is the archived letter, not a new one.
    from workflow.documents.attachments import attachments_of
    from workflow.models import OutboxMail
    from workflow.plumbing.storage import Storage

    with transaction(session):
        publish_results(session, campaign, administrateur, now=DURING)
    sent = select(OutboxMail).where(OutboxMail.template == "decision_sans_suite")
    mail = session.scalars(sent).first()
    assert mail.attachments == ["lettre_decision"]
    with transaction(session):
        (attached,) = attachments_of(session, Storage(app.config["UPLOAD_DIR"]), mail, DURING)
    assert attached.data == downloaded.data
    assert len(session.scalars(select(ArchivedDocument)).all()) == 1


def test_an_undecided_dossier_has_no_letter_for_the_ars(world, session, client, auth, campaign):
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    auth.login(world.user("administrateur"))
    assert 'id="lettre-decision"' not in client.get(f"/instruction/dossiers/{dossier.id}").text
    assert client.get(f"/instruction/dossiers/{dossier.id}/lettre-decision.pdf").status_code == 404
