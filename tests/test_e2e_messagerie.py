"""End to end in a real browser (Debian's headless Chromium, driven by Playwright), against
the real app, with mails delivered to a real SMTP server on loopback: corrections as a
dialogue both sides see.

On the IdF ASP demo campaign, the instructeur asks for corrections on a dossier in
instruction. The déposant sees the request, its message and its due date (« jusqu'au …
inclus », the one way it is written) on every tab of the dossier, corrects the volet
« Candidat », answers in the messagerie with a signed PDF, and fires « Transmettre les
corrections »: the dossier is back « En instruction » at once. The instructeur receives both
mails, finds the dossier marked « Message non lu » and « Corrections transmises » on the
dashboard (and with the « Suivi » filter), reads the message and its PDF, and answers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from tests.e2e_support import (
    LiveApp,
    assert_clean_console,
    check_accessibility,
    needs_chromium,
    pdf_bytes,
)
from tests.test_e2e_instruction import (  # noqa: F401 (the fixtures live_app and browser)
    DEPOSANT,
    INSTRUCTEUR,
    SLUG,
    browser,
    flashes,
    live_app,
    new_page,
    open_dossier,
    sign_in,
)
from workflow.plumbing import clock
from workflow.plumbing.dates import format_date, paris_date

pytestmark = needs_chromium

ASKED = "Merci de joindre l'attestation d'inscription à l'Ordre signée et de préciser le prénom."
ANSWER = "Le prénom est précisé et l'attestation signée est jointe."


def plain(message) -> str:  # type: ignore[no-untyped-def]
    return message.get_body(("plain",)).get_content()


def test_corrections_asked_answered_and_transmitted_back_into_instruction(
    live_app: LiveApp,  # noqa: F811
    browser,  # noqa: F811
    smtp_server,
    tmp_path: Path,
):
    live = live_app
    instructeur = new_page(browser)
    sign_in(instructeur, live.url, *INSTRUCTEUR)

    # --- The instructeur takes the dossier into instruction and asks for corrections.
    open_dossier(instructeur, live, "Lambourde")
    instructeur.locator("#action-passer_en_instruction").get_by_role("button").click()
    assert "le dossier est « En instruction »" in flashes(instructeur)
    check_accessibility(instructeur)
    due = paris_date(clock.now()) + dt.timedelta(days=7)
    due_text = f"jusqu'au {format_date(due)} inclus"
    form = instructeur.locator("#action-demander_corrections")
    form.locator("textarea[name=message]").fill(ASKED)
    form.locator("input[name=due_date]").fill(due.isoformat())
    form.get_by_role("button", name="Demander des corrections").click()
    assert "le dossier est « En construction »" in flashes(instructeur)
    assert f"Modifiable par le déposant {due_text} (heure de Paris)" in instructeur.inner_text(
        "#resume"
    )
    check_accessibility(instructeur)

    # --- The déposant's mail names the due date the same way.
    live.flush_outbox()
    (asked,) = [m for m in smtp_server.to(DEPOSANT[0]) if "Corrections" in m["Subject"]]
    assert ASKED in plain(asked)
    assert f"{due_text} (heure de Paris)" in plain(asked)

    # --- The banner, its message and its due date on every tab of the dossier.
    deposant = new_page(browser)
    sign_in(deposant, live.url, *DEPOSANT)
    lambourde = live.dossier("Lambourde")
    base = f"{live.url}/dossiers/{lambourde.id}"
    for tab in (
        "volets/identification",
        "volets/candidat",
        "pieces",
        "confirmer",
        "decision",
        "messagerie",
    ):
        deposant.goto(f"{base}/{tab}")
        banner = deposant.inner_text("#corrections-demandees")
        assert "Corrections demandées par l'ARS" in banner, tab
        assert ASKED in banner, tab
        assert due_text in banner, tab
        check_accessibility(deposant, f"onglet {tab}")
    # The « Décision » tab no longer says instruction begins after the deadline.
    deposant.goto(f"{base}/decision")
    check_accessibility(deposant)
    assert "Son instruction commence après la date limite" not in deposant.inner_text("main")
    assert "L'instruction de votre dossier a commencé" in deposant.inner_text("#decision-attente")
    # The request is the ARS's message of the thread, unread until opened.
    deposant.goto(f"{base}/messagerie")
    check_accessibility(deposant)
    assert ASKED in deposant.inner_text("#messages")
    assert "demande de corrections" in deposant.text_content("#messages")

    # --- The déposant corrects the volet « Candidat », still editable while corrections are open.
    deposant.goto(f"{base}/volets/candidat")
    check_accessibility(deposant)
    deposant.fill("#f-prenom", "Peggy-Anne")
    deposant.get_by_role("button", name="Enregistrer", exact=True).click()
    deposant.wait_for_load_state()
    assert "Le volet « Candidat » est enregistré." in flashes(deposant)
    check_accessibility(deposant)

    # --- It answers in the messagerie with a signed PDF.
    signed = tmp_path / "attestation-ordre-signee.pdf"
    signed.write_bytes(pdf_bytes("Attestation d'inscription à l'Ordre, signée"))
    deposant.goto(f"{base}/messagerie")
    check_accessibility(deposant)
    deposant.fill("#f-body", ANSWER)
    deposant.set_input_files("#f-piece_jointe", str(signed))
    deposant.get_by_role("button", name="Envoyer le message").click()
    deposant.wait_for_load_state()
    assert "Votre message est envoyé à l'ARS" in flashes(deposant)
    assert ANSWER in deposant.inner_text("#messages")
    assert "attestation-ordre-signee.pdf" in deposant.inner_text("#messages")
    check_accessibility(deposant)

    # --- « Transmettre les corrections »: back in instruction at once.
    deposant.get_by_role("button", name="Transmettre les corrections").click()
    deposant.wait_for_load_state()
    assert "« Transmettre les corrections » : c'est enregistré" in flashes(deposant)
    assert deposant.text_content("#etat-dossier") == "En instruction"
    assert deposant.locator("#corrections-demandees").count() == 0
    check_accessibility(deposant)

    # --- The instructeur is told, by two mails from the outbox.
    live.flush_outbox()
    subjects = [m["Subject"] for m in smtp_server.to(INSTRUCTEUR[0])]
    number = str(lambourde.number)
    assert f"Nouveau message du déposant — dossier n° {number}" in " ".join(subjects)
    assert f"Corrections transmises — dossier n° {number}" in " ".join(subjects)
    (told,) = [m for m in smtp_server.to(INSTRUCTEUR[0]) if "Nouveau message" in m["Subject"]]
    assert ANSWER in plain(told)
    assert "attestation-ordre-signee.pdf" in plain(told)

    # --- The dashboard marks the dossier, and the « Suivi » filter finds it.
    instructeur.goto(f"{live.url}/instruction/campagnes/{SLUG}")
    check_accessibility(instructeur)
    row = instructeur.text_content(f"#dossier-{lambourde.id}")
    assert "Message non lu" in row and "Corrections transmises" in row
    assert "Message non lu" not in instructeur.text_content(f"#dossier-{live.dossier('Martin').id}")
    instructeur.select_option("#filtre-suivi", label="Message non lu")
    instructeur.get_by_role("button", name="Filtrer").click()
    instructeur.wait_for_load_state()
    rows = instructeur.locator("#selection tbody tr")
    assert rows.count() == 1
    assert number in rows.first.inner_text()
    check_accessibility(instructeur, "filtre « Message non lu »")

    # --- The instructeur reads the thread and the PDF, and answers.
    rows.first.get_by_role("link", name=number, exact=True).click()
    instructeur.wait_for_load_state()
    assert instructeur.text_content("#etat-dossier").strip() == "En instruction"
    thread = instructeur.inner_text("#messagerie")
    assert ASKED in thread and ANSWER in thread
    check_accessibility(instructeur)
    with instructeur.expect_download() as download:
        instructeur.get_by_role("link", name="attestation-ordre-signee.pdf").click()
    saved = tmp_path / "lu.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == signed.read_bytes()
    instructeur.fill("#f-body", "Merci, le dossier est complet.")
    instructeur.get_by_role("button", name="Envoyer le message").click()
    instructeur.wait_for_load_state()
    assert "Le message est envoyé au déposant" in flashes(instructeur)
    check_accessibility(instructeur)
    # Read now: the marker « Message non lu » is gone from the dashboard.
    instructeur.goto(f"{live.url}/instruction/campagnes/{SLUG}")
    check_accessibility(instructeur)
    row = instructeur.text_content(f"#dossier-{lambourde.id}")
    assert "Message non lu" not in row and "Corrections transmises" in row

    live.flush_outbox()
    (answer,) = [m for m in smtp_server.to(DEPOSANT[0]) if "Nouveau message" in m["Subject"]]
    assert "Merci, le dossier est complet." in plain(answer)
    link = re.search(r"(http://\S+/messagerie)", plain(answer)).group(1)
    deposant.goto(link)
    assert "Merci, le dossier est complet." in deposant.inner_text("#messages")
    check_accessibility(deposant)

    assert_clean_console(browser)
