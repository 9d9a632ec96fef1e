"""The avis giver's page, from the personal link and with no account: the dossier of that
link read-only, and the answer (favorable / défavorable, comment, optional signed PDF)."""

from __future__ import annotations

import datetime as dt
import html
import io
import re

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import TEST_SECRET_KEY, pdf_bytes
from workflow.instruction.avis import avis_token, invite_avis
from workflow.models import Attachment, AuditEvent, Avis
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

AVIS = [
    {
        "key": "coordonnateur",
        "label": "Avis du coordonnateur de la spécialité",
        "giver": "coordonnateur",
        "help": "Sur le projet professionnel et le choix du partenaire.",
    }
]
SECRET = TEST_SECRET_KEY  # the app fixture's


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


@pytest.fixture
def asked(world, session, app):
    """An avis asked on a dossier whose CV is stored; returns (avis, dossier, token)."""
    campaign = world.campaign(avis=AVIS)
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    storage = Storage(app.config["UPLOAD_DIR"])
    instructeur = world.actor("instructeur")
    with transaction(session):
        attachment = session.scalars(select(Attachment)).one()
        attachment.storage_name = storage.save(pdf_bytes(title="CV"))
        avis = invite_avis(
            session,
            dossier,
            "coordonnateur",
            "coordo@chu-rouen.fr",
            "Pr Martin",
            instructeur,
            secret_key=SECRET,
            base_url="http://localhost",
        )
    return avis, dossier, avis_token(avis.id, SECRET)


def test_the_link_shows_the_dossier_read_only_and_the_form(client, asked):
    avis, dossier, token = asked
    response = client.get(f"/avis/{token}")
    assert response.status_code == 200
    page = text_of(response)
    assert f"Avis sur le dossier n° {dossier.number} — Lambourde Peggy" in page
    assert "L'ARS vous demande : Avis du coordonnateur de la spécialité" in page
    assert "à Pr Martin (coordo@chu-rouen.fr)" in page
    assert "Sur le projet professionnel et le choix du partenaire." in page
    assert "Nom du partenaire CHU La Pyte" in page
    assert "<textarea" in response.text and 'type="radio"' in response.text
    assert "<input" not in response.text.split("Le dossier</h2>", 1)[1]  # nothing to edit
    piece = client.get(f"/avis/{token}/pieces/cv")
    assert piece.status_code == 200 and piece.data.startswith(b"%PDF-")


def test_an_avis_is_given_once_with_its_signed_pdf(client, asked, session):
    avis, _, token = asked
    response = client.post(
        f"/avis/{token}",
        data={
            "verdict": "favorable",
            "comment": "Projet cohérent avec la maquette.",
            "fichier": (io.BytesIO(pdf_bytes(title="Avis")), "avis signé.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = text_of(client.get(response.location))
    assert "Merci : votre avis est enregistré et transmis à l'ARS." in page
    assert "Votre avis favorable a été enregistré le" in page
    assert "Projet cohérent avec la maquette." in page
    assert "Enregistrer mon avis" not in page
    session.expire_all()
    given = session.get(Avis, avis.id)
    assert (given.verdict, given.storage_name is not None) == ("favorable", True)
    again = client.post(f"/avis/{token}", data={"verdict": "defavorable"})
    assert again.status_code == 422
    assert "Cet avis a déjà été donné" in text_of(again)
    audit = session.scalars(select(AuditEvent).where(AuditEvent.event == "donner_avis")).one()
    assert audit.actor_label == "coordo@chu-rouen.fr"


def test_a_missing_verdict_and_a_file_that_is_not_a_pdf_are_said_next_to_their_field(
    client, asked, session
):
    _, _, token = asked
    response = client.post(
        f"/avis/{token}",
        data={
            "comment": "Mon commentaire",
            "fichier": (io.BytesIO(b"du texte"), "avis.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert 'id="error-verdict">Indiquez un avis favorable ou défavorable.' in response.text
    assert "n'est pas un PDF" in html.unescape(response.text.split('id="error-fichier">', 1)[1])
    assert ">Mon commentaire</textarea>" in response.text
    session.expire_all()
    assert session.scalars(select(Avis.given_at)).one() is None


def test_a_forged_an_expired_or_a_withdrawn_link_opens_nothing(client, asked, world, session):
    avis, _, token = asked
    forged = client.get(f"/avis/{token}x")
    assert forged.status_code == 404
    assert "Ce lien n'est pas valide" in text_of(forged)
    assert client.get(f"/avis/{token}x/pieces/cv").status_code == 404
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=31)):
        assert "Ce lien a expiré" in text_of(client.get(f"/avis/{token}"))
    with transaction(session):
        session.delete(session.get(Avis, avis.id))
    withdrawn = client.get(f"/avis/{token}")
    assert withdrawn.status_code == 404
    assert "Cette demande d'avis a été retirée par l'ARS." in text_of(withdrawn)


def test_a_link_opens_only_its_own_dossier(client, asked, world):
    _, dossier, token = asked
    other_campaign = world.campaign(slug="autre", avis=AVIS)
    other = world.dossier(other_campaign, world.organisation(), "en_instruction")
    page = client.get(f"/avis/{token}").text
    assert f"n° {dossier.number}" in page and f"n° {other.number}" not in page
    assert client.get(f"/avis/{token}/pieces/lettre").status_code == 404
