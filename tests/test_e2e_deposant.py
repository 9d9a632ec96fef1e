"""End to end in a real browser (Debian's headless Chromium, driven by Playwright), against
the real app on a loopback port, with mails delivered to a real SMTP server on loopback.

A hospital's Bureau des Affaires Médicales creates its account (refused first for a FINESS
with a wrong key), confirms its address from the mail it receives, signs in, fills every volet
of the IdF ASP demo campaign, attaches real PDF pieces (refused first for a text file named
.pdf), ticks the « Confirmer » boxes, deposits, receives the accusé de réception with its
number, and finds the dossier in « Récap. candidatures »."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e_support import (
    LiveApp,
    assert_clean_console,
    check_accessibility,
    chromium,
    database_with_campaigns,
    needs_chromium,
    new_page,
    pdf_bytes,
    served,
)

pytestmark = needs_chromium

EMAIL = "bam@ch-gonesse.example.fr"
PASSWORD = "Affaires-Medicales-2019"


@pytest.fixture
def live_app(tmp_path: Path, smtp_server) -> Iterator[LiveApp]:  # type: ignore[no-untyped-def]
    database, engine, sessions = database_with_campaigns(tmp_path)
    with served(database, engine, sessions, smtp_server.url, tmp_path / "uploads") as live:
        yield live


@pytest.fixture
def page(live_app: LiveApp):  # type: ignore[no-untyped-def]
    with chromium() as browser:
        yield new_page(browser)


def a_pdf(path: Path, title: str) -> Path:
    """A real one-page PDF file."""
    path.write_bytes(pdf_bytes(title))
    return path


def fill(page, values: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Types each value into its input, or picks it in its list (the specialties)."""
    for key, value in values.items():
        field = page.locator(f"#f-{key}")
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def tick(page, input_id: str) -> None:  # type: ignore[no-untyped-def]
    """Ticks a radio or checkbox as a person does: by its label (the DSFR draws the box)."""
    page.click(f"label[for='{input_id}']")
    assert page.is_checked(f"#{input_id}")


def save_volet(page, title: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.wait_for_load_state()
    assert f"Le volet « {title} » est enregistré." in page.inner_text(".flashes")
    check_accessibility(page)


def test_a_hospital_registers_fills_the_asp_demo_dossier_and_deposits_it(
    live_app: LiveApp, page, smtp_server, tmp_path: Path
):
    # --- Création de compte: a FINESS with a wrong key is refused next to the field.
    # --- The accessibility statement, from the footer of the home page.
    page.goto(f"{live_app.url}/")
    check_accessibility(page)
    page.get_by_role("link", name="Accessibilité : partiellement conforme").click()
    assert "partiellement conforme" in page.inner_text("#conformite")
    check_accessibility(page)
    page.goto(f"{live_app.url}/")
    check_accessibility(page)
    page.get_by_role("link", name="Création de compte").first.click()
    check_accessibility(page)
    tick(page, "f-organisation_type-etablissement_sante")
    fill(
        page,
        {
            "organisation_name": "Centre Hospitalier de Gonesse",
            "finess": "950001371",
            "full_name": "Claire Martin",
            "email": EMAIL,
            "password": PASSWORD,
            "password_confirmation": PASSWORD,
        },
    )
    page.get_by_role("button", name="Valider la création du compte").click()
    assert "clé de contrôle du n° FINESS est invalide" in page.inner_text("#error-finess")
    assert page.get_attribute("#f-finess", "aria-describedby").endswith("error-finess")
    check_accessibility(page, "FINESS refusé")
    fill(page, {"finess": "950001370", "password": PASSWORD, "password_confirmation": PASSWORD})
    page.get_by_role("button", name="Valider la création du compte").click()
    assert "Plus qu'une étape" in page.inner_text("main")
    check_accessibility(page)

    # --- The confirmation mail arrives over SMTP; its link confirms the address.
    live_app.flush_outbox()
    (mail,) = smtp_server.to(EMAIL)
    text = mail.get_body(("plain",)).get_content()
    link = re.search(r"(http://\S+/compte/confirmer/\S+)", text).group(1)
    page.goto(link)
    assert "Votre adresse électronique est confirmée" in page.inner_text(".flashes")
    check_accessibility(page)

    # --- Connexion.
    page.fill("#f-email", EMAIL)
    page.fill("#f-password", PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    assert page.url.endswith("/mes-dossiers")
    check_accessibility(page)

    # --- The campaign page, then a new dossier.
    page.get_by_role("link", name=re.compile(r"Création Postes Assistants Spécialistes")).click()
    assert "jusqu'au" in page.inner_text(".fr-callout") and "inclus" in page.inner_text(
        ".fr-callout"
    )
    assert "hors-délai ne sera pas traité" in page.inner_text(".rules-text").lower()
    check_accessibility(page)
    page.get_by_role("button", name="Nouveau dossier de candidature").click()
    check_accessibility(page)

    # --- Identification first: the other tabs stay locked until it is saved.
    assert page.locator(".dossier-tabs .locked", has_text="Candidat").count() == 1
    fill(
        page,
        {
            "recruteur_nom": "Centre Hospitalier de Gonesse",
            "recruteur_finess": "950001370",
            "recruteur_cp": "95500",
            "recruteur_ville": "Gonesse",
            "recruteur_directeur": "Mme Catherine Dupuis",
            "recruteur_specialite": "Dermatologie et vénéréologie",
            "partenaire_nom": "CHU La Pitié",
            "partenaire_finess": "750100018",
            "partenaire_cp": "75013",
            "partenaire_ville": "Caen",  # not a commune of 75013: flagged, not refused
            "partenaire_directeur": "M. Paul Lambert",
            "partenaire_specialite": "Dermatologie et vénéréologie",
            "partenaire_email": "direction@chu-pitie.example.fr",
        },
    )
    save_volet(page, "Identification")

    # --- The town is checked against its postal code, and the code's towns are proposed.
    assert page.inner_text("#warning-partenaire_ville").startswith(
        "La commune « Caen » ne correspond pas au code postal 75013 (commune(s) de ce code : Paris)"
    )
    assert "warning-partenaire_ville" in page.get_attribute(
        "#f-partenaire_ville", "aria-describedby"
    )
    assert page.get_attribute("#f-partenaire_ville", "list") == "communes-partenaire_ville"
    assert page.locator("#communes-partenaire_ville option").get_attribute("value") == "Paris"
    proposed = page.locator("#communes-recruteur_ville option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert "Gonesse" in proposed and "Le Thillay" in proposed
    # Typing another postal code refills the proposals at once (app.js asks the server).
    fill(page, {"partenaire_cp": "14000"})
    page.wait_for_function(
        "() => [...document.querySelectorAll('#communes-partenaire_ville option')]"
        ".map(o => o.value).join() === 'Caen'"
    )
    fill(page, {"partenaire_cp": "75013", "partenaire_ville": "Paris"})
    save_volet(page, "Identification")
    assert page.locator("#warning-partenaire_ville").count() == 0

    # --- Projet médical: leaving with unsaved changes warns; staying keeps the text.
    page.get_by_role("link", name=re.compile("^Projet médical")).click()
    check_accessibility(page)
    page.fill(
        "#f-nature_projet",
        "Consultations avancées de dermatologie à Gonesse deux jours par semaine, avec "
        "télé-expertise vers le service de dermatologie du CHU pour les cas complexes.",
    )
    warnings: list[str] = []

    def stay(dialog) -> None:  # type: ignore[no-untyped-def]
        warnings.append(dialog.type)
        dialog.dismiss()

    page.once("dialog", stay)
    page.get_by_role("link", name=re.compile("^Profil poste")).click()
    page.wait_for_timeout(500)
    assert warnings == ["beforeunload"]
    assert "/volets/projet_medical" in page.url
    save_volet(page, "Projet médical")

    page.get_by_role("link", name=re.compile("^Profil poste")).click()
    check_accessibility(page)
    page.fill(
        "#f-teneur_poste",
        "Assistant partagé : 60 % au CH de Gonesse (consultations, avis dans les services), "
        "40 % au CHU (hôpital de jour, staff hebdomadaire, enseignement des internes).",
    )
    save_volet(page, "Profil poste")

    page.get_by_role("link", name=re.compile("^Perspectives de carrière")).click()
    check_accessibility(page)
    page.fill(
        "#f-poste_perenne",
        "Poste de praticien hospitalier en dermatologie proposé au CH de Gonesse à l'issue "
        "des deux années d'assistanat.",
    )
    save_volet(page, "Perspectives de carrière")

    page.get_by_role("link", name=re.compile("^Candidat")).click()
    check_accessibility(page)
    fill(page, {"nom": "Lambourde", "prenom": "Peggy", "rpps": "10001234565"})
    save_volet(page, "Candidat")

    # --- Pieces: a text file named .pdf is refused by its content; real PDFs are kept.
    page.get_by_role("link", name=re.compile("^Joindre fichier")).click()
    check_accessibility(page)
    fake = tmp_path / "cv.pdf"
    fake.write_text("Curriculum vitae de Peggy Lambourde (texte, pas un PDF)")
    page.set_input_files("#fichier-cv", str(fake))
    page.locator("#piece-cv").get_by_role("button", name="Envoyer le fichier").click()
    assert "n'est pas un PDF" in page.inner_text("#error-fichier-cv")
    check_accessibility(page, "PDF refusé")
    for key, title in (
        ("cv", "CV de Peggy Lambourde"),
        ("lettre_motivation", "Lettre de motivation"),
        ("attestation_ordre", "Attestation d'inscription à l'Ordre"),
    ):
        pdf = a_pdf(tmp_path / f"{key}.pdf", title)
        page.set_input_files(f"#fichier-{key}", str(pdf))
        page.locator(f"#piece-{key}").get_by_role("button", name="Envoyer le fichier").click()
        assert f"Le fichier « {key}.pdf » est joint au dossier." in page.inner_text(".flashes")
        check_accessibility(page)

    # --- Confirmer: every box ticked, then « Déposer le dossier ».
    page.get_by_role("link", name=re.compile("^Dossier complet")).click()
    assert "Ce qu'il manque encore" in page.inner_text("main")
    check_accessibility(page)
    for checkbox in page.locator("#f-attestations input[type=checkbox]").all():
        tick(page, checkbox.get_attribute("id"))
    page.get_by_role("button", name="Déposer le dossier").click()
    notice = page.inner_text("#accuse-depot")
    number = re.search(r"Dossier n° (\d+) déposé", notice).group(1)
    assert page.text_content("#etat-dossier") == "En construction"
    check_accessibility(page)

    # --- The accusé de réception arrives with the number and the recap.
    live_app.flush_outbox()
    receipts = [m for m in smtp_server.to(EMAIL) if "a bien été déposé" in m["Subject"]]
    assert len(receipts) == 1
    assert f"n° {number}" in receipts[0]["Subject"]
    body = receipts[0].get_body(("plain",)).get_content()
    assert "CHU La Pitié" in body and "Dermatologie" in body and "Lambourde Peggy" in body

    # --- Récap. candidatures.
    page.goto(f"{live_app.url}/campagnes/demo-idf-asp-vague6/recapitulatif")
    row = page.locator(".recap-table tbody tr").first
    cells = row.text_content()
    assert number in cells and "Lambourde Peggy" in cells and "CHU La Pitié" in cells
    assert "En construction" in cells and "Complet" in cells
    check_accessibility(page)

    # --- No page of the journey broke the Content-Security-Policy or logged an error.
    assert_clean_console(page.context.browser)
