"""The keyboard alone, in a real browser (Debian's headless Chromium, driven by Playwright):
no mouse, only Tab, Shift+Tab, Enter, Space and typing (`page.keyboard`).

A hospital's Bureau des Affaires Médicales deposits a dossier of the IdF ASP demo campaign
from its sign-in to « Déposer le dossier », PDF pieces included (Space on the file field opens
the chooser); an instructeur passes it into instruction and accepts it with a motivation. At
each key step the focused element shows its focus (an outline the DSFR draws). On the ASR
volet « Descriptif du parcours du candidat » and its repeated table « Stages hospitaliers
durant l'internat », Enter in a text field saves the volet, with and without JavaScript: it
never adds a row nor deletes row 1. Error summaries lead to their field, a failed sign-in
points the e-mail field at its message, and every page state is checked by axe-core."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

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
from tests.test_e2e_instruction import DEPOSANT, INSTRUCTEUR, SLUG, deposit_dossiers, flashes
from tests.test_web_demo_campaigns import volet_form
from web.deposant.volet_form import parse
from workflow.administration.instructors import follow
from workflow.campaigns.store import current_version, definition_of
from workflow.machine.editing import create_dossier, save_volet
from workflow.models import Campaign, Dossier, User
from workflow.people.actors import Actor
from workflow.people.passwords import hash_password
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

pytestmark = needs_chromium

ASR = "demo-normandie-asr-2026"
# Two internships of the ASR form's table « Stages hospitaliers durant l'internat ».
STAGES = [
    ("nov. 2021 - avril 2022", "CHU de Caen", "Cardiologie", "Pr Durand"),
    ("mai 2022 - oct. 2022", "CH de Lisieux", "Médecine interne", "Dr Leroy"),
]


def asr_dossier(session, deposant: Actor) -> int:  # type: ignore[no-untyped-def]
    """The hospital's ASR dossier, each volet saved, the internship table with two rows."""
    campaign = session.scalar(select(Campaign).where(Campaign.slug == ASR))
    definition = definition_of(session, current_version(session, campaign).id)
    with transaction(session):
        dossier = create_dossier(session, campaign, deposant)
        for volet in definition.volets:
            data = volet_form(definition, volet)
            if volet.key == "parcours":
                data["stages_internat.rows"] = str(len(STAGES))
                for index, row in enumerate(STAGES):
                    for key, value in zip(
                        ("dates", "etablissement", "service", "chef_de_service"), row, strict=True
                    ):
                        data[f"stages_internat.{index}.{key}"] = value
            save_volet(session, dossier, deposant, volet.key, parse(volet, MultiDict(data)))
    return dossier.id


@pytest.fixture
def live_app(tmp_path: Path, smtp_server) -> Iterator[LiveApp]:  # type: ignore[no-untyped-def]
    database, engine, sessions = database_with_campaigns(tmp_path)
    uploads = tmp_path / "uploads"
    with sessions() as session:
        ids = deposit_dossiers(session, Storage(uploads))
        hospital_user = session.scalar(select(User).where(User.email == DEPOSANT[0]))
        ids["asr"] = asr_dossier(session, Actor.of(hospital_user))
        with transaction(session):
            instructeur = User(
                email=INSTRUCTEUR[0],
                password_hash=hash_password(INSTRUCTEUR[1]),
                role="instructeur",
                full_name="Claire Martin",
                email_confirmed_at=clock.now(),
            )
            session.add(instructeur)
        campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        with transaction(session):
            follow(session, instructeur, campaign, Actor("administrateur", None, None, "admin"))
    with served(database, engine, sessions, smtp_server.url, uploads, ids) as live:
        yield live


@pytest.fixture
def browser(live_app: LiveApp):  # type: ignore[no-untyped-def]
    with chromium() as browser:
        yield browser


# --- the keyboard ---------------------------------------------------------------------------


def focused(page: Any) -> dict[str, Any]:
    """What has the focus, and whether it is drawn: `:focus-visible`, an outline or a shadow,
    a box on screen."""
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const style = getComputedStyle(el);
          const box = el.getBoundingClientRect();
          return {id: el.id, tag: el.tagName, text: (el.innerText || el.value || "").trim(),
                  focusVisible: el.matches(":focus-visible"),
                  outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
                  shadow: style.boxShadow !== "none",
                  onScreen: box.width > 0 && box.height > 0};
        }"""
    )


def assert_focus_visible(page: Any) -> None:
    """The focused element shows it: a sighted keyboard user sees where they are."""
    now = focused(page)
    assert now["focusVisible"] and (now["outline"] or now["shadow"]) and now["onScreen"], now


def tab_to(page: Any, selector: str, *, backwards: bool = False, limit: int = 120) -> None:
    """Tab (or Shift+Tab) until the focus is on `selector`, as a person goes through a page."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        # Playwright's selectors (`:text-is()` too), matched against the focused element.
        if page.locator(selector).evaluate_all("els => els.includes(document.activeElement)"):
            return
    raise AssertionError(f"{key} never reached {selector} (focus on {focused(page)})")


def press_and_load(page: Any, key: str = "Enter", state: str = "") -> None:
    """A key that sends a form or follows a link; the new page is checked by axe-core."""
    with page.expect_navigation():
        page.keyboard.press(key)
    check_accessibility(page, state)


def type_into(page: Any, selector: str, text: str) -> None:
    """Tab to a field, clear what it holds, type."""
    tab_to(page, selector)
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def keyboard_sign_in(page: Any, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/connexion")
    check_accessibility(page)
    type_into(page, "#f-email", email)
    assert_focus_visible(page)
    type_into(page, "#f-password", password)
    press_and_load(page)


# --- the tests ------------------------------------------------------------------------------


def test_a_deposant_deposits_a_dossier_with_the_keyboard_alone(
    live_app: LiveApp, browser, tmp_path: Path
):
    page = new_page(browser)

    # --- A wrong password: the e-mail field points at the message, which exists.
    keyboard_sign_in(page, live_app.url, DEPOSANT[0], "pas-le-bon-mot-de-passe")
    described = page.get_attribute("#f-email", "aria-describedby")
    assert described == "error-login"
    assert "incorrect" in page.inner_text(f"#{described}").lower()
    assert page.get_attribute("#f-email", "aria-invalid") == "true"
    type_into(page, "#f-password", DEPOSANT[1])
    press_and_load(page)
    assert page.url.endswith("/mes-dossiers")

    # --- The campaign, then « Nouveau dossier de candidature » with Enter.
    tab_to(page, "a[href$='/campagnes/demo-idf-asp-vague6']")
    assert_focus_visible(page)
    press_and_load(page)
    tab_to(page, "button:text-is('Nouveau dossier de candidature')")
    assert_focus_visible(page)
    press_and_load(page)
    assert "/volets/identification" in page.url

    # --- Identification: a FINESS with a wrong key; the summary's link leads to the field.
    values = {
        "recruteur_nom": "Centre Hospitalier de Gonesse",
        "recruteur_finess": "950001370",
        "recruteur_cp": "95500",
        "recruteur_ville": "Gonesse",
        "recruteur_directeur": "Mme Catherine Dupuis",
        "partenaire_nom": "CHU La Pitié",
        "partenaire_finess": "750100019",  # wrong key: 750100018 is right
        "partenaire_cp": "75013",
        "partenaire_ville": "Paris",
        "partenaire_directeur": "M. Paul Lambert",
        "partenaire_email": "direction@chu-pitie.example.fr",
    }
    for key, value in values.items():
        type_into(page, f"#f-{key}", value)
    for key in ("recruteur_specialite", "partenaire_specialite"):
        # A closed list chosen as a person does with the keyboard: its first letters.
        tab_to(page, f"#f-{key}")
        page.keyboard.type("Dermatologie")
        assert page.input_value(f"#f-{key}").startswith("Dermatologie")
    # Enter in the last text field: the volet is saved (never a table's button).
    tab_to(page, "#f-partenaire_email", backwards=True)
    press_and_load(page, state="FINESS refusé")
    assert page.evaluate("document.activeElement.id") == "erreurs"  # the summary first
    tab_to(page, "#erreurs a[href='#f-partenaire_finess']")
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "f-partenaire_finess"
    page.keyboard.press("Control+A")
    page.keyboard.type("750100018")
    press_and_load(page)
    assert "Le volet « Identification » est enregistré." in flashes(page)

    # --- The three text volets: a long text, then « Enregistrer » reached with Tab.
    for volet, field, text in (
        ("projet_medical", "nature_projet", "Consultations avancées de dermatologie."),
        ("profil_poste", "teneur_poste", "60 % au CH de Gonesse, 40 % au CHU."),
        ("perspectives_carriere", "poste_perenne", "Poste de praticien hospitalier à l'issue."),
    ):
        tab_to(page, f".dossier-tabs a[href$='/volets/{volet}']")
        assert_focus_visible(page)
        press_and_load(page)
        type_into(page, f"#f-{field}", text)
        tab_to(page, "button.fr-btn:text-is('Enregistrer')")
        assert_focus_visible(page)
        press_and_load(page)
        assert "est enregistré." in flashes(page)

    tab_to(page, ".dossier-tabs a[href$='/volets/candidat']")
    press_and_load(page)
    for key, value in (("nom", "Lambourde"), ("prenom", "Peggy"), ("rpps", "10001234565")):
        type_into(page, f"#f-{key}", value)
    press_and_load(page)
    assert "Le volet « Candidat » est enregistré." in flashes(page)

    # --- Pieces: Space on the file field opens the chooser; Enter sends the file.
    tab_to(page, ".dossier-tabs a[href$='/pieces']")
    press_and_load(page)
    for key in ("cv", "lettre_motivation", "attestation_ordre"):
        tab_to(page, f"#fichier-{key}")
        assert_focus_visible(page)
        pdf = tmp_path / f"{key}.pdf"
        pdf.write_bytes(pdf_bytes(key))
        with page.expect_file_chooser() as chooser:
            page.keyboard.press("Space")
        chooser.value.set_files(str(pdf))
        tab_to(page, f"#piece-{key} button[type=submit]")
        assert_focus_visible(page)
        press_and_load(page)
        assert f"Le fichier « {key}.pdf » est joint au dossier." in flashes(page)

    # --- Confirmer: Space ticks each box, Enter on « Déposer le dossier ».
    tab_to(page, ".dossier-tabs a[href$='/confirmer']")
    press_and_load(page)
    boxes = page.locator("#f-attestations input[type=checkbox]").all()
    for box in boxes:
        tab_to(page, f"#{box.get_attribute('id')}")
        page.keyboard.press("Space")
        assert box.is_checked()
    tab_to(page, "button:text-is('Déposer le dossier')")
    assert_focus_visible(page)
    press_and_load(page)
    assert re.search(r"Dossier n° \d+ déposé", page.inner_text("#accuse-depot"))
    assert page.text_content("#etat-dossier") == "En construction"
    assert_clean_console(browser)


def test_an_instructeur_decides_with_the_keyboard_alone(live_app: LiveApp, browser):
    page = new_page(browser)
    keyboard_sign_in(page, live_app.url, *INSTRUCTEUR)
    tab_to(page, "#liens-compte a:text-is('Instruction')")
    assert_focus_visible(page)
    press_and_load(page)
    tab_to(page, f"a[href$='/instruction/campagnes/{SLUG}']")
    press_and_load(page)

    # --- The dashboard's table reads as a table: a caption and column headers.
    table = page.locator("#selection table")
    assert table.locator("caption").count() == 1
    assert table.locator("thead th[scope=col]").count() >= 5

    # --- One dossier ticked with Space, passed into instruction with Enter.
    lambourde = live_app.dossier("Lambourde")
    tab_to(page, f"#choix-{lambourde.id}")
    assert_focus_visible(page)
    page.keyboard.press("Space")
    assert page.is_checked(f"#choix-{lambourde.id}")
    tab_to(page, "button:has-text('Passer en instruction — dossiers cochés')")
    assert_focus_visible(page)
    press_and_load(page)
    assert "Passés en instruction (1)" in flashes(page)

    # --- The dossier, from its number; « Accepter » without motivation, then with it.
    tab_to(page, f"#selection table a:text-is('{lambourde.number}')")
    press_and_load(page)
    tab_to(page, "#action-accepter button:text-is('Accepter')")
    assert_focus_visible(page)
    press_and_load(page, state="motivation manquante")
    assert "La motivation de la décision est obligatoire." in page.inner_text(
        "#action-accepter [role=alert]"
    )
    type_into(page, "#action-accepter textarea[name=motivation]", "Projet de qualité.")
    assert_focus_visible(page)
    tab_to(page, "#action-accepter button:text-is('Accepter')")
    press_and_load(page)
    assert "« Accepter » : c'est fait" in flashes(page)
    with live_app.sessions() as session:
        assert session.get(Dossier, lambourde.id).state == "accepte"
    assert_clean_console(browser)


def stored_stages(live: LiveApp) -> list[dict[str, Any]]:
    with live.sessions() as session:
        return session.get(Dossier, live.dossiers["asr"]).values["parcours"]["stages_internat"]


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without"])
def test_enter_in_a_repeated_table_saves_the_volet_and_never_adds_or_deletes_a_row(
    live_app: LiveApp, browser, javascript: bool
):
    page = new_page(browser, java_script_enabled=javascript)
    keyboard_sign_in(page, live_app.url, *DEPOSANT)
    page.goto(f"{live_app.url}/dossiers/{live_app.dossiers['asr']}/volets/parcours")
    check_accessibility(page)
    # The table reads as a table: its caption, its column headers.
    table = page.locator("#f-stages_internat table")
    assert table.locator("caption").inner_text() == "Stages hospitaliers durant l'internat"
    assert table.locator("thead th[scope=col]").count() == 5

    # --- Enter in the field before the table (where it used to press « Supprimer la ligne 1 »).
    type_into(page, "#f-faculte_origine", "Faculté de médecine de Caen")
    press_and_load(page)
    assert "Le volet « Descriptif du parcours du candidat » est enregistré." in flashes(page)
    assert [row["etablissement"] for row in stored_stages(live_app)] == [
        "CHU de Caen",
        "CH de Lisieux",
    ]

    # --- Enter in a cell of row 1: the change is saved, both rows kept.
    type_into(page, "#f-stages_internat-0-etablissement", "CHU de Rouen")
    press_and_load(page)
    assert "est enregistré." in flashes(page)
    assert [row["etablissement"] for row in stored_stages(live_app)] == [
        "CHU de Rouen",
        "CH de Lisieux",
    ]

    # --- « Ajouter une ligne » with the keyboard, then Enter in the new row saves three rows.
    tab_to(page, "#f-stages_internat button[data-add-row]")
    assert_focus_visible(page)
    if javascript:
        page.keyboard.press("Enter")  # drawn in place; the focus goes to the new row
        assert page.evaluate("document.activeElement.id") == "f-stages_internat-2-dates"
        check_accessibility(page, "ligne ajoutée")
    else:
        press_and_load(page, state="ligne ajoutée")
        assert "Ligne ajoutée" in page.inner_text("main")
        tab_to(page, "#f-stages_internat-2-dates")
    page.keyboard.type("nov. 2022 - avril 2023")
    for key, value in (
        ("etablissement", "CH d'Évreux"),
        ("service", "Pneumologie"),
        ("chef_de_service", "Dr Morel"),
    ):
        type_into(page, f"#f-stages_internat-2-{key}", value)
    press_and_load(page)
    assert "est enregistré." in flashes(page)
    assert [row["etablissement"] for row in stored_stages(live_app)] == [
        "CHU de Rouen",
        "CH de Lisieux",
        "CH d'Évreux",
    ]
    assert_clean_console(browser)
