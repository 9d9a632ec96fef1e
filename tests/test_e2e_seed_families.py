"""One journey per seed family, end to end in a real browser (Debian's headless Chromium,
driven by Playwright), against the real app, with every mail read from the aiosmtpd sink
(issue #9's « Done when »).

Normandie (the ASR 2026 demo copy): « votre dossier doit impérativement comprendre » the
avis of Annexes 5 to 11 and, Annexe 12, the candidate's consent; the CHU's Direction des
Affaires Médicales co-signs; the candidate starts on their own « Date de la prise de
fonction » (« prise de fonction 4 mai 2026, au 2 novembre 2026 ou 2 mai 2027 »).
Île-de-France (the ASP vague 6 demo copy): « Indiquer l'avis | Supprimer l'avis | Consulter
avis », an avis the campaign does not require, and the messagerie.

Each run: the hospital invites the givers from « Avis et signatures », each answers through
the link of their mail (one by « je certifie », one with a signed PDF), the deposit waits
for the last required one, then goes through with its accusé de réception; the instructeur
passes the dossier into instruction and asks for corrections; the déposant reads the banner
(« jusqu'au … inclus »), answers in the messagerie and fires « Transmettre les corrections »;
the instructeur finds it back « En instruction », marked « Corrections transmises », accepts
it with a motivation and publishes; « Envoi automatique d'un mail d'information sur la
publication des résultats aux deux établissements partenaires » (IdF ASP manual): the
partner's mail carries the letter (a PDF naming the outcome) and a link to the decision,
which the partner opens. For Normandie the
scheduler's sweep asks nothing of a May 2027 start in November 2026, and asks the prise de
poste on 2 May 2027. The administrator's state-machine page lists the new transitions."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import select

from tests.conftest import at_paris
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
from tests.test_e2e_avis_before_deposit import (
    certify,
    deposit,
    fill_annex,
    fill_dossier,
    giver_address,
    link_in_mail,
)
from tests.test_e2e_instruction import (
    ADMINISTRATEUR,
    INSTRUCTEUR,
    add_ars_staff,
    flashes,
    new_page,
    open_dossier,
    sign_in,
)
from tests.test_e2e_messagerie import plain
from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.store import current_version, definition_of
from workflow.models import Campaign
from workflow.plumbing import clock
from workflow.plumbing.dates import format_date, paris_date
from workflow.plumbing.storage import Storage
from workflow.scheduling.jobs import run_sweeps

pytestmark = needs_chromium

PARTNER = "direction@partenaire.example.fr"  # the partner's address the demo values give
CANDIDATE = "Leroux"
ASKED = "Merci de joindre l'attestation d'inscription à l'Ordre signée."
ANSWER = "L'attestation d'inscription à l'Ordre signée est jointe au volet des pièces."
MOTIVATION = "Projet médical partagé solide ; avis favorables réunis."


@dataclass(frozen=True)
class Family:
    slug: str
    deposant: tuple[str, str]
    hospital: tuple[str, str]
    candidate: dict[str, str]
    # The avis answered with a signed PDF (the others by « je certifie »).
    in_pdf: str
    # The day the demo copy is loaded, from which its dates are counted (None: today).
    loaded_on: dt.datetime | None = None
    # The dossier's own start date, when the prise de poste is followed over time.
    starts_on: dt.date | None = None


NORMANDIE = Family(
    slug="demo-normandie-asr-2026",
    deposant=("dam@ch-dieppe.example.fr", "Affaires-Medicales-2026"),
    hospital=("Centre Hospitalier de Dieppe", "760780239"),
    candidate={
        "nom": CANDIDATE,
        "prenom": "Camille",
        "email": "candidate.asr@example.fr",
        # « Date de la prise de fonction » : « Mai 2027 ».
        "date_prise_de_fonction": "2027-05-02",
    },
    in_pdf="avis_coordonnateur",
    # Assumption: the demo copy counts its three start dates 90, 270 and 450 days from the day
    # it is loaded; loaded on 6 February 2026 they are 7 May 2026, 3 November 2026 and
    # 2 May 2027, the seed's « 4 mai 2026, au 2 novembre 2026 ou 2 mai 2027 » within days,
    # so that « Mai 2027 » is 2 May 2027 and the sweeps of November 2026 come after the
    # decision. The whole journey runs from that day on (the clock ticking).
    loaded_on=at_paris(2026, 2, 6, 9),
    starts_on=dt.date(2027, 5, 2),
)
ILE_DE_FRANCE = Family(
    slug="demo-idf-asp-vague6",
    deposant=("bam@ch-gonesse.example.fr", "Affaires-Medicales-2019"),
    hospital=("Centre Hospitalier de Gonesse", "950001370"),
    candidate={"nom": CANDIDATE, "prenom": "Peggy"},
    # « Avis du coordonnateur de la spécialité » is `required: false`: the campaign requires
    # no avis before deposit; the hospital asks this optional one, answered with a signed PDF.
    in_pdf="avis_coordonnateur",
)


@contextmanager
def clock_from(moment: dt.datetime | None) -> Iterator[None]:
    """The journey's clock: from `moment` on, ticking (the browser's own clock is not moved:
    the app's cookies last for the browser session and its dates are the server's)."""
    with ExitStack() as stack:
        if moment is not None:
            stack.enter_context(time_machine.travel(moment, tick=True))
        yield


def pdf_text(data: bytes) -> str:
    """The text of every page, whitespace collapsed."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def sweep_and_send(live: LiveApp, moment: dt.datetime) -> list[str]:
    """What the scheduler does at `moment`: every sweep once, then the outbox sent."""
    with time_machine.travel(moment, tick=False):
        report = run_sweeps(live.sessions, clock.now())
        live.flush_outbox()
    return list(report.notices)


@pytest.mark.parametrize("family", [NORMANDIE, ILE_DE_FRANCE], ids=lambda f: f.slug)
def test_a_dossier_of_each_seed_family_goes_from_its_avis_to_the_partners_decision(
    family: Family, smtp_server: Any, tmp_path: Path
):
    with clock_from(family.loaded_on):
        database, engine, sessions = database_with_campaigns(tmp_path)
        uploads = tmp_path / "uploads"
        with sessions() as session:
            dossier_id = fill_dossier(
                session,
                Storage(uploads),
                family.slug,
                family.deposant,
                family.hospital,
                family.candidate,
            )
            add_ars_staff(session, family.slug)
            campaign = session.scalar(select(Campaign).where(Campaign.slug == family.slug))
            definition = definition_of(session, current_version(session, campaign).id)
        with (
            served(
                database, engine, sessions, smtp_server.url, uploads, {CANDIDATE: dossier_id}
            ) as live,
            chromium() as browser,
        ):
            journey(family, live, browser, smtp_server, tmp_path, definition)


def journey(
    family: Family,
    live: LiveApp,
    browser: Any,
    smtp_server: Any,
    tmp_path: Path,
    definition: Definition,
) -> None:
    """One family's journey, in the order of the issue's « Done when »."""
    dossier_id = live.dossiers[CANDIDATE]
    asked = [a for a in definition.avis if a.before_deposit]
    required = [a for a in asked if a.required]
    deposant = new_page(browser)
    sign_in(deposant, live.url, *family.deposant)

    # --- « Avis et signatures »: every giver the campaign asks of the déposant is invited.
    if family is NORMANDIE:
        assert [a.key for a in required] == [a.key for a in asked] and len(required) == 8
    else:
        assert required == [] and [a.key for a in asked] == ["avis_coordonnateur"]
    deposant.goto(f"{live.url}/dossiers/{dossier_id}/avis")
    check_accessibility(deposant)
    for kind in asked:
        if kind.giver != "candidat":
            deposant.fill(f"#f-{kind.key}-giver_name", f"Dr {kind.key}")
            deposant.fill(f"#f-{kind.key}-giver_email", giver_address(kind.key))
        deposant.click(f"#inviter-{kind.key}")
        deposant.wait_for_load_state()
        assert "L'invitation est envoyée par mail" in flashes(deposant)
        assert deposant.text_content(f"#statut-{kind.key}") == "invité"
        check_accessibility(deposant)
    live.flush_outbox()
    if not required:
        # IdF requires no avis: the one still awaited does not hold the deposit back.
        deposant.goto(f"{live.url}/dossiers/{dossier_id}/confirmer")
        assert "Le dossier est complet" in deposant.inner_text("main")
        assert "n'a pas encore été donné" not in deposant.inner_text("main")
        check_accessibility(deposant)

    # --- Each giver answers from the link of their mail, the candidate's consent last.
    giver = new_page(browser)
    last = next((a for a in asked if a.giver == "candidat"), None)
    for kind in asked:
        if kind is last:
            continue
        giver.goto(link_in_mail(smtp_server, giver_address(kind.key)))
        assert giver.inner_text("h1") == kind.label
        check_accessibility(giver)
        fill_annex(giver)
        if kind.key == family.in_pdf:
            giver.click("label[for='f-signature_mode-pdf']")
            signed = tmp_path / f"{kind.key}-signe.pdf"
            signed.write_bytes(pdf_bytes(f"{kind.label}, signé"))
            giver.set_input_files("#f-fichier", str(signed))
        else:
            certify(giver, f"Dr {kind.key}", "Chef de service")
        giver.get_by_role("button", name="Signer et envoyer mon avis").click()
        giver.wait_for_load_state()
        assert "votre réponse est enregistrée" in flashes(giver)
        check_accessibility(giver)
    if last is not None:
        # One required avis still missing: the deposit is refused, naming it alone.
        deposit(deposant, live, dossier_id)
        refusal = deposant.inner_text("main")
        assert f"« {last.label} » n'a pas encore été donné." in refusal
        for kind in required:
            if kind is not last:
                assert f"« {kind.label} » n'a pas encore été donné." not in refusal
        assert live.dossier(CANDIDATE).state == "brouillon"
        consent = new_page(browser)
        consent.goto(link_in_mail(smtp_server, family.candidate["email"]))
        check_accessibility(consent)
        certify(consent, f"{family.candidate['prenom']} {CANDIDATE}", None)
        consent.get_by_role("button", name="Donner mon consentement").click()
        consent.wait_for_load_state()
        assert "votre réponse est enregistrée" in flashes(consent)
        check_accessibility(consent)
    deposant.goto(f"{live.url}/dossiers/{dossier_id}/avis")
    check_accessibility(deposant)
    for kind in asked:
        assert deposant.text_content(f"#statut-{kind.key}") == "donné"

    # --- Every avis given: deposited, with its accusé de réception.
    deposit(deposant, live, dossier_id)
    assert "a bien été déposé" in flashes(deposant)
    live.flush_outbox()
    number = live.dossier(CANDIDATE).number
    assert number
    receipts = [m for m in smtp_server.to(family.deposant[0]) if "bien été déposé" in m["Subject"]]
    assert len(receipts) == 1 and f"n° {number}" in receipts[0]["Subject"]
    cosign(family, definition, live, browser, smtp_server, number)

    # --- The instructeur takes it into instruction and asks for corrections.
    instructeur = new_page(browser)
    sign_in(instructeur, live.url, *INSTRUCTEUR)
    open_dossier(instructeur, live, CANDIDATE, family.slug)
    # « Consulter avis »: every avis the déposant collected, each as it was given.
    avis_rows = instructeur.locator("#liste-avis tbody tr")
    assert avis_rows.count() == len(asked)
    for kind in asked:
        row = avis_rows.filter(has_text=kind.label).inner_text()
        assert "invité par le déposant" in row
        if kind.key == family.in_pdf:
            assert "PDF signé" in row
        else:
            assert "certifié par" in row
    if family is NORMANDIE:
        assert "Dominique Vasseur" in instructeur.inner_text("#resume #co-signature")
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
    check_accessibility(instructeur)

    # --- The déposant reads the request and its due date, answers and transmits.
    base = f"{live.url}/dossiers/{dossier_id}"
    deposant.goto(f"{base}/messagerie")
    banner = deposant.inner_text("#corrections-demandees")
    assert ASKED in banner and due_text in banner
    check_accessibility(deposant)
    deposant.fill("#f-body", ANSWER)
    deposant.get_by_role("button", name="Envoyer le message").click()
    deposant.wait_for_load_state()
    assert "Votre message est envoyé à l'ARS" in flashes(deposant)
    check_accessibility(deposant)
    deposant.get_by_role("button", name="Transmettre les corrections").click()
    deposant.wait_for_load_state()
    assert "« Transmettre les corrections » : c'est enregistré" in flashes(deposant)
    assert deposant.text_content("#etat-dossier") == "En instruction"
    assert deposant.locator("#corrections-demandees").count() == 0
    check_accessibility(deposant)
    live.flush_outbox()
    told = [m["Subject"] for m in smtp_server.to(INSTRUCTEUR[0])]
    assert f"Corrections transmises — dossier n° {number}" in " ".join(told)

    # --- Back in instruction, marked on the dashboard; the instructeur reads the answer.
    instructeur.goto(f"{live.url}/instruction/campagnes/{family.slug}")
    assert "Corrections transmises" in instructeur.text_content(f"#dossier-{dossier_id}")
    check_accessibility(instructeur)
    open_dossier(instructeur, live, CANDIDATE, family.slug)
    assert instructeur.text_content("#etat-dossier").strip() == "En instruction"
    assert ANSWER in instructeur.inner_text("#messagerie")

    # --- Accepted with a motivation, then the results published.
    instructeur.locator("#action-accepter textarea[name=motivation]").fill(MOTIVATION)
    instructeur.locator("#action-accepter").get_by_role("button", name="Accepter").click()
    instructeur.wait_for_load_state()
    assert "« Accepter » : c'est fait" in flashes(instructeur)
    check_accessibility(instructeur)
    instructeur.goto(f"{live.url}/instruction/campagnes/{family.slug}")
    check_accessibility(instructeur)
    instructeur.get_by_role("button", name="Publier les résultats").click()
    assert "Résultats publiés : 1 décision(s)." in flashes(instructeur)
    check_accessibility(instructeur)
    live.flush_outbox()

    # --- The partner's mail: the letter attached, naming the outcome, and a link to open.
    [mail] = [
        m
        for m in smtp_server.to(PARTNER)
        if m["Subject"].startswith(f"Décision ARS : dossier n° {number} accepté")
    ]
    (letter,) = list(mail.iter_attachments())
    assert letter.get_content_type() == "application/pdf"
    letter_text = pdf_text(letter.get_content())
    assert "Accepté — avis favorable" in letter_text and MOTIVATION in letter_text
    link = re.search(rf"{re.escape(live.url)}/partenaire/[\w.\-]+", plain(mail))
    assert link, plain(mail)
    partner = new_page(browser)
    partner.goto(link.group(0))
    assert partner.inner_text("h1").startswith(f"Dossier n° {number}")
    assert partner.inner_text("#decision-kind") == "Accepté — avis favorable"
    assert partner.inner_text("#decision-motivation") == MOTIVATION
    check_accessibility(partner)

    if family.starts_on is not None:
        follow_the_start(family, live, deposant, smtp_server)

    # --- The administrator's state-machine page lists the new transitions.
    administrateur = new_page(browser)
    sign_in(administrateur, live.url, *ADMINISTRATEUR)
    administrateur.goto(f"{live.url}/admin/machine")
    check_accessibility(administrateur)
    events = administrateur.inner_text("#evenements")
    for label in (
        "Transmettre les corrections",
        "Inscrire sur la liste complémentaire",
        "Retenir depuis la liste complémentaire",
        "Refuser (fin de la liste complémentaire)",
    ):
        assert label in events, label
    assert_clean_console(browser)


def cosign(  # type: ignore[no-untyped-def]
    family: Family, definition: Definition, live: LiveApp, browser, smtp_server, number: int
) -> None:
    """Normandie ASR: the CHU's Direction des Affaires Médicales, invited at the deposit,
    certifies through its link that it received the complete dossier. IdF asks nothing."""
    invitations = [m for m in smtp_server.to(PARTNER) if "Co-signature" in m["Subject"]]
    if family is not NORMANDIE:
        assert definition.cosignature is None and invitations == []
        return
    assert definition.cosignature is not None
    assert definition.cosignature.who == (
        "Direction des Affaires Médicales du Centre Hospitalier Universitaire"
    )
    (invitation,) = invitations
    assert f"dossier n° {number}" in invitation["Subject"]
    link = re.search(rf"{re.escape(live.url)}/partenaire/[\w.\-]+", plain(invitation))
    assert link, plain(invitation)
    partner = new_page(browser)
    partner.goto(link.group(0))
    assert "a reçu le dossier complet du candidat" in partner.inner_text("#co-signature")
    check_accessibility(partner)
    partner.fill("#f-signer_name", "Dominique Vasseur")
    partner.fill("#f-signer_function", "Directrice des Affaires Médicales")
    partner.click("label[for='f-certify']")
    partner.get_by_role("button", name="Co-signer le dossier").click()
    partner.wait_for_load_state()
    assert "votre co-signature est enregistrée" in flashes(partner)
    assert "Dominique Vasseur (Directrice des Affaires Médicales)" in partner.inner_text(
        "#co-signature-donnee"
    )
    check_accessibility(partner)


def follow_the_start(family: Family, live: LiveApp, deposant: Any, smtp_server: Any) -> None:
    """The maintien confirmed, then the prise de poste asked from the dossier's own start
    date only: nothing in November 2026, the request on 2 May 2027."""
    assert family.starts_on is not None
    deposant.goto(f"{live.url}/dossiers/{live.dossiers[CANDIDATE]}/decision")
    check_accessibility(deposant)
    deposant.locator("#action-confirmer_maintien").get_by_role("button").click()
    deposant.wait_for_load_state()
    assert "Le maintien du projet de recrutement est confirmé." in deposant.inner_text("main")
    assert live.dossier(CANDIDATE).state == "confirme"
    check_accessibility(deposant)

    def asked_for_prise_de_poste() -> list[Any]:
        return [
            m
            for m in smtp_server.to(family.deposant[0])
            if m["Subject"].startswith("Confirmez la prise de poste")
        ]

    for moment in (at_paris(2026, 11, 3), at_paris(2026, 11, 30), at_paris(2027, 5, 1)):
        sweep_and_send(live, moment)
        assert asked_for_prise_de_poste() == [], moment
    notices = sweep_and_send(live, at_paris(2027, 5, 2, 8))
    assert f"prise-de-poste:dossier={live.dossiers[CANDIDATE]}" in notices
    (request,) = asked_for_prise_de_poste()
    assert f"peut être confirmée depuis le {format_date(family.starts_on)}" in plain(request)
