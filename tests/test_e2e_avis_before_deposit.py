"""End to end in a real browser (Debian's headless Chromium, driven by Playwright), against
the real app on a loopback port, with mails delivered to a real SMTP server on loopback.

On the Normandie ASR demo campaign (« votre dossier doit impérativement comprendre » the avis
of Annexes 5 to 11 and, Annexe 12, the candidate's own consent), a hospital's Direction des
Affaires Médicales has filled its dossier. From « Avis et signatures » it invites every
required giver; each receives a personal link by mail. The chef de service universitaire
answers by « je certifie », the coordonnateur with the signed annex in PDF, the others by
« je certifie »; the deposit is refused while the candidate's consent is missing, and goes
through once the candidate has given it through their own link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from tests.e2e_support import (
    LiveApp,
    assert_clean_console,
    check_accessibility,
    chromium,
    database_with_campaigns,
    needs_chromium,
    pdf_bytes,
    served,
)
from tests.e2e_support import new_page as open_page
from tests.test_web_demo_campaigns import volet_form
from web.deposant.volet_form import parse
from workflow.campaigns.store import current_version, definition_of
from workflow.machine.editing import attach_piece, create_dossier, save_confirmation, save_volet
from workflow.models import Campaign, Dossier, Organisation, User
from workflow.people.actors import Actor
from workflow.people.passwords import hash_password
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

pytestmark = needs_chromium

SLUG = "demo-normandie-asr-2026"
DEPOSANT = ("dam@ch-dieppe.example.fr", "Affaires-Medicales-2026")
CANDIDATE = "candidate.asr@example.fr"
# Annexe 5 by « je certifie », Annexe 7 (the coordonnateur's « courrier d'appui ») in PDF.
CERTIFIED = "avis_chef_service_universitaire"
IN_PDF = "avis_coordonnateur"
CONSENT = "consentement_candidat"


def fill_dossier(
    session: Session,
    storage: Storage,
    slug: str = SLUG,
    deposant_account: tuple[str, str] = DEPOSANT,
    hospital_name: tuple[str, str] = ("Centre Hospitalier de Dieppe", "760780239"),
    candidate: dict[str, str] | None = None,
) -> int:
    """The hospital's dossier, every volet filled and every piece attached, its boxes ticked:
    complete but for the avis (`candidate` answers the volet « Candidat »'s fields)."""
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    assert campaign is not None
    with transaction(session):
        hospital = Organisation(
            type="etablissement_sante", name=hospital_name[0], finess=hospital_name[1]
        )
        session.add(hospital)
        session.flush()
        user = User(
            email=deposant_account[0],
            password_hash=hash_password(deposant_account[1]),
            role="deposant",
            organisation_id=hospital.id,
            email_confirmed_at=clock.now(),
        )
        session.add(user)
    deposant = Actor.of(user)
    definition = definition_of(session, current_version(session, campaign).id)
    with transaction(session):
        dossier = create_dossier(session, campaign, deposant)
        for volet in definition.volets:
            data = volet_form(definition, volet)
            if volet.key == "candidat":
                data |= candidate or {"nom": "Leroux", "prenom": "Camille", "email": CANDIDATE}
            save_volet(session, dossier, deposant, volet.key, parse(volet, MultiDict(data)))
        for piece in definition.pieces:
            pdf = pdf_bytes(piece.label)
            attach_piece(session, dossier, deposant, piece.key, f"{piece.key}.pdf", pdf, storage)
        save_confirmation(
            session, dossier, deposant, [a.key for a in definition.attestations], True
        )
    return dossier.id


@pytest.fixture
def live_app(tmp_path: Path, smtp_server) -> Iterator[LiveApp]:  # type: ignore[no-untyped-def]
    database, engine, sessions = database_with_campaigns(tmp_path)
    uploads = tmp_path / "uploads"
    with sessions() as session:
        dossier_id = fill_dossier(session, Storage(uploads))
    with served(
        database, engine, sessions, smtp_server.url, uploads, {"Leroux": dossier_id}
    ) as live:
        yield live


def giver_address(key: str) -> str:
    return f"{key.replace('_', '.')}@chu-caen.example.fr"


def link_in_mail(smtp_server, address: str) -> str:  # type: ignore[no-untyped-def]
    (mail,) = [m for m in smtp_server.to(address) if "demandé" in m["Subject"]]
    return re.search(r"(http://\S+/avis/\S+)", mail.get_body(("plain",)).get_content()).group(1)


def deposit(page, live: LiveApp, dossier_id: int) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live.url}/dossiers/{dossier_id}/confirmer")
    check_accessibility(page)
    page.get_by_role("button", name="Déposer le dossier").click()
    page.wait_for_load_state()
    check_accessibility(page)


def certify(page, name: str, function: str | None) -> None:  # type: ignore[no-untyped-def]
    """« Je certifie » with name and function, as a giver does it on the annex's page."""
    if page.locator("#f-signature_mode-certification").count():
        page.click("label[for='f-signature_mode-certification']")
    page.click("label[for='f-certifie']")
    page.fill("#f-certified_name", name)
    if function is not None:
        page.fill("#f-certified_function", function)


def fill_annex(page) -> None:  # type: ignore[no-untyped-def]
    """The annex's blanks: « Donne un avis favorable », the period, the texts."""
    form = page.locator("form[enctype='multipart/form-data']")
    for radio in form.locator("input[type=radio][value=favorable]").all():
        page.click(f"label[for='{radio.get_attribute('id')}']")
    for date in form.locator("input[type=date]").all():
        name = date.get_attribute("name")
        date.fill("2026-11-02" if name.endswith("__du") else "2027-11-01")
    for text in form.locator("textarea, input.fr-input:not([type])").all():
        if text.get_attribute("name") not in ("certified_name", "certified_function"):
            text.fill("Projet solide, soutenu par le service.")


def test_a_hospital_collects_every_signed_avis_and_the_candidates_consent_before_deposit(
    live_app: LiveApp, smtp_server, tmp_path: Path
):
    dossier_id = live_app.dossiers["Leroux"]
    with live_app.sessions() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        definition = definition_of(session, current_version(session, campaign).id)
    required = [a for a in definition.avis if a.before_deposit and a.required]
    assert len(required) == 8
    with chromium() as browser:
        page = open_page(browser)
        page.goto(f"{live_app.url}/connexion")
        check_accessibility(page)
        page.fill("#f-email", DEPOSANT[0])
        page.fill("#f-password", DEPOSANT[1])
        page.get_by_role("button", name="Se connecter").click()
        page.wait_for_load_state()
        check_accessibility(page)

        # Nothing given yet: the deposit is refused, naming each avis.
        deposit(page, live_app, dossier_id)
        refusal = page.inner_text("main")
        assert "Le dossier n'a pas pu être déposé" in refusal
        for kind in required:
            assert f"« {kind.label} » n'a pas encore été donné." in refusal

        # « Avis et signatures »: invite every required giver; the candidate's name and
        # address come prefilled from Annexe 1.
        page.get_by_role("link", name=re.compile("^Avis et signatures")).click()
        page.wait_for_load_state()
        check_accessibility(page)
        assert page.input_value(f"#f-{CONSENT}-giver_name") == "Camille Leroux"
        assert page.input_value(f"#f-{CONSENT}-giver_email") == CANDIDATE
        for kind in required:
            if kind.key != CONSENT:
                page.fill(f"#f-{kind.key}-giver_name", f"Dr {kind.key}")
                page.fill(f"#f-{kind.key}-giver_email", giver_address(kind.key))
            page.click(f"#inviter-{kind.key}")
            page.wait_for_load_state()
            assert "L'invitation est envoyée par mail" in page.inner_text(".flashes")
            assert page.text_content(f"#statut-{kind.key}") == "invité"
            check_accessibility(page)
        live_app.flush_outbox()

        # Each giver answers from the link of their own mail, without an account.
        giver = open_page(browser)
        for kind in required:
            if kind.key == CONSENT:
                continue
            giver.goto(link_in_mail(smtp_server, giver_address(kind.key)))
            assert giver.inner_text("h1") == kind.label
            check_accessibility(giver)
            fill_annex(giver)
            if kind.key == IN_PDF:
                giver.click("label[for='f-signature_mode-pdf']")
                signed = tmp_path / "annexe-7-signee.pdf"
                signed.write_bytes(pdf_bytes("Annexe 7 signée"))
                giver.set_input_files("#f-fichier", str(signed))
            else:
                certify(giver, f"Dr {kind.key}", "Chef de service")
            giver.get_by_role("button", name="Signer et envoyer mon avis").click()
            giver.wait_for_load_state()
            assert "votre réponse est enregistrée" in giver.inner_text(".flashes")
            assert "Elle ne peut plus être modifiée" in giver.inner_text("#avis-donne")
            check_accessibility(giver)

        # The candidate's consent still missing: refused, naming only it.
        deposit(page, live_app, dossier_id)
        refusal = page.inner_text("main")
        assert "(consentement du candidat) » n'a pas encore été donné." in refusal
        assert "(annexe 5) » n'a pas encore été donné" not in refusal

        # The candidate reads the consent of Annexe 12 on their own page and gives it.
        live_app.flush_outbox()
        candidate = open_page(browser)
        candidate.goto(link_in_mail(smtp_server, CANDIDATE))
        assert "Seuls les agents de l’ARS Normandie auront accès à ces données." in (
            candidate.inner_text("#texte-annexe")
        )
        check_accessibility(candidate)
        assert candidate.locator("#f-certified_function").count() == 0
        certify(candidate, "Camille Leroux", None)
        candidate.get_by_role("button", name="Donner mon consentement").click()
        candidate.wait_for_load_state()
        assert "votre réponse est enregistrée" in candidate.inner_text(".flashes")
        check_accessibility(candidate)

        # What was given, read-only for the déposant; then the deposit goes through.
        page.goto(f"{live_app.url}/dossiers/{dossier_id}/avis")
        check_accessibility(page)
        for kind in required:
            assert page.text_content(f"#statut-{kind.key}") == "donné"
        assert "Dr avis_chef_service_universitaire, Chef de service" in page.inner_text(
            f"#reponse-{CERTIFIED}"
        )
        assert page.locator(f"#avis-{CERTIFIED} form").count() == 0
        with page.expect_download() as download:
            page.get_by_role("link", name="Télécharger l'annexe signée (PDF)").click()
        assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")
        deposit(page, live_app, dossier_id)
        assert "a bien été déposé" in page.inner_text(".flashes")
        assert_clean_console(browser)

    live_app.flush_outbox()
    dossier = live_app.dossier("Leroux")
    assert dossier.state == "en_construction" and dossier.number
    receipts = [m for m in smtp_server.to(DEPOSANT[0]) if "bien été déposé" in m["Subject"]]
    assert len(receipts) == 1 and f"n° {dossier.number}" in receipts[0]["Subject"]
    told = [m for m in smtp_server.to(DEPOSANT[0]) if ": reçu" in m["Subject"]]
    assert len(told) == len(required)
    with live_app.sessions() as session:
        assert session.get(Dossier, dossier_id).state == "en_construction"
