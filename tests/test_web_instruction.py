"""The instructor's pages with Flask's test client: the dashboard, the dossier page and each
action through the machine (buttons offered only when the machine allows them, refusals in
the guards' own French words, a concurrent change refused), publication, avis, exports."""

from __future__ import annotations

import html
import io
import re
import zipfile

import openpyxl
import pytest
from sqlalchemy import select

from tests.conftest import at_paris, pdf_bytes
from workflow.administration.instructors import follow
from workflow.machine.operations import fire
from workflow.models import Attachment, AuditEvent, Avis, Dossier, OutboxMail, User
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

AVIS = [{"key": "coordonnateur", "label": "Avis du coordonnateur", "giver": "coordonnateur"}]
JURY = at_paris(2026, 5, 20, 15)


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    """The page's text as read, tags removed and entities decoded."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def reread(session) -> None:  # type: ignore[no-untyped-def]
    session.rollback()
    session.expire_all()


@pytest.fixture
def campaign(world):
    return world.campaign(avis=AVIS)


@pytest.fixture
def hospital(world):
    """A hospital with one déposant, who receives its mails."""
    organisation = world.organisation(name="CH de Gonesse")
    world.user("deposant", organisation)
    return organisation


@pytest.fixture
def instructeur(world, auth, session, campaign):
    """An instructeur who follows the campaign, signed in."""
    user = world.user("instructeur")
    follows(world, user, campaign)
    return auth.login(user)


def follows(world, user, campaign) -> None:
    """`user` follows `campaign`, as an administrateur decided."""
    admin = world.actor("administrateur")
    with transaction(world.session):
        follow(world.session, user, campaign, admin)


def dossier_in(world, campaign, hospital, state, **extra):
    return world.dossier(campaign, hospital, state, **extra)


def buttons(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r'<button type="submit" name="event" value="([a-z_]+)"', response.text)


# --- dashboard -------------------------------------------------------------------------------


def test_the_home_page_lists_the_followed_campaigns(world, client, campaign, instructeur):
    world.campaign(slug="non-suivie", title="Campagne non suivie")
    page = text_of(client.get("/instruction/"))
    assert campaign.title in page
    assert "Campagne non suivie" not in page


def test_the_dashboard_counts_filters_searches_sorts_and_leaves_brouillons_out(
    world, client, campaign, hospital, instructeur, session
):
    draft = dossier_in(world, campaign, hospital, "brouillon")
    first = dossier_in(world, campaign, hospital, "en_construction")
    second = dossier_in(world, campaign, hospital, "en_instruction")
    with transaction(session):
        second.candidate_name, second.speciality, second.priority = "Martin Paul", "Cardio", 1
    response = client.get(f"/instruction/campagnes/{campaign.slug}")
    assert response.status_code == 200
    page = response.text
    assert 'id="compte-brouillon"' not in page
    assert re.search(r'id="compte-en_construction">1<', page)
    assert f'id="dossier-{draft.id}"' not in page
    assert f'id="dossier-{first.id}"' in page and f'id="dossier-{second.id}"' in page
    row = page[page.index(f'id="dossier-{second.id}"') :]
    row = row[: row.index("</tr>")]
    for cell in (str(second.number), "CH de Gonesse", "CHU La Pyte", "Cardio", "Martin Paul"):
        assert cell in row
    assert "Complet" in row and "En instruction" in row

    def ids(**args) -> list[int]:
        found = client.get(f"/instruction/campagnes/{campaign.slug}", query_string=args).text
        return [int(i) for i in re.findall(r'<tr id="dossier-(\d+)"', found)]

    assert ids(etat="brouillon") == [first.id, second.id]  # an unknown state filters nothing
    assert ids(specialite="Cardio") == [second.id]
    assert ids(q="martin") == [second.id]
    assert ids(q=str(first.number)) == [first.id]
    assert ids(tri="candidat", ordre="desc") == [second.id, first.id]
    assert ids(tri="priorite") == [second.id, first.id]


def test_the_dashboard_pages_through_many_dossiers(world, client, campaign, hospital, instructeur):
    """Keyset pages: « Page suivante » carries the last dossier shown, « Dernière page »
    reads from the end; both work without JavaScript, as plain links."""
    for _ in range(51):
        world.dossier(campaign, hospital, "en_construction")
    url = f"/instruction/campagnes/{campaign.slug}"
    first = client.get(url).text
    assert first.count('<tr id="dossier-') == 50
    assert "51 dossier(s), 50 sur cette page." in html.unescape(text_of_html(first))
    assert 'aria-label="Pagination"' in first
    following = html.unescape(re.search(r'href="([^"]+)" rel="next"', first).group(1))
    last = html.unescape(re.search(r'href="([^"]+)">Dernière page', first).group(1))
    second = client.get(following).text
    rows = re.findall(r'<tr id="dossier-(\d+)"', second)
    assert len(rows) == 1 and 'rel="prev"' in second and 'rel="next"' not in second
    # The last page is the last 50 dossiers, ending with the one the second page shows.
    end = client.get(last).text
    assert re.findall(r'<tr id="dossier-(\d+)"', end)[-1] == rows[0]
    assert end.count('<tr id="dossier-') == 50 and 'rel="next"' not in end
    previous = html.unescape(re.search(r'href="([^"]+)" rel="prev"', second).group(1))
    assert client.get(previous).text.count('<tr id="dossier-') == 50


def text_of_html(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_several_selected_dossiers_pass_into_instruction_and_a_stale_one_says_why(
    world, client, campaign, hospital, instructeur, session
):
    ready = [dossier_in(world, campaign, hospital, "en_construction") for _ in range(2)]
    stale = dossier_in(world, campaign, hospital, "en_construction")
    page = client.get(f"/instruction/campagnes/{campaign.slug}").text
    assert f'name="dossiers" value="{ready[0].id}:{ready[0].version}"' in page
    with transaction(session):
        stale.candidate_name = "Modifié entre-temps"
    response = client.post(
        f"/instruction/campagnes/{campaign.slug}/passer-en-instruction",
        data={"dossiers": [f"{d.id}:1" for d in [*ready, stale]]},
        follow_redirects=True,
    )
    page = text_of(response)
    numbers = ", ".join(f"n° {d.number}" for d in ready)
    assert f"Passés en instruction (2) : {numbers}." in page
    assert f"Dossier n° {stale.number} non passé en instruction : Le dossier a été modifié" in page
    reread(session)
    assert [session.get(Dossier, d.id).state for d in ready] == ["en_instruction"] * 2
    assert session.get(Dossier, stale.id).state == "en_construction"


def test_nothing_selected_is_said(client, campaign, instructeur):
    response = client.post(
        f"/instruction/campagnes/{campaign.slug}/passer-en-instruction", follow_redirects=True
    )
    assert "Cochez au moins un dossier" in text_of(response)


# --- the dossier page ------------------------------------------------------------------------


def test_the_dossier_page_shows_every_volet_the_pieces_and_the_timeline(
    world, client, campaign, instructeur, session
):
    dossier, deposant = world.deposited(avis=AVIS)
    follows(world, instructeur, dossier.campaign)
    response = client.get(f"/instruction/dossiers/{dossier.id}")
    assert response.status_code == 200
    page = text_of(response)
    for text in (
        "Identification",
        "FINESS du recruteur 010000156",
        "Temps à l'hôpital 50 %",
        "N° RPPS 10003456786",
        "Date prévisionnelle d'inscription Non renseigné",
        "(obligatoire) : cv.pdf (1 Ko",
    ):
        assert text in page
    timeline = page[page.index("Historique") :]
    assert (
        f"10 mars 2026 à 12h00 {deposant.label} Déposer le dossier Brouillon En construction"
        in (timeline)
    )
    assert buttons(response) == ["passer_en_instruction"]


def test_the_buttons_follow_the_machine(world, client, campaign, hospital, instructeur):
    def offered(state, **extra):
        dossier = dossier_in(world, campaign, hospital, state, **extra)
        return buttons(client.get(f"/instruction/dossiers/{dossier.id}"))

    assert offered("en_construction") == ["passer_en_instruction"]
    assert offered("en_instruction") == [
        "demander_corrections",
        "accepter",
        "refuser",
        "classer_sans_suite",
        "inscrire_liste_complementaire",
    ]
    assert offered("accepte", published=False) == ["repasser_en_instruction"]
    # Once published, a dossier of the liste complémentaire is promoted or refused at the end.
    assert offered("liste_complementaire", published=True) == [
        "promouvoir_liste_complementaire",
        "refuser_liste_complementaire",
    ]
    assert offered("confirme", published=True) == []


def test_a_published_decision_offers_no_way_back_and_says_why(
    world, client, campaign, hospital, instructeur
):
    dossier = dossier_in(world, campaign, hospital, "refuse", published=True)
    response = client.get(f"/instruction/dossiers/{dossier.id}")
    assert buttons(response) == []
    assert "Les résultats ont été publiés le 1er juin 2026" in text_of(response)
    assert "la décision ne peut plus être reprise" in text_of(response)


def test_corrections_need_a_message_and_a_due_date_not_past(
    world, client, auth, campaign, hospital, instructeur, session
):
    dossier = dossier_in(world, campaign, hospital, "en_instruction")
    url = f"/instruction/dossiers/{dossier.id}/actions"
    with auth.at(at_paris(2026, 4, 1)):
        refused = client.post(
            url, data={"event": "demander_corrections", "version": "1", "due_date": "2026-03-01"}
        )
        assert refused.status_code == 422
        page = text_of(refused)
        assert "« Demander des corrections » n'est pas possible" in page
        assert "Un message précisant les corrections attendues est obligatoire." in page
        assert "La date limite des corrections (1er mars 2026) est déjà passée." in page
        done = client.post(
            url,
            data={
                "event": "demander_corrections",
                "version": "1",
                "message": "Joindre le CV signé.",
                "due_date": "2026-04-10",
            },
        )
        assert done.status_code == 302
        page = text_of(client.get(done.location))
    reread(session)
    corrected = session.get(Dossier, dossier.id)
    assert corrected.state == "en_construction"
    assert corrected.corrections_message == "Joindre le CV signé."
    mail = session.scalars(select(OutboxMail)).one()
    assert mail.template == "demande_corrections"
    assert "« Demander des corrections » : c'est fait, le dossier est « En construction »." in page
    # The day the instructor chose, written the one way every page and mail writes it.
    assert "Modifiable par le déposant jusqu'au 10 avril 2026 inclus (heure de Paris)" in page


def test_a_decision_needs_its_motivation_and_waits_for_publication(
    world, client, campaign, hospital, instructeur, session
):
    dossier = dossier_in(world, campaign, hospital, "en_instruction")
    url = f"/instruction/dossiers/{dossier.id}/actions"
    refused = client.post(url, data={"event": "accepter", "version": "1", "motivation": " "})
    assert refused.status_code == 422
    assert "La motivation de la décision est obligatoire." in text_of(refused)
    done = client.post(
        url, data={"event": "accepter", "version": "1", "motivation": "Projet solide."}
    )
    page = text_of(client.get(done.location))
    assert "La décision sera visible du déposant à la publication des résultats." in page
    assert "Accepté le" in page and "non publiée" in page
    reread(session)
    assert session.get(Dossier, dossier.id).decision.motivation == "Projet solide."
    assert session.scalars(select(OutboxMail)).all() == []  # grouped: no mail yet


def test_a_decision_is_taken_back_with_a_reason_before_publication(
    world, client, campaign, hospital, instructeur, session
):
    dossier = dossier_in(world, campaign, hospital, "sans_suite", published=False)
    url = f"/instruction/dossiers/{dossier.id}/actions"
    refused = client.post(url, data={"event": "repasser_en_instruction", "version": "1"})
    assert refused.status_code == 422
    assert "Le motif est obligatoire." in text_of(refused)
    done = client.post(
        url, data={"event": "repasser_en_instruction", "version": "1", "reason": "Erreur."}
    )
    assert done.status_code == 302
    reread(session)
    assert session.get(Dossier, dossier.id).state == "en_instruction"
    assert session.get(Dossier, dossier.id).decision is None


def test_a_concurrent_change_is_refused_with_the_conflict_message(
    world, client, campaign, hospital, instructeur, session
):
    dossier = dossier_in(world, campaign, hospital, "en_construction")
    page = client.get(f"/instruction/dossiers/{dossier.id}").text
    assert '<input type="hidden" name="version" value="1">' in page
    colleague = world.actor("instructeur")
    with transaction(session):
        fire(session, dossier, "passer_en_instruction", colleague)
    response = client.post(
        f"/instruction/dossiers/{dossier.id}/actions",
        data={"event": "passer_en_instruction", "version": "1"},
    )
    assert response.status_code == 409
    assert "Le dossier a été modifié entre-temps par une autre personne" in text_of(response)


def test_an_event_of_the_deposant_is_refused_to_an_instructeur(
    world, client, campaign, hospital, instructeur
):
    dossier = dossier_in(world, campaign, hospital, "accepte", published=True)
    response = client.post(
        f"/instruction/dossiers/{dossier.id}/actions",
        data={"event": "confirmer_maintien", "version": "1"},
    )
    assert response.status_code == 422
    assert "Cette action est réservée aux déposants." in text_of(response)
    unknown = client.post(f"/instruction/dossiers/{dossier.id}/actions", data={"event": "x"})
    assert unknown.status_code == 400


# --- publication -----------------------------------------------------------------------------


def test_publishing_the_results_mails_both_partners_once(
    world, client, auth, campaign, hospital, instructeur, session
):
    deposant = session.scalars(select(User).where(User.organisation_id == hospital.id)).one()
    dossiers = [dossier_in(world, campaign, hospital, "en_instruction") for _ in range(2)]
    for dossier, event in zip(dossiers, ["accepter", "refuser"], strict=True):
        client.post(
            f"/instruction/dossiers/{dossier.id}/actions",
            data={"event": event, "version": "1", "motivation": "Avis du jury."},
        )
    dashboard = text_of(client.get(f"/instruction/campagnes/{campaign.slug}"))
    assert "2 décision(s) enregistrée(s) en attente de publication" in dashboard
    with auth.at(JURY):
        first = client.post(f"/instruction/campagnes/{campaign.slug}/publier")
        page = text_of(client.get(first.location))
        again = text_of(
            client.post(f"/instruction/campagnes/{campaign.slug}/publier", follow_redirects=True)
        )
    assert "Résultats publiés : 2 décision(s)." in page
    assert "Aucune nouvelle décision à publier" in again
    reread(session)
    mails = session.scalars(
        select(OutboxMail).where(OutboxMail.template.startswith("decision_"))
    ).all()
    assert sorted((m.dossier_id, m.template, m.recipient) for m in mails) == sorted(
        (d.id, template, who)
        for d, template in zip(dossiers, ["decision_accepte", "decision_refuse"], strict=True)
        for who in (deposant.email, "dam@chu-la-pyte.fr")
    )
    assert all(session.get(Dossier, d.id).decision.published_at == JURY for d in dossiers)


def test_an_immediate_campaign_has_no_publication_button(world, client, auth, session):
    campaign = world.campaign(slug="immediate", publication="immediate")
    user = world.user("instructeur")
    follows(world, user, campaign)
    auth.login(user)
    page = client.get(f"/instruction/campagnes/{campaign.slug}").text
    assert "Publier les résultats</button>" not in page
    response = client.post(f"/instruction/campagnes/{campaign.slug}/publier")
    assert response.status_code == 302


# --- pieces and exports ----------------------------------------------------------------------


@pytest.fixture
def stored_dossier(world, app, session, campaign, hospital):
    """A dossier whose CV really is in the app's storage."""
    dossier = dossier_in(world, campaign, hospital, "en_instruction")
    storage = Storage(app.config["UPLOAD_DIR"])
    with transaction(session):
        attachment = session.scalars(select(Attachment)).one()
        attachment.storage_name = storage.save(pdf_bytes(title="CV"))
    return dossier


def test_pieces_are_downloaded_one_by_one_or_as_a_zip_named_by_number(
    client, campaign, instructeur, stored_dossier
):
    d = stored_dossier
    piece = client.get(f"/instruction/dossiers/{d.id}/pieces/cv")
    assert piece.status_code == 200 and piece.data.startswith(b"%PDF-")
    assert piece.headers["Cache-Control"] == "private, no-store"
    one = client.get(f"/instruction/dossiers/{d.id}/pieces.zip")
    assert f"dossier-{d.number}.zip" in one.headers["Content-Disposition"]
    assert zipfile.ZipFile(io.BytesIO(one.data)).namelist() == [f"{d.number}-cv-cv.pdf"]
    every = client.get(f"/instruction/campagnes/{campaign.slug}/pieces.zip")
    assert zipfile.ZipFile(io.BytesIO(every.data)).namelist() == [
        f"{d.number}/{d.number}-cv-cv.pdf"
    ]
    assert client.get(f"/instruction/dossiers/{d.id}/pieces/lettre").status_code == 404


def test_the_exports_hold_every_field(client, campaign, instructeur, stored_dossier):
    d = stored_dossier
    csv = client.get(f"/instruction/campagnes/{campaign.slug}/export.csv")
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert f"{campaign.slug}-dossiers.csv" in csv.headers["Content-Disposition"]
    text = csv.data.decode("utf-8-sig")
    assert "Candidat — N° RPPS" in text and "10003456786" in text
    xlsx = client.get(f"/instruction/campagnes/{campaign.slug}/export.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    header, row = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    assert row[header.index("N° de dossier")] == d.number
    assert row[header.index("Identification — Nom du partenaire")] == "CHU La Pyte"
    assert row[header.index("Candidat — Temps à l'hôpital")] == 50


# --- avis ------------------------------------------------------------------------------------


def test_an_avis_is_asked_consulted_and_deleted(
    world, client, app, campaign, hospital, instructeur, session
):
    dossier = dossier_in(world, campaign, hospital, "en_instruction")
    url = f"/instruction/dossiers/{dossier.id}/avis"
    bad = client.post(url, data={"avis_key": "coordonnateur", "giver_email": "pas-une-adresse"})
    assert bad.status_code == 422
    assert 'id="error-giver_email"' in bad.text
    done = client.post(
        url,
        data={
            "avis_key": "coordonnateur",
            "giver_name": "Pr Martin",
            "giver_email": "coordo@chu-rouen.fr",
        },
    )
    assert done.status_code == 302
    mail = session.scalars(select(OutboxMail)).one()
    assert mail.template == "demande_avis"
    assert mail.context["link"].startswith(f"{app.config['BASE_URL']}/avis/")
    avis = session.scalars(select(Avis)).one()
    storage = Storage(app.config["UPLOAD_DIR"])
    with transaction(session):
        avis.verdict, avis.given_at = "favorable", at_paris(2026, 4, 2)
        avis.comment = "Très bon projet."
        avis.storage_name = storage.save(pdf_bytes(title="Avis signé"))
    page = text_of(client.get(f"/instruction/dossiers/{dossier.id}"))
    assert "Avis du coordonnateur Pr Martin coordo@chu-rouen.fr" in page
    assert "Favorable le 2 avril 2026" in page and "Très bon projet." in page
    signed = client.get(f"/instruction/avis/{avis.id}/fichier")
    assert signed.data.startswith(b"%PDF-")
    deleted = client.post(f"/instruction/avis/{avis.id}/supprimer", follow_redirects=True)
    assert "L'avis est supprimé" in text_of(deleted)
    reread(session)
    assert session.scalars(select(Avis)).all() == []
    events = session.scalars(select(AuditEvent.event).order_by(AuditEvent.id)).all()
    assert events[-2:] == ["demander_avis", "supprimer_avis"]


def test_an_avis_cannot_be_asked_on_a_brouillon(world, client, campaign, hospital, instructeur):
    dossier = dossier_in(world, campaign, hospital, "brouillon")
    response = client.post(
        f"/instruction/dossiers/{dossier.id}/avis",
        data={"avis_key": "coordonnateur", "giver_email": "a@b.fr"},
    )
    assert response.status_code == 404  # a brouillon does not exist for the ARS


# --- bounces ---------------------------------------------------------------------------------


def test_the_mails_that_bounced_are_shown_to_the_instructors(
    world, client, campaign, hospital, instructeur, session
):
    dossier = dossier_in(world, campaign, hospital, "en_instruction")
    with transaction(session):
        session.add(
            OutboxMail(
                template="passage_en_instruction",
                recipient="inconnu@chu.fr",
                dossier_id=dossier.id,
                campaign_id=campaign.id,
                context={},
                message_id="<rebond@pp>",
                status="failed",
                attempts=1,
                next_attempt_at=at_paris(2026, 4, 1),
                created_at=at_paris(2026, 4, 1),
                last_error="550 5.1.1 Mailbox unavailable",
            )
        )
    page = text_of(client.get(f"/instruction/campagnes/{campaign.slug}"))
    section = page[page.index("Mails non remis") :]
    assert "inconnu@chu.fr" in section and "550 5.1.1 Mailbox unavailable" in section
    assert f"n° {dossier.number}" in section  # the subject names the dossier


def test_the_bulk_form_goes_back_to_the_page_it_came_from_on_this_site_only(
    client, campaign, instructeur
):
    url = f"/instruction/campagnes/{campaign.slug}/passer-en-instruction"
    same = client.post(url, data={"retour": f"/instruction/campagnes/{campaign.slug}?page=2"})
    assert same.location == f"/instruction/campagnes/{campaign.slug}?page=2"
    away = client.post(url, data={"retour": "https://example.com/"})
    assert away.location == f"/instruction/campagnes/{campaign.slug}"


@pytest.mark.parametrize(
    "args",
    [
        {"apres": "-1"},
        {"avant": "٣"},
        {"apres": "99999999999999999999999"},
        {"fin": "oui", "apres": "1"},
        {"q": '" OR "a'},
        {"q": "NEAR(a b) *"},
        {"q": "a\x00b"},
        {"q": "x" * 5000},
        {"tri": "candidat", "apres": "1", "ordre": "desc"},
    ],
)
def test_hostile_page_and_search_arguments_show_a_page(
    client, campaign, hospital, instructeur, world, args
):
    world.dossier(campaign, hospital, "en_construction")
    response = client.get(f"/instruction/campagnes/{campaign.slug}", query_string=args)
    assert response.status_code == 200
    assert "Dossiers déposés" in response.text
