"""The avis and signatures the déposant collects before deposit (issue #9; issue #14's
Annexe 12 consent). The Normandie ASR form: « Pour être pris en compte, votre dossier doit
impérativement comprendre les pièces suivantes » — among them « Annexe 5 : Avis du CHEF DE
SERVICE UNIVERSITAIRE … » to « Annexe 11 », and « Annexe 12 : Protection des données », whose
box says « les données personnelles me concernant »: the candidate's, not the hospital's."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import at_paris, pdf_bytes
from workflow.campaigns.loader import load_campaign_file
from workflow.machine.operations import fire, refusal_reasons
from workflow.models import AuditEvent, Avis, Dossier, OutboxMail
from workflow.plumbing.db import transaction
from workflow.scheduling.jobs import remind_avis

ROOT = Path(__file__).resolve().parents[1]
# Beside the repository, as tests/test_seed_campaigns.py finds them.
SEEDS = ROOT.parent / "shared" / "seeds"
NOW = at_paris(2026, 1, 12, 10)

# In the shape of ASR Annexe 5 and Annexe 12, for a small campaign of the tests.
ANNEXE_5 = {
    "key": "avis_chef_service_universitaire",
    "label": "Avis du CHEF DE SERVICE UNIVERSITAIRE (annexe 5)",
    "giver": "chef_de_service",
    "required": True,
    "asked_by": "deposant",
    "signature": ["pdf", "certification"],
    "fields": [
        {"key": "chef_de_service_de", "label": "Chef de Service de :", "type": "text"},
        {"key": "avis", "label": "Donne un avis favorable à :", "type": "verdict"},
        {"key": "periode", "label": "Pour la période du :", "type": "period"},
        {
            "key": "projet_formation",
            "label": "Descriptif du projet de formation envisagé :",
            "type": "long_text",
        },
    ],
}
ANNEXE_12 = {
    "key": "consentement_candidat",
    "label": "Annexe 12 – Protection des données (consentement du candidat)",
    "giver": "candidat",
    "required": True,
    "asked_by": "deposant",
    "signature": ["certification"],
    "giver_name_from": ["candidat.prenom", "candidat.nom"],
    "certification_text": (
        "En cochant cette case, j’accepte de fournir les données personnelles me concernant "
        "à l’ARS de Normandie"
    ),
    "statement": "Seuls les agents de l’ARS Normandie auront accès à ces données.",
}
OPTIONAL = {
    "key": "avis_coordonnateur",
    "label": "Avis du coordonnateur de la spécialité",
    "giver": "coordonnateur",
    "asked_by": "deposant",
    "signature": ["certification"],
    "fields": [{"key": "avis", "label": "Avis", "type": "verdict"}],
}
ANSWER_5 = {
    "chef_de_service_de": "Dermatologie, CHU de Rouen",
    "avis": "favorable",
    "periode__du": "2026-11-02",
    "periode__au": "2027-11-01",
    "projet_formation": "Dermatologie interventionnelle et consultations avancées.",
}


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


@pytest.fixture
def scene(world, hospital, signed_in):  # type: ignore[no-untyped-def]
    """A complete brouillon of a campaign asking annexe 5 and the candidate's consent before
    deposit, and an optional avis; the déposant is signed in."""
    campaign = world.campaign(avis=[ANNEXE_5, ANNEXE_12, OPTIONAL])
    return world.dossier(campaign, hospital)


def invite(client, dossier, key, name="Pr Martin", email="martin@chu-rouen.fr"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/dossiers/{dossier.id}/avis/{key}/inviter",
        data={"giver_name": name, "giver_email": email},
    )


def last_link(session, template: str = "invitation_avis") -> str:  # type: ignore[no-untyped-def]
    session.rollback()
    mail = session.scalars(
        select(OutboxMail).where(OutboxMail.template == template).order_by(OutboxMail.id.desc())
    ).first()
    return urlsplit(mail.context["link"]).path


def deposit(client, dossier):  # type: ignore[no-untyped-def]
    return client.post(
        f"/dossiers/{dossier.id}/confirmer",
        data={"action": "deposer", "attestations": ["complet"], "consent": "oui"},
    )


# --- the seeds --------------------------------------------------------------------------------


def test_the_asr_campaign_asks_annexes_5_to_11_and_the_candidates_consent_before_deposit():
    campaign = load_campaign_file(ROOT / "campaigns" / "normandie-asr-2026.yaml")
    before = [a for a in campaign.avis if a.before_deposit and a.required]
    assert [a.label for a in before][:2] == [
        "Avis du CHEF DE SERVICE UNIVERSITAIRE (annexe 5)",
        "Avis du CHEF DE SERVICE du CENTRE HOSPITALIER (annexe 6)",
    ]
    assert len(before) == 8  # annexes 5 to 11, and the consent of annexe 12
    annexe_5 = before[0]
    labels = [f.label for f in annexe_5.fields]
    assert "Descriptif du projet de formation envisagé :" in labels
    assert [f.type for f in annexe_5.fields if "période" in f.label] == ["period"]
    consent = before[-1]
    assert consent.giver == "candidat"
    assert consent.certification_text.startswith(
        "En cochant cette case, j’accepte de fournir les données personnelles me concernant"
    )
    # The consent is no longer ticked by the Direction des Affaires Médicales.
    assert campaign.consent is None
    seed = SEEDS / "normandie-asr-2026-dossier.txt"
    if seed.exists():
        # The form's non-breaking spaces read as spaces.
        text = re.sub(r"[\xa0 ]+", " ", seed.read_text(encoding="utf-8"))
        assert "doit impérativement comprendre les pièces suivantes" in text
        assert "Descriptif du projet de formation envisagé" in text
        assert "Seuls les agents de l’ARS Normandie auront accès à ces données." in (
            consent.statement or ""
        )


def test_the_asp_campaign_asks_the_fonction_dans_la_structure_of_annexe_4():
    campaign = load_campaign_file(ROOT / "campaigns" / "normandie-asp-2025.yaml")
    annexe_4 = next(a for a in campaign.avis if a.key == "avis_directeur_structure")
    assert annexe_4.before_deposit and annexe_4.required
    assert "Fonction dans la structure :" in [f.label for f in annexe_4.fields]


# --- deposit waits for the required avis ---------------------------------------------------


def test_a_deposant_cannot_deposit_while_a_required_avis_is_missing(client, scene, at, session):
    with at(NOW):
        refused = deposit(client, scene)
        assert refused.status_code == 422
        page = text_of(refused)
        assert "Le dossier n'a pas pu être déposé" in page
        assert "« Avis du CHEF DE SERVICE UNIVERSITAIRE (annexe 5) » n'a pas encore été donné." in (
            page
        )
        assert "« Annexe 12 – Protection des données (consentement du candidat) »" in page
        # The optional avis holds nothing back.
        assert "« Avis du coordonnateur de la spécialité »" not in page
        # The checklist lists them with the other missing items, under their own heading.
        checklist = text_of(client.get(f"/dossiers/{scene.id}/confirmer"))
        assert "Avis et signatures" in checklist
        recap = text_of(client.get(f"/campagnes/{scene.campaign.slug}"))
        assert "2 avis ou signatures à recueillir" in recap
    session.rollback()
    assert session.get(Dossier, scene.id).state == "brouillon"


def test_the_guard_names_each_missing_avis_and_lets_the_deposit_through_once_given(
    world, session, hospital
):
    campaign = world.campaign(avis=[ANNEXE_5])
    dossier = world.dossier(campaign, hospital)
    deposant = world.actor("deposant", hospital)
    with time_machine.travel(NOW, tick=False):
        reasons = refusal_reasons(session, dossier, "deposer", deposant, {}, NOW)
        assert "« Avis du CHEF DE SERVICE UNIVERSITAIRE (annexe 5) » n'a pas encore été donné." in (
            reasons
        )
        with transaction(session):
            session.add(
                Avis(
                    dossier_id=dossier.id,
                    avis_key=ANNEXE_5["key"],
                    giver_email="martin@chu-rouen.fr",
                    invited_by="deposant",
                    invited_at=NOW,
                    given_at=NOW,
                    verdict="defavorable",
                    signature_mode="certification",
                    certified_name="Pr Martin",
                )
            )
        with transaction(session):
            fire(session, dossier, "deposer", deposant)
    # A défavorable avis is an avis given: the ARS weighs it, the deposit does not wait.
    assert dossier.state == "en_construction"


def test_an_avis_the_ars_asked_never_stands_for_the_deposants(world, session, hospital):
    campaign = world.campaign(avis=[ANNEXE_5])
    dossier = world.dossier(campaign, hospital)
    with transaction(session):
        session.add(
            Avis(
                dossier_id=dossier.id,
                avis_key=ANNEXE_5["key"],
                giver_email="x@chu.fr",
                invited_at=NOW,
                given_at=NOW,
                verdict="favorable",
            )
        )
    deposant = world.actor("deposant", hospital)
    reasons = refusal_reasons(session, dossier, "deposer", deposant, {}, NOW)
    assert "« Avis du CHEF DE SERVICE UNIVERSITAIRE (annexe 5) » n'a pas encore été donné." in (
        reasons
    )


# --- invitation, answer, deposit -----------------------------------------------------------


def test_the_deposant_invites_the_giver_who_answers_by_certifying_and_the_deposit_goes_through(
    client, scene, at, session
):
    with at(NOW):
        page = text_of(client.get(f"/dossiers/{scene.id}/avis"))
        assert "Avis du CHEF DE SERVICE UNIVERSITAIRE (annexe 5)" in page
        assert "à inviter" in page
        # The candidate's name is prefilled from the dossier's own fields.
        assert 'value="Peggy Lambourde"' in client.get(f"/dossiers/{scene.id}/avis").text
        assert invite(client, scene, ANNEXE_5["key"]).status_code == 302
        link = last_link(session)
        mail = session.scalars(
            select(OutboxMail).where(OutboxMail.template == "invitation_avis")
        ).one()
        assert mail.recipient == "martin@chu-rouen.fr"
        assert "invité" in text_of(client.get(f"/dossiers/{scene.id}/avis"))

        giver = client.get(link)
        assert giver.status_code == 200
        shown = text_of(giver)
        assert "Descriptif du projet de formation envisagé :" in shown
        assert "Pour la période du :" in shown
        assert "Je certifie l'exactitude" in shown

        # Every blank and the signature are checked at once; nothing is kept.
        incomplete = client.post(
            link, data={"avis": "favorable", "signature_mode": "certification"}
        )
        assert incomplete.status_code == 422
        wrong = text_of(incomplete)
        assert "« Chef de Service de : » est obligatoire." in wrong
        assert "Cochez la case pour signer." in wrong
        assert "Indiquez votre fonction." in wrong

        answered = client.post(
            link,
            data={
                **ANSWER_5,
                "signature_mode": "certification",
                "certifie": "oui",
                "certified_name": "Pr Jean Martin",
                "certified_function": "Chef de service de dermatologie",
            },
        )
        assert answered.status_code == 302
        # Read-only once given: the form is gone, a second answer is refused.
        again = client.get(link)
        assert "<textarea" not in again.text and "Elle ne peut plus être modifiée" in again.text
        assert client.post(link, data={**ANSWER_5}).status_code == 422

        listing = client.get(f"/dossiers/{scene.id}/avis")
        shown = text_of(listing)
        assert "donné" in shown
        assert "du 2 novembre 2026 au 1er novembre 2027" in shown
        assert "Pr Jean Martin, Chef de service de dermatologie" in shown
        # What a giver wrote is read, never edited, by the déposant.
        section = listing.text.split('id="avis-avis_chef_service_universitaire"', 1)[1]
        section = section.split("</section>", 1)[0]
        assert "<form" not in section
        refused = invite(client, scene, ANNEXE_5["key"], email="autre@chu-rouen.fr")
        assert refused.status_code == 422
        assert "ne peut être ni modifié ni demandé à nouveau" in text_of(refused)

        # The déposant's users are told.
        session.rollback()
        told = session.scalars(select(OutboxMail).where(OutboxMail.template == "avis_donne")).all()
        assert told and told[0].context["avis_label"] == ANNEXE_5["label"]
        events = session.scalars(select(AuditEvent.event).where(AuditEvent.dossier_id == scene.id))
        assert {"inviter_avis", "donner_avis"} <= set(events)

        # The candidate's own consent, through their own link.
        assert (
            invite(
                client, scene, ANNEXE_12["key"], "Peggy Lambourde", "peggy@example.fr"
            ).status_code
            == 302
        )
        consent_link = last_link(session)
        consent_page = text_of(client.get(consent_link))
        assert "Seuls les agents de l’ARS Normandie auront accès à ces données." in consent_page
        assert "les données personnelles me concernant" in consent_page
        assert "Fonction" not in consent_page.split("Le dossier", 1)[0].split("Signature", 1)[1]
        still_missing = deposit(client, scene)
        assert still_missing.status_code == 422
        assert "(consentement du candidat) » n'a pas encore été donné" in text_of(still_missing)
        given = client.post(
            consent_link,
            data={
                "signature_mode": "certification",
                "certifie": "oui",
                "certified_name": "Peggy Lambourde",
            },
        )
        assert given.status_code == 302
        assert deposit(client, scene).status_code == 302
    session.rollback()
    dossier = session.get(Dossier, scene.id)
    assert dossier.state == "en_construction" and dossier.number
    consent = session.scalars(select(Avis).where(Avis.avis_key == ANNEXE_12["key"])).one()
    assert consent.verdict is None and consent.signature_mode == "certification"


def test_a_giver_signs_with_the_signed_annex_in_pdf_checked_like_the_pieces(
    client, scene, at, session
):
    with at(NOW):
        invite(client, scene, ANNEXE_5["key"])
        link = last_link(session)
        not_a_pdf = client.post(
            link,
            data={**ANSWER_5, "signature_mode": "pdf", "fichier": (io.BytesIO(b"hello"), "a.pdf")},
            content_type="multipart/form-data",
        )
        assert not_a_pdf.status_code == 422
        assert "PDF" in text_of(not_a_pdf)
        missing = client.post(link, data={**ANSWER_5, "signature_mode": "pdf"})
        assert "Joignez l'annexe signée, au format PDF." in text_of(missing)
        signed = client.post(
            link,
            data={
                **ANSWER_5,
                "signature_mode": "pdf",
                "fichier": (io.BytesIO(pdf_bytes(title="Annexe 5 signée")), "annexe5.pdf"),
            },
            content_type="multipart/form-data",
        )
        assert signed.status_code == 302
        download = client.get(f"/dossiers/{scene.id}/avis/{ANNEXE_5['key']}/fichier")
        assert download.status_code == 200 and download.data.startswith(b"%PDF-")
        assert "Annexe signée (PDF)" in text_of(client.get(f"/dossiers/{scene.id}/avis"))


def test_a_reinvitation_sends_a_new_link_and_the_old_one_stops(client, scene, at, session):
    with at(NOW):
        invite(client, scene, ANNEXE_5["key"], email="ancien@chu-rouen.fr")
        old = last_link(session)
        assert client.get(old).status_code == 200
        invite(client, scene, ANNEXE_5["key"], email="nouveau@chu-rouen.fr")
        new = last_link(session)
        assert new != old
        stopped = client.get(old)
        assert stopped.status_code == 404
        assert "remplacé par un lien plus récent" in text_of(stopped)
        assert client.get(new).status_code == 200
    session.rollback()
    (avis,) = session.scalars(select(Avis).where(Avis.dossier_id == scene.id)).all()
    assert avis.giver_email == "nouveau@chu-rouen.fr" and avis.link_version == 2


def test_a_reminder_is_relance_and_an_expired_link_asks_a_new_invitation(
    client, scene, at, session
):
    with at(NOW):
        invite(client, scene, ANNEXE_5["key"])
        assert (
            client.post(f"/dossiers/{scene.id}/avis/{ANNEXE_5['key']}/relancer").status_code == 302
        )
        assert "relancé" in text_of(client.get(f"/dossiers/{scene.id}/avis"))
        reminded = last_link(session, "rappel_avis_deposant")
        assert client.get(reminded).status_code == 200
    later = NOW + dt.timedelta(days=31)
    with at(later):
        assert "expiré" in text_of(client.get(f"/dossiers/{scene.id}/avis"))
        assert "Ce lien a expiré" in text_of(client.get(reminded))
        refused = client.post(f"/dossiers/{scene.id}/avis/{ANNEXE_5['key']}/relancer")
        assert refused.status_code == 422
        assert "invitez de nouveau le signataire" in text_of(refused)


def test_the_scheduler_reminds_the_givers_the_deposant_invited_each_week(
    client, scene, at, session, sessions
):
    with at(NOW):
        invite(client, scene, ANNEXE_5["key"])
    assert remind_avis(sessions, NOW + dt.timedelta(days=3)) == []
    sent = remind_avis(sessions, NOW + dt.timedelta(days=8))
    assert len(sent) == 1
    session.rollback()
    mail = session.scalars(
        select(OutboxMail).where(OutboxMail.template == "rappel_avis_deposant")
    ).one()
    assert mail.recipient == "martin@chu-rouen.fr"
    assert mail.context["avis_label"] == ANNEXE_5["label"]
    # Not twice in the same week, and never once the link has expired.
    assert remind_avis(sessions, NOW + dt.timedelta(days=9)) == []
    assert remind_avis(sessions, NOW + dt.timedelta(days=40)) == []


# --- who may do what -----------------------------------------------------------------------


def test_another_organisations_deposant_gets_404_on_every_avis_route(
    client, world, scene, auth, at, session
):
    with at(NOW):
        invite(client, scene, ANNEXE_5["key"])
        auth.login(world.user("deposant", world.organisation()))
        base = f"/dossiers/{scene.id}/avis"
        assert client.get(base).status_code == 404
        assert client.get(f"{base}/{ANNEXE_5['key']}/fichier").status_code == 404
        assert invite(client, scene, ANNEXE_5["key"]).status_code == 404
        assert client.post(f"{base}/{ANNEXE_5['key']}/relancer").status_code == 404
        auth.login(world.user("instructeur"))
        assert client.get(base).status_code == 403
    session.rollback()
    assert session.scalars(select(Avis)).one().link_version == 1


def test_an_avis_link_opens_only_its_own_avis(client, world, scene, hospital, at, session):
    with at(NOW):
        invite(client, scene, ANNEXE_5["key"])
        link = last_link(session)
        other = world.dossier(world.campaign(avis=[ANNEXE_5], slug="autre"), hospital)
        page = client.get(link)
        assert f"/avis/{link.rsplit('/', 1)[1]}/pieces/cv" in page.text
        # Another dossier's piece is not reachable by changing the path.
        assert client.get(f"{link}/pieces/inconnue").status_code == 404
        assert client.get(f"/dossiers/{other.id}/avis").status_code == 200  # same organisation
        assert client.get(link[:-3] + "abc").status_code == 404


AVIS_ROUTES = [
    ("get", "/dossiers/{id}/avis"),
    ("post", "/dossiers/{id}/avis/avis_chef_service_universitaire/inviter"),
    ("post", "/dossiers/{id}/avis/avis_chef_service_universitaire/relancer"),
    ("get", "/dossiers/{id}/avis/avis_chef_service_universitaire/fichier"),
]


@pytest.mark.parametrize(("method", "path"), AVIS_ROUTES)
@pytest.mark.parametrize("role", ["anonyme", "instructeur", "administrateur", "autre_deposant"])
def test_only_the_dossiers_own_deposant_reaches_its_avis_routes(
    role, method, path, client, world, auth, hospital, at, session
):
    dossier = world.dossier(world.campaign(avis=[ANNEXE_5]), hospital)
    if role == "autre_deposant":
        auth.login(world.user("deposant", world.organisation()))
    elif role != "anonyme":
        auth.login(world.user(role))
    with at(NOW):
        response = getattr(client, method)(
            path.format(id=dossier.id), data={"giver_email": "x@chu.fr", "giver_name": "X"}
        )
    expected = {"anonyme": 302, "instructeur": 403, "administrateur": 403, "autre_deposant": 404}
    assert response.status_code == expected[role]
    if role == "anonyme":
        assert "/connexion?next=" in response.location
    session.rollback()
    assert (
        session.scalars(select(OutboxMail).where(OutboxMail.template == "invitation_avis")).all()
        == []
    )


def test_a_deleted_brouillon_takes_its_signed_annexes_with_it(client, scene, at, session, app):
    with at(NOW):
        invite(client, scene, ANNEXE_5["key"])
        signed = client.post(
            last_link(session),
            data={
                **ANSWER_5,
                "signature_mode": "pdf",
                "fichier": (io.BytesIO(pdf_bytes(title="Annexe 5 signée")), "annexe5.pdf"),
            },
            content_type="multipart/form-data",
        )
        assert signed.status_code == 302
        session.rollback()
        stored = Path(app.config["UPLOAD_DIR"])
        name = session.scalars(select(Avis.storage_name)).one()
        assert any(p.name == name for p in stored.rglob("*"))
        assert client.post(f"/dossiers/{scene.id}/supprimer").status_code == 302
    session.rollback()
    assert session.scalars(select(Avis)).all() == []
    assert not any(p.name == name for p in stored.rglob("*"))


def test_invitations_to_one_address_are_limited_so_the_service_mails_nobody_in_bulk(
    client, scene, at, session
):
    with at(NOW):
        for _ in range(5):  # the invitation, then four new links: a real person's need
            assert invite(client, scene, ANNEXE_5["key"]).status_code == 302
        refused = invite(client, scene, ANNEXE_5["key"])
        assert refused.status_code == 429
        assert "Trop de tentatives. Réessayez dans" in text_of(refused)
    session.rollback()
    mails = session.scalars(select(OutboxMail).where(OutboxMail.template == "invitation_avis"))
    assert len(mails.all()) == 5
    assert session.scalars(select(Avis)).one().link_version == 5


def test_the_export_reads_a_consent_given_without_verdict_as_signed():
    from types import SimpleNamespace

    from workflow.instruction.exports import _avis_cells

    consent = SimpleNamespace(
        verdict=None, given_at=NOW, giver_name="Camille Leroux", giver_email="c@example.fr"
    )
    assert _avis_cells(consent)[0] == "Signé"
    assert _avis_cells(SimpleNamespace(**{**vars(consent), "given_at": None}))[0] == "En attente"
