"""What a person can obtain (RGPD): an administrator exports what is held about a candidate
(by RPPS) or an account as JSON plus the pieces in a ZIP, and closes an account; both are in
the security journal. The « Données personnelles » page quotes each campaign's consent text
and says how long its data is kept; « Mentions légales » and it are linked in the footer."""

from __future__ import annotations

import html
import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import pdf_bytes
from workflow.campaigns.loader import load_campaign_file
from workflow.campaigns.store import store_campaign
from workflow.models import SecurityEvent, SignInSession, User
from workflow.people.sign_in_sessions import open_session
from workflow.plumbing.db import ROOT, transaction
from workflow.plumbing.errors import TransitionRefused
from workflow.plumbing.storage import Storage
from workflow.privacy.access_export import Person, export_person
from workflow.privacy.closure import close_account

RPPS = "10003456786"  # COMPLETE_VALUES's candidate, Peggy Lambourde


def events(session, kind: str) -> list[SecurityEvent]:  # type: ignore[no-untyped-def]
    session.rollback()
    session.expire_all()
    return list(session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)))


def candidate_dossier(world, session, storage: Storage):  # type: ignore[no-untyped-def]
    campaign = world.campaign(candidate={"rpps": "candidat.rpps"})
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    with transaction(session):
        dossier.candidate_key = f"rpps:{RPPS}"
        dossier.attachments[0].storage_name = storage.save(pdf_bytes(title="CV de Peggy"))
    return dossier


def test_an_administrator_exports_a_candidates_data_and_pieces_found_by_rpps(
    world, session, tmp_path
):
    storage = Storage(tmp_path / "uploads")
    dossier = candidate_dossier(world, session, storage)
    admin = world.actor("administrateur")

    with transaction(session):
        archive = export_person(session, storage, Person(rpps=RPPS), admin, client_address="::1")

    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        data = json.loads(opened.read("donnees.json"))
        piece = opened.read(f"pieces/{dossier.number}/cv.pdf")
    [exported] = data["dossiers"]
    assert exported["numero"] == dossier.number
    assert exported["candidat"] == "Lambourde Peggy"
    assert exported["reponses"]["candidat"]["rpps"] == RPPS
    assert piece.startswith(b"%PDF")
    [event] = events(session, "donnees_exportees")
    # The journal names the dossiers, never the RPPS searched (it keeps rows forever).
    assert event.detail == {"recherche": "rpps", "dossiers": [dossier.number]}
    assert RPPS not in json.dumps(event.detail) and event.actor_id == admin.user_id


def test_the_export_page_sends_the_zip_and_refuses_a_request_naming_nobody(
    app, client, auth, world, session
):
    storage = Storage(app.config["UPLOAD_DIR"])
    candidate_dossier(world, session, storage)
    auth.login(world.user("administrateur"))

    response = client.post("/admin/donnees-personnelles/export", data={"rpps": RPPS})
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(response.data)).namelist()[0] == "donnees.json"

    nobody = client.post("/admin/donnees-personnelles/export", data={"nom": "Personne"})
    assert nobody.status_code == 422
    assert "ou ses nom et prénom avec sa date de naissance" in html.unescape(nobody.text)
    unknown = client.post("/admin/donnees-personnelles/export", data={"rpps": "10101010100"})
    assert "Aucune donnée n'est enregistrée pour cette personne." in html.unescape(unknown.text)


def test_an_account_closed_on_request_signs_in_no_more_and_keeps_no_name(world, session):
    hospital = world.organisation()
    deposant = world.user("deposant", hospital)
    admin = world.actor("administrateur")
    with transaction(session):
        deposant.full_name = "Hortense Fermée"
        open_session(session, deposant)
    address = deposant.email

    with transaction(session):
        ended = close_account(session, deposant, admin, client_address="::1")

    assert ended == 1
    session.expire_all()
    closed = session.get(User, deposant.id)
    assert (closed.active, closed.full_name) == (False, None)
    assert closed.email == f"compte-ferme-{deposant.id}@ferme.invalid" != address
    live = select(SignInSession).where(SignInSession.ended_at.is_(None))
    assert session.scalars(live).all() == []
    [event] = events(session, "compte_ferme")
    assert (event.user_id, event.email, event.detail) == (
        deposant.id,
        closed.email,
        {"sessions_terminees": 1},
    )
    with pytest.raises(TransitionRefused, match="déjà fermé"), transaction(session):
        close_account(session, closed, admin)


def test_the_closure_page_closes_by_address(client, auth, world, session):
    instructeur = world.user("instructeur")
    auth.login(world.user("administrateur"))

    response = client.post(
        "/admin/donnees-personnelles/fermeture", data={"adresse": instructeur.email}
    )

    assert response.status_code == 302
    page = html.unescape(client.get("/admin/donnees-personnelles").text)
    assert f"Le compte de {instructeur.email} est fermé" in page
    assert (
        client.post(
            "/admin/donnees-personnelles/fermeture", data={"adresse": "inconnu@ars.fr"}
        ).status_code
        == 422
    )


def test_the_privacy_page_quotes_each_campaigns_consent_and_retention(client, session):
    seed = load_campaign_file(Path(ROOT) / "campaigns" / "normandie-asp-2025.yaml")
    with transaction(session):
        store_campaign(session, seed)

    page = html.unescape(client.get("/donnees-personnelles").text)

    # normandie-asp-2025-dossier.txt, « Traitement des données à caractère personnel ».
    assert "Vos données sont conservées pendant la durée de votre contrat" in page
    assert "2 ans après la date de prise de poste" in page
    # Its last start date is 4 May 2026 (« Mai 2026 »).
    assert "soit jusqu'au 4 mai 2028" in page
    legal = client.get("/mentions-legales")
    assert legal.status_code == 200 and "Directeur de la publication" in legal.text
    footer = client.get("/").text
    assert 'href="/donnees-personnelles"' in footer and 'href="/mentions-legales"' in footer


def test_the_administrator_reads_beforehand_what_each_purge_will_remove(
    client, auth, world, session
):
    campaign = world.campaign()
    world.dossier(campaign, world.organisation(), "en_instruction")
    auth.login(world.user("administrateur"))

    page = html.unescape(client.get("/admin/donnees-personnelles").text)

    # The test campaign's start date is 2 November 2026: purged on 2 November 2028.
    row = page[page.index('id="purge-test-asp"') :]
    row = row[: row.index("</tr>")]
    assert "2 novembre 2028" in row
    assert [cell.split(">")[-1] for cell in row.split("</td>")[2:5]] == ["1", "1", "0"]
