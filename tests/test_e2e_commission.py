"""End to end in a real browser (Debian's headless Chromium, driven by Playwright): a whole
selection commission on the IdF ASP demo campaign, whose demo copy funds two posts in
Dermatologie et vénéréologie and one in Médecine cardiovasculaire (« Les résultats sont
consultables après le jury de sélection », idf-asp-vague6-mode-operatoire.txt).

Five dossiers are en instruction, three in one group and two in the other. The instructeur
opens a session of the jury, invites a member without an account, who scores the five
dossiers through the link of the mail she received; the instructeur scores them too, records
the jury's opinion and rank of each, has the decisions proposed from the quotas (2 and 1),
applies them and publishes the results: the laureates receive the decision, the next ones
the liste complémentaire's mail. A laureate of Dermatologie gives the post up (« Renoncer au
poste »); the scheduler's sweep promotes the first of that group's waiting list, whose
déposant, partner and ARS contact are mailed — once, however often the sweep runs."""

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
    new_page,
    pdf_bytes,
    served,
)
from tests.test_e2e_instruction import DEPOSANT, INSTRUCTEUR, SLUG, flashes, sign_in
from tests.test_web_demo_campaigns import volet_form
from web.deposant.volet_form import parse
from workflow.administration.instructors import follow
from workflow.campaigns.store import current_version, definition_of
from workflow.commission.waitlist import promote_from_waiting_lists
from workflow.machine.editing import attach_piece, create_dossier, save_confirmation, save_volet
from workflow.machine.operations import fire
from workflow.models import Campaign, Organisation, User
from workflow.people.actors import Actor
from workflow.people.passwords import hash_password
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

pytestmark = needs_chromium

INVITEE = "pr.durand@chu-coordination.example.fr"
PARTNER = "direction@partenaire.example.fr"  # the partner's address the demo values give
# The seed's « ars-idf-asp@ars.sante.fr », at example.org in the demo copy (which never mails
# a real ARS address: workflow/campaigns/loader.py).
CONTACT_ARS = "ars-idf-asp@example.org"
DERMATOLOGIE = "Dermatologie et vénéréologie"
CARDIOLOGIE = "Médecine cardiovasculaire"
# (candidate, group, the jury's rank in its group, the member's and the instructeur's marks)
CANDIDATES = [
    ("Arnaud", DERMATOLOGIE, 1, (16, 15), (17, 14)),
    ("Bernard", DERMATOLOGIE, 2, (14, 13), (15, 12)),
    ("Collin", DERMATOLOGIE, 3, (12, 11), (11, 12)),
    ("Dumas", CARDIOLOGIE, 1, (18, 16), (17, 17)),
    ("Estève", CARDIOLOGIE, 2, (13, 12), (12, 14)),
]


def deposit_dossiers(session: Session, storage: Storage) -> dict[str, int]:
    """A hospital's five dossiers on the demo campaign, deposited and passed into instruction
    through the workflow's own functions (as their pages would)."""
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
    admin = Actor("administrateur", None, None, "administrateur (test)")
    definition = definition_of(session, current_version(session, campaign).id)
    ids = {}
    for candidate, speciality, _, _, _ in CANDIDATES:
        with transaction(session):
            dossier = create_dossier(session, campaign, deposant)
            for volet in definition.volets:
                data = volet_form(definition, volet)
                if volet.key == "identification":
                    data["recruteur_specialite"] = speciality
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
            fire(session, dossier, "passer_en_instruction", admin)
        ids[candidate] = dossier.id
    return ids


@pytest.fixture
def live_app(tmp_path: Path, smtp_server) -> Iterator[LiveApp]:  # type: ignore[no-untyped-def]
    database, engine, sessions = database_with_campaigns(tmp_path)
    uploads = tmp_path / "uploads"
    with sessions() as session:
        ids = deposit_dossiers(session, Storage(uploads))
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
        admin = Actor("administrateur", None, None, "administrateur (test)")
        with transaction(session):
            follow(session, instructeur, campaign, admin)
    with served(database, engine, sessions, smtp_server.url, uploads, ids) as live:
        live.flush_outbox()  # accusés de réception, passages en instruction
        yield live


@pytest.fixture
def browser(live_app: LiveApp):  # type: ignore[no-untyped-def]
    with chromium() as browser:
        yield browser


def score(page, dossier_id: int, marks: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    form = page.locator(f"#notes-{dossier_id}")
    form.locator("input[name=note-projet]").fill(str(marks[0]))
    form.locator("input[name=note-candidat]").fill(str(marks[1]))
    form.get_by_role("button", name="Enregistrer mes notes").click()
    page.wait_for_load_state()
    assert "Vos notes sont enregistrées." in flashes(page)
    check_accessibility(page)


def subjects_to(smtp_server, address: str, pattern: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["Subject"] for m in smtp_server.to(address) if re.search(pattern, m["Subject"])]


def test_a_jury_ranks_scores_decides_and_its_waiting_list_fills_itself(
    live_app: LiveApp, browser, smtp_server
):
    live = live_app
    number = {c: live.dossier(c).number for c, *_ in CANDIDATES}
    instructeur = new_page(browser)

    # --- From the campaign's dashboard, the instructeur opens a session of the jury.
    sign_in(instructeur, live.url, *INSTRUCTEUR)
    instructeur.goto(f"{live.url}/instruction/campagnes/{SLUG}")
    check_accessibility(instructeur)
    instructeur.get_by_role("link", name=re.compile("Séances, classement par groupe")).click()
    assert "Médecine cardiovasculaire : 1" in instructeur.inner_text("#postes-finances")
    assert "Dermatologie et vénéréologie : 2" in instructeur.inner_text("#postes-finances")
    check_accessibility(instructeur)
    instructeur.fill("#f-title", "Jury de sélection")
    instructeur.get_by_role("button", name="Créer la séance").click()
    instructeur.wait_for_load_state()
    assert "Séance créée" in flashes(instructeur)
    groups = instructeur.locator("section.groupe")
    assert groups.count() == 2
    assert "Dermatologie et vénéréologie — 2 poste(s) financé(s)" in groups.nth(0).inner_text()
    assert "Médecine cardiovasculaire — 1 poste(s) financé(s)" in groups.nth(1).inner_text()
    session_url = instructeur.url
    check_accessibility(instructeur)

    # --- A member without an account is invited; she scores through her mailed link.
    form = instructeur.locator("#invitation-membre")
    form.locator("#f-name").fill("Pr Hélène Durand")
    form.locator("#f-quality").fill("coordonnatrice du DES")
    form.locator("#f-email").fill(INVITEE)
    form.get_by_role("button", name="Inviter par lien personnel").click()
    assert "Membre ajouté à la séance." in flashes(instructeur)
    check_accessibility(instructeur)
    live.flush_outbox()
    (invitation,) = smtp_server.to(INVITEE)
    assert invitation["Subject"].startswith("Invitation à la commission — Jury de sélection")
    text = invitation.get_body(("plain",)).get_content()
    link = re.search(r"(http://\S+/commission/\S+)", text).group(1)
    member = new_page(browser)
    member.goto(link)
    assert "Pr Hélène Durand (coordonnatrice du DES)" in member.inner_text("main")
    check_accessibility(member)
    for candidate, _, _, marks, _ in CANDIDATES:
        score(member, live.dossiers[candidate], marks)
    # A forged link opens nothing.
    member.goto(link[:-3])
    assert "Ce lien ne peut pas être utilisé" in member.inner_text("h1")
    check_accessibility(member)

    # --- The instructeur scores too, and records the jury's opinion and rank of each.
    instructeur.goto(session_url)
    check_accessibility(instructeur)
    for candidate, _, rank, _, marks in CANDIDATES:
        dossier_id = live.dossiers[candidate]
        score(instructeur, dossier_id, marks)
        form = instructeur.locator(f"#avis-{dossier_id}")
        form.locator("select[name=opinion]").select_option("favorable")
        form.locator("textarea[name=reason]").fill(f"Projet classé {rank} par le jury.")
        form.locator("input[name=rank]").fill(str(rank))
        form.get_by_role("button", name="Enregistrer l'avis").click()
        instructeur.wait_for_load_state()
        assert "Avis de la commission enregistré." in flashes(instructeur)
        check_accessibility(instructeur)
    # The mean of the two members' weighted marks (coefficients 2 and 1), and their spread:
    # Arnaud (2×16 + 15) / 3 = 15.67 and (2×17 + 14) / 3 = 16.00: mean 15.83, spread 0.17.
    arnaud = instructeur.inner_text(f"#d-{live.dossiers['Arnaud']} .moyenne")
    assert arnaud.startswith("15.83") and "écart-type 0.17" in arnaud and "2 note(s)" in arnaud

    # --- Decisions proposed from the quotas 2 and 1, then applied in one go.
    instructeur.get_by_role("link", name="Propositions de décision").click()
    instructeur.wait_for_load_state()
    check_accessibility(instructeur)
    instructeur.get_by_role("button", name="Proposer les décisions d'après les rangs").click()
    assert "Décisions proposées" in flashes(instructeur)
    check_accessibility(instructeur)

    def proposal(candidate: str) -> str:
        return instructeur.inner_text(f"#p-{live.dossiers[candidate]} .proposition")

    assert [proposal(c) for c, *_ in CANDIDATES] == [
        "Accepté",
        "Accepté",
        "Liste complémentaire",
        "Accepté",
        "Liste complémentaire",
    ]
    instructeur.get_by_role("button", name="Appliquer les décisions").click()
    instructeur.wait_for_load_state()
    assert "Décisions appliquées : 3 accepté(s), 2 sur liste complémentaire" in flashes(instructeur)
    check_accessibility(instructeur)

    # --- The grouped publication sends each outcome its mail.
    instructeur.get_by_role("button", name="Publier les résultats").click()
    assert "Résultats publiés : 5 décision(s)." in flashes(instructeur)
    check_accessibility(instructeur)
    live.flush_outbox()
    decided = subjects_to(smtp_server, DEPOSANT[0], r"^Décision ARS")
    waiting = subjects_to(smtp_server, DEPOSANT[0], r"^Liste complémentaire")
    assert {re.search(r"n° (\d+)", s).group(1) for s in decided} == {
        str(number["Arnaud"]),
        str(number["Bernard"]),
        str(number["Dumas"]),
    }
    assert len(decided) == 3
    assert {re.search(r"n° (\d+)", s).group(1) for s in waiting} == {
        str(number["Collin"]),
        str(number["Estève"]),
    }

    # --- The minutes of the session.
    instructeur.goto(session_url)
    check_accessibility(instructeur)
    instructeur.get_by_role("link", name="Procès-verbal").click()
    present = instructeur.inner_text("#membres-presents")
    check_accessibility(instructeur)
    assert "Claire Martin (instructeur ARS)" in present
    assert "Pr Hélène Durand (coordonnatrice du DES)" in present
    assert "Liste complémentaire" in instructeur.inner_text("main")

    # --- A laureate of Dermatologie gives the post up.
    deposant = new_page(browser)
    sign_in(deposant, live.url, *DEPOSANT)
    deposant.goto(f"{live.url}/dossiers/{live.dossiers['Arnaud']}/decision")
    check_accessibility(deposant)
    action = deposant.locator("#action-desister")
    action.locator("textarea[name=reason]").fill("Le candidat a choisi un poste à l'étranger.")
    action.get_by_role("button", name="Renoncer au poste").click()
    deposant.wait_for_load_state()
    assert live.dossier("Arnaud").state == "desiste"
    check_accessibility(deposant)

    # --- The scheduler's sweep promotes the first of Dermatologie's waiting list, once.
    before = len(smtp_server.messages)
    promote_from_waiting_lists(live.sessions, clock.now())
    promote_from_waiting_lists(live.sessions, clock.now())
    live.flush_outbox()
    promote_from_waiting_lists(live.sessions, clock.now())
    live.flush_outbox()
    assert live.dossier("Collin").state == "accepte"
    assert live.dossier("Estève").state == "liste_complementaire"
    pattern = rf"^Dossier retenu depuis la liste complémentaire — dossier n° {number['Collin']} "
    for address in (DEPOSANT[0], PARTNER, CONTACT_ARS):
        assert len(subjects_to(smtp_server, address, pattern)) == 1, address
    new = smtp_server.messages[before:]
    assert not any("Estève" in m.get_body(("plain",)).get_content() for m in new)

    # --- The promoted déposant reads its decision.
    deposant.goto(f"{live.url}/dossiers/{live.dossiers['Collin']}/decision")
    assert deposant.inner_text("#decision-kind").startswith("Accepté")
    assert f"Poste libéré par le dossier n° {number['Arnaud']}" in deposant.inner_text(
        "#decision-motivation"
    )
    check_accessibility(deposant)

    assert_clean_console(browser)
