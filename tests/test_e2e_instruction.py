"""End to end in a real browser (Debian's headless Chromium, driven by Playwright), against
the real app on a loopback port, with mails delivered to a real SMTP server on loopback.

On the IdF ASP demo campaign, three hospitals' dossiers are deposited. An instructeur signs
in, passes them into instruction together from the dashboard, opens one and asks for
corrections; the déposant corrects it; the instructeur passes it back into instruction and
asks the coordonnateur de la spécialité for an avis, who answers through the link of the
mail he received, with a signed PDF and no account. The instructeur then records a decision
on each dossier (a decision without motivation is refused first, in French), publishes the
results — both partner organisations of each dossier receive the decision mail, and a second
publication sends nothing — and downloads the XLSX export, which holds every field."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl
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
from workflow.administration.instructors import follow
from workflow.campaigns.completeness import is_visible
from workflow.campaigns.store import current_version, definition_of
from workflow.machine.editing import attach_piece, create_dossier, save_confirmation, save_volet
from workflow.machine.operations import fire
from workflow.models import Campaign, Dossier, Organisation, User
from workflow.people.actors import Actor
from workflow.people.passwords import hash_password
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date
from workflow.plumbing.db import ROOT, transaction
from workflow.plumbing.storage import Storage

pytestmark = needs_chromium

SLUG = "demo-idf-asp-vague6"
INSTRUCTEUR = ("claire.martin@ars-idf.example.fr", "Instruction-ARS-2026!")
ADMINISTRATEUR = ("admin@ars-idf.example.fr", "Administration-ARS-2026!")
DEPOSANT = ("bam@ch-gonesse.example.fr", "Affaires-Medicales-2019")
COORDONNATEUR = "pr.lefevre@chu-coordination.example.fr"
PARTNER = "direction@partenaire.example.fr"  # the partner's address the demo values give
CANDIDATES = ("Lambourde", "Martin", "Petit")


def deposit_dossiers(session: Session, storage: Storage) -> dict[str, int]:
    """A hospital's three dossiers on the demo campaign, filled, with real PDF pieces, and
    deposited through the workflow's own functions (as its pages would)."""
    campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
    assert campaign is not None
    with transaction(session):
        hospital = Organisation(
            type="etablissement_sante", name="Centre Hospitalier de Gonesse", finess="950001370"
        )
        session.add(hospital)
        session.flush()
        user = User(
            email=DEPOSANT[0],
            password_hash=hash_password(DEPOSANT[1]),
            role="deposant",
            organisation_id=hospital.id,
            email_confirmed_at=clock.now(),
        )
        session.add(user)
    deposant = Actor.of(user)
    definition = definition_of(session, current_version(session, campaign).id)
    ids = {}
    for candidate in CANDIDATES:
        with transaction(session):
            dossier = create_dossier(session, campaign, deposant)
            for volet in definition.volets:
                data = volet_form(definition, volet)
                if volet.key == "candidat":
                    data["nom"] = candidate
                save_volet(session, dossier, deposant, volet.key, parse(volet, MultiDict(data)))
            for piece in definition.pieces:
                pdf = pdf_bytes(f"{piece.label} — {candidate}")
                attach_piece(
                    session, dossier, deposant, piece.key, f"{piece.key}.pdf", pdf, storage
                )
            keys = [a.key for a in definition.attestations]
            save_confirmation(session, dossier, deposant, keys, True)
            fire(session, dossier, "deposer", deposant)
        ids[candidate] = dossier.id
    return ids


def add_ars_staff(session: Session, slug: str) -> None:
    """The ARS's instructeur, following the campaign `slug`, and its administrateur."""
    with transaction(session):
        instructeur = User(
            email=INSTRUCTEUR[0],
            password_hash=hash_password(INSTRUCTEUR[1]),
            role="instructeur",
            full_name="Claire Martin",
            email_confirmed_at=clock.now(),
        )
        session.add(instructeur)
        session.add(
            User(
                email=ADMINISTRATEUR[0],
                password_hash=hash_password(ADMINISTRATEUR[1]),
                role="administrateur",
                email_confirmed_at=clock.now(),
            )
        )
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    admin = Actor("administrateur", None, None, "administrateur (test)")
    with transaction(session):
        follow(session, instructeur, campaign, admin)


@pytest.fixture
def live_app(tmp_path: Path, smtp_server) -> Iterator[LiveApp]:  # type: ignore[no-untyped-def]
    database, engine, sessions = database_with_campaigns(tmp_path)
    uploads = tmp_path / "uploads"
    with sessions() as session:
        ids = deposit_dossiers(session, Storage(uploads))
        add_ars_staff(session, SLUG)
    with served(database, engine, sessions, smtp_server.url, uploads, ids) as live:
        live.flush_outbox()  # the accusés de réception
        yield live


@pytest.fixture
def browser(live_app: LiveApp):  # type: ignore[no-untyped-def]
    with chromium() as browser:
        yield browser


def new_page(browser):  # type: ignore[no-untyped-def]
    """A page in its own browser context: one person, one set of cookies."""
    return open_page(browser, accept_downloads=True)


def sign_in(page, url: str, email: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}/connexion")
    check_accessibility(page)
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    check_accessibility(page)


def flashes(page) -> str:  # type: ignore[no-untyped-def]
    return page.inner_text(".flashes")


def open_dossier(page, live: LiveApp, candidate: str, slug: str = SLUG) -> None:  # type: ignore[no-untyped-def]
    """From the dashboard, as an instructeur does: the dossier's number in the table."""
    page.goto(f"{live.url}/instruction/campagnes/{slug}")
    check_accessibility(page)
    number = str(live.dossier(candidate).number)
    page.locator("#selection table").get_by_role("link", name=number, exact=True).click()
    page.wait_for_load_state()
    assert page.inner_text("h1").startswith(f"Dossier n° {number}")
    check_accessibility(page)


def decide(page, live: LiveApp, candidate: str, button: str, motivation: str) -> None:  # type: ignore[no-untyped-def]
    open_dossier(page, live, candidate)
    page.locator("#action-accepter textarea[name=motivation]").fill(motivation)
    page.locator("#action-accepter").get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    assert f"« {button} » : c'est fait" in flashes(page)
    check_accessibility(page)


def test_an_instructeur_instructs_the_demo_campaign_to_published_results(
    live_app: LiveApp, browser, smtp_server, tmp_path: Path
):
    live = live_app
    instructeur = new_page(browser)

    # --- Signed in, the instructeur finds the campaign it follows and its three dossiers.
    sign_in(instructeur, live.url, *INSTRUCTEUR)
    instructeur.get_by_role("link", name="Instruction", exact=True).click()
    check_accessibility(instructeur)
    instructeur.get_by_role(
        "link", name=re.compile("Création Postes Assistants Spécialistes")
    ).click()
    assert instructeur.inner_text("#compte-en_construction") == "3"
    check_accessibility(instructeur)

    # --- All three pass into instruction at once (« Tout sélectionner », drawn by the script).
    instructeur.check("#tout-selectionner")
    instructeur.get_by_role(
        "button", name=re.compile("Passer en instruction — dossiers cochés")
    ).click()
    assert "Passés en instruction (3)" in flashes(instructeur)
    assert instructeur.inner_text("#compte-en_instruction") == "3"
    check_accessibility(instructeur)

    # --- Corrections asked on the first dossier, with a message and a due date.
    open_dossier(instructeur, live, "Lambourde")
    due = paris_date(clock.now()) + dt.timedelta(days=7)
    form = instructeur.locator("#action-demander_corrections")
    form.locator("textarea[name=message]").fill("Merci de préciser le prénom complet du candidat.")
    form.locator("input[name=due_date]").fill(due.isoformat())
    form.get_by_role("button", name="Demander des corrections").click()
    assert "le dossier est « En construction »" in flashes(instructeur)
    check_accessibility(instructeur)

    # --- The déposant receives the mail, corrects the volet « Candidat » and saves it.
    live.flush_outbox()
    asked = [m for m in smtp_server.to(DEPOSANT[0]) if "correction" in m["Subject"].lower()]
    assert len(asked) == 1
    assert "préciser le prénom complet" in asked[0].get_body(("plain",)).get_content()
    deposant = new_page(browser)
    sign_in(deposant, live.url, *DEPOSANT)
    lambourde = live.dossier("Lambourde")
    deposant.goto(f"{live.url}/dossiers/{lambourde.id}/volets/candidat")
    check_accessibility(deposant)
    deposant.fill("#f-prenom", "Peggy-Anne")
    deposant.get_by_role("button", name="Enregistrer", exact=True).click()
    deposant.wait_for_load_state()
    assert "Le volet « Candidat » est enregistré." in flashes(deposant)
    check_accessibility(deposant)

    # --- Back in instruction; the timeline shows the correction; an avis is asked.
    instructeur.reload()
    check_accessibility(instructeur)
    timeline = instructeur.inner_text("#chronologie")
    assert "Demander des corrections" in timeline and "Volet enregistré" in timeline
    assert DEPOSANT[0] in timeline and "Volet : Candidat" in timeline
    assert "Peggy-Anne" in instructeur.inner_text("#volet-candidat")
    instructeur.locator("#action-passer_en_instruction").get_by_role("button").click()
    assert "le dossier est « En instruction »" in flashes(instructeur)
    check_accessibility(instructeur)
    instructeur.select_option("#f-avis_key", label="Avis du coordonnateur de la spécialité")
    instructeur.fill("#f-giver_name", "Pr Lefèvre")
    instructeur.fill("#f-giver_email", COORDONNATEUR)
    instructeur.get_by_role("button", name="Envoyer la demande d'avis").click()
    assert f"La demande d'avis est envoyée par mail à {COORDONNATEUR}" in flashes(instructeur)
    check_accessibility(instructeur)

    # --- The coordonnateur answers through the mailed link, without an account.
    live.flush_outbox()
    (mail,) = smtp_server.to(COORDONNATEUR)
    link = re.search(r"(http://\S+/avis/\S+)", mail.get_body(("plain",)).get_content()).group(1)
    giver = new_page(browser)
    giver.goto(link)
    assert f"Avis sur le dossier n° {lambourde.number}" in giver.inner_text("h1")
    check_accessibility(giver)
    assert "Peggy-Anne" in giver.inner_text("#volet-candidat")
    giver.click("label[for='f-verdict-favorable']")
    giver.fill("#f-comment", "Projet cohérent ; partenaire pertinent pour la spécialité.")
    signed = tmp_path / "avis-signe.pdf"
    signed.write_bytes(pdf_bytes("Avis signé du coordonnateur"))
    giver.set_input_files("#f-fichier", str(signed))
    giver.get_by_role("button", name="Enregistrer mon avis").click()
    giver.wait_for_load_state()
    assert "Merci : votre avis est enregistré" in flashes(giver)
    assert "Votre avis favorable a été enregistré" in giver.inner_text("#avis-donne")
    check_accessibility(giver)

    # --- « Consulter avis », then the decisions; a decision without motivation is refused.
    instructeur.reload()
    check_accessibility(instructeur)
    avis_row = instructeur.inner_text("#liste-avis tbody")
    assert "Favorable" in avis_row and "Projet cohérent" in avis_row and "PDF signé" in avis_row
    instructeur.locator("#action-accepter").get_by_role("button", name="Accepter").click()
    assert "La motivation de la décision est obligatoire." in instructeur.inner_text(
        "#action-accepter [role=alert]"
    )
    check_accessibility(instructeur, "motivation manquante")
    instructeur.locator("#action-accepter textarea[name=motivation]").fill(
        "Projet de qualité, avis favorable du coordonnateur."
    )
    instructeur.locator("#action-accepter").get_by_role("button", name="Accepter").click()
    assert "La décision sera visible du déposant à la publication des résultats." in flashes(
        instructeur
    )
    check_accessibility(instructeur)
    decide(instructeur, live, "Martin", "Refuser", "Partenaire hors zone prioritaire.")
    decide(instructeur, live, "Petit", "Classer sans suite", "Candidat retenu ailleurs.")

    # --- Before publication the déposant still sees « en instruction ».
    deposant.goto(f"{live.url}/dossiers/{lambourde.id}/decision")
    assert deposant.text_content("#etat-dossier") == "En instruction"
    check_accessibility(deposant)

    # --- « Publier les résultats »: both partners of each dossier receive the decision.
    instructeur.goto(f"{live.url}/instruction/campagnes/{SLUG}")
    assert "3 décision(s) enregistrée(s)" in instructeur.inner_text("#publication")
    check_accessibility(instructeur)
    instructeur.get_by_role("button", name="Publier les résultats").click()
    assert "Résultats publiés : 3 décision(s)." in flashes(instructeur)
    check_accessibility(instructeur)
    live.flush_outbox()
    numbers = {str(live.dossier(c).number) for c in CANDIDATES}

    def decisions_to(address: str) -> set[str]:
        subjects = [m["Subject"] for m in smtp_server.to(address)]
        # One mail per outcome (accepté, refusé, classé sans suite), each naming it.
        found = [
            re.search(r"Décision ARS : dossier n° (\d+) (accepté|refusé|classé sans suite)", s)
            for s in subjects
        ]
        return {m.group(1) for m in found if m}

    assert decisions_to(DEPOSANT[0]) == numbers
    assert decisions_to(PARTNER) == numbers
    count = len(smtp_server.messages)
    instructeur.get_by_role("button", name="Publier les résultats").click()
    assert "Aucune nouvelle décision à publier" in flashes(instructeur)
    check_accessibility(instructeur)
    live.flush_outbox()
    assert len(smtp_server.messages) == count

    deposant.reload()
    check_accessibility(deposant)
    assert deposant.inner_text("#decision-kind").startswith("Accepté")
    assert "avis favorable du coordonnateur" in deposant.inner_text("#decision-motivation")

    # --- The XLSX export opens with openpyxl and holds every field of every dossier.
    with instructeur.expect_download() as download:
        instructeur.get_by_role("link", name=re.compile("Tableau Excel")).click()
    path = tmp_path / "export.xlsx"
    download.value.save_as(path)
    assert download.value.suggested_filename == f"{SLUG}-dossiers.xlsx"
    sheet = openpyxl.load_workbook(path).active
    header = [c.value for c in sheet[1]]
    rows = {
        row[0]: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(2, values_only=True)
    }
    assert set(rows) == {int(n) for n in numbers}
    with live.sessions() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        definition = definition_of(session, current_version(session, campaign).id)
        values = session.get(Dossier, lambourde.id).values
    first = rows[lambourde.number]
    for volet in definition.volets:
        for item in volet.fields:
            column = f"{volet.title} — {item.label}"
            assert column in header, column
            if is_visible(item, values):
                assert first[column] not in (None, ""), column
    assert first["Candidat — Prénom"] == "Peggy-Anne"
    assert first["Décision"] == "Accepté"
    assert first["Motivation"] == "Projet de qualité, avis favorable du coordonnateur."
    assert first["Décision publiée le"] is not None
    assert {r["Décision"] for r in rows.values()} == {"Accepté", "Refusé", "Classé sans suite"}

    # --- No page of the journey broke the Content-Security-Policy or logged an error.
    assert_clean_console(browser)


@pytest.mark.skipif(
    not (ROOT / "node_modules" / "mermaid" / "dist" / "mermaid.min.js").is_file(),
    reason="the npm package mermaid is not installed (`make assets` or `npm install`): the "
    "page then shows the diagram's source only, which tests/test_web_admin.py checks",
)
def test_the_administrator_sees_the_state_machine_drawn(live_app: LiveApp, browser):
    page = new_page(browser)
    sign_in(page, live_app.url, *ADMINISTRATEUR)
    page.get_by_role("link", name="Administration", exact=True).click()
    check_accessibility(page)
    page.get_by_role("link", name="Machine à états des dossiers").click()
    page.wait_for_selector("#machine[data-drawn=oui] svg")
    check_accessibility(page, "machine dessinée")
    drawn = page.inner_text("#dessin-machine")
    for state in ("brouillon", "en_construction", "en_instruction", "accepte", "en_poste"):
        assert state in drawn
    assert "motivation_required" in drawn
    assert not page.is_visible("#source-machine")  # shown only when nothing is drawn
    # Drawn under the page's policy: Mermaid's inline styles allowed, no inline script.
    assert_clean_console(browser)
