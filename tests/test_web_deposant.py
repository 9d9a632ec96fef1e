"""The déposant's pages, with Flask's test client: who may see what (another organisation's
dossier is a 404 on every route), and each guard's own words on the page."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import COMPLETE_VALUES, at_paris, definition, pdf_bytes
from workflow.models import Attachment, AuditEvent, Dossier, OutboxMail
from workflow.plumbing.db import transaction

DURING = at_paris(2026, 2, 10)
AFTER = at_paris(2026, 3, 21, 9)
IN_WINDOW = at_paris(2026, 10, 15)
AFTER_START = at_paris(2026, 11, 5)


def reread(session) -> None:  # type: ignore[no-untyped-def]
    """Reads what the app committed in its own session: ends the test session's read
    transaction (its snapshot) and forgets the objects it loaded."""
    session.rollback()
    session.expire_all()


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    """The page's text as read, tags removed and entities decoded."""
    import html

    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


# --- access ----------------------------------------------------------------------------------

DOSSIER_ROUTES = [
    ("get", "/dossiers/{id}"),
    ("get", "/dossiers/{id}/volets/identification"),
    ("post", "/dossiers/{id}/volets/identification"),
    ("get", "/dossiers/{id}/pieces"),
    ("post", "/dossiers/{id}/pieces/cv"),
    ("get", "/dossiers/{id}/pieces/cv/fichier"),
    ("post", "/dossiers/{id}/pieces/cv/supprimer"),
    ("get", "/dossiers/{id}/confirmer"),
    ("post", "/dossiers/{id}/confirmer"),
    ("get", "/dossiers/{id}/decision"),
    ("get", "/dossiers/{id}/decision/lettre.pdf"),
    ("post", "/dossiers/{id}/actions/confirmer_maintien"),
    ("get", "/dossiers/{id}/supprimer"),
    ("post", "/dossiers/{id}/supprimer"),
    ("post", "/campagnes/{slug}/recapitulatif/{id}"),
    ("get", "/dossiers/{id}/messagerie"),
    ("post", "/dossiers/{id}/messagerie"),
    ("get", "/dossiers/{id}/messagerie/1/fichier"),
    ("post", "/dossiers/{id}/actions/transmettre_corrections"),
    # « Avis et signatures » (web/deposant/avis_views.py).
    ("get", "/dossiers/{id}/avis"),
    ("post", "/dossiers/{id}/avis/coordonnateur/inviter"),
    ("post", "/dossiers/{id}/avis/coordonnateur/relancer"),
    ("get", "/dossiers/{id}/avis/coordonnateur/fichier"),
]


def test_every_route_of_a_dossier_is_in_the_access_test(app):
    """A route of the déposant's blueprint that takes a dossier must be in DOSSIER_ROUTES."""
    adapter = app.url_map.bind("localhost")
    covered = {
        adapter.match(path.format(id=1, slug="c"), method=method.upper())[0]
        for method, path in DOSSIER_ROUTES
    }
    routes = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("deposant.", "deposant_avis."))
        and "dossier_id" in rule.arguments
    }
    assert routes <= covered


@pytest.mark.parametrize(("method", "path"), DOSSIER_ROUTES)
def test_another_organisations_dossier_is_not_found_on_every_route(
    at, method, path, world, client, campaign, signed_in, session
):
    other = world.organisation()
    theirs = world.dossier(campaign, other, "brouillon")
    with at(DURING):
        response = getattr(client, method)(
            path.format(id=theirs.id, slug=campaign.slug),
            data={"action": "deposer", "direction": "haut", "nom": "x"},
        )
    assert response.status_code == 404
    assert "Page introuvable" in response.text
    reread(session)
    assert session.get(Dossier, theirs.id).state == "brouillon"


def test_the_recap_and_the_campaign_page_list_only_the_organisations_dossiers(
    at, world, client, campaign, hospital, signed_in
):
    mine = world.dossier(campaign, hospital, "en_construction")
    theirs = world.dossier(campaign, world.organisation(), "en_construction")
    with at(DURING):
        for path in (f"/campagnes/{campaign.slug}/recapitulatif", f"/campagnes/{campaign.slug}"):
            page = client.get(path).text
            assert f'id="dossier-{mine.id}"' in page
            assert f'id="dossier-{theirs.id}"' not in page


def test_pages_of_a_dossier_ask_to_sign_in_first(world, client, campaign, hospital):
    dossier = world.dossier(campaign, hospital)
    response = client.get(f"/dossiers/{dossier.id}/confirmer")
    assert response.status_code == 302
    assert "/connexion?next=" in response.location


def test_an_instructor_is_not_a_deposant(world, client, auth, campaign, hospital):
    dossier = world.dossier(campaign, hospital)
    auth.login(world.user("instructeur"))
    assert client.get(f"/dossiers/{dossier.id}/confirmer").status_code == 403


# --- the campaign page -----------------------------------------------------------------------


def test_the_campaign_page_states_the_deadline_the_time_left_and_the_rules(
    at, client, campaign, signed_in
):
    with at(at_paris(2026, 3, 8, 10)):
        page = text_of(client.get(f"/campagnes/{campaign.slug}"))
    assert "Dépôt des dossiers jusqu'au 20 mars 2026 inclus (heure de Paris)" in page
    assert "Il reste 12 jours." in page
    assert "Tout dossier incomplet et/ou déposé hors délai ne sera pas traité." in page
    assert "Nouveau dossier de candidature" in page


def test_the_last_hours_are_counted_in_hours(at, client, campaign, signed_in):
    with at(at_paris(2026, 3, 20, 18, 30)):
        page = text_of(client.get(f"/campagnes/{campaign.slug}"))
    assert "Il reste 5 h 30 min." in page


def test_after_the_deadline_no_dossier_can_be_created_and_the_page_says_why(
    at, client, campaign, signed_in
):
    with at(AFTER):
        page = text_of(client.get(f"/campagnes/{campaign.slug}"))
    assert "Nouveau dossier de candidature" not in page
    assert (
        "La date limite de dépôt est passée : les dossiers étaient acceptés jusqu'au "
        "20 mars 2026 inclus." in page
    )


def test_a_university_is_told_the_campaign_is_for_hospitals(at, world, client, auth, campaign):
    from workflow.models import Organisation

    with transaction(world.session):
        university = Organisation(type="universite", name="Université", siret="77220148900022")
        world.session.add(university)
    auth.login(world.user("deposant", university))
    with at(DURING):
        page = text_of(client.get(f"/campagnes/{campaign.slug}"))
    assert "Cette campagne est réservée au Bureau des Affaires Médicales" in page
    assert "Nouveau dossier de candidature" not in page


def test_a_new_dossier_opens_on_the_first_volet(at, client, campaign, signed_in, session):
    with at(DURING):
        response = client.post(f"/campagnes/{campaign.slug}/dossiers")
    dossier = session.scalars(select(Dossier)).one()
    assert response.location == f"/dossiers/{dossier.id}/volets/identification"
    assert dossier.created_by_id == signed_in.id


def test_model_documents_are_downloaded_from_the_campaigns_folder(world, client):
    model = "models/idf-mgvh-2020/lettre-engagement-type-ville-hopital.docx"
    campaign = world.campaign(
        pieces=[
            {"key": "lettre", "label": "Lettre d'engagement", "model": model},
            {"key": "fuite", "label": "Hors du dossier", "model": "../pyproject.toml"},
        ]
    )
    response = client.get(f"/campagnes/{campaign.slug}/modeles/lettre")
    assert response.status_code == 200
    assert response.data[:2] == b"PK"  # a .docx
    assert "attachment" in response.headers["Content-Disposition"]
    assert client.get(f"/campagnes/{campaign.slug}/modeles/fuite").status_code == 404


# --- volets ----------------------------------------------------------------------------------


def identification(**overrides: str) -> dict[str, str]:
    return {**COMPLETE_VALUES["identification"], **overrides}


def test_the_other_tabs_open_once_the_first_volet_is_saved(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, complete=False)
    with at(DURING):
        response = client.get(f"/dossiers/{dossier.id}/volets/candidat")
        assert response.location == f"/dossiers/{dossier.id}/volets/identification"
        page = client.get(response.location).text
        assert "Complétez et enregistrez d'abord le volet « Identification »" in page
        assert 'class="locked"' in page
        saved = client.post(f"/dossiers/{dossier.id}/volets/identification", data=identification())
        assert saved.status_code == 302
        assert client.get(f"/dossiers/{dossier.id}/volets/candidat").status_code == 200


def test_invalid_input_stays_on_screen_next_to_its_field_and_nothing_saved_is_lost(
    at, world, client, campaign, hospital, signed_in, session
):
    dossier = world.dossier(campaign, hospital, complete=False)
    with at(DURING):
        client.post(f"/dossiers/{dossier.id}/volets/identification", data=identification())
        response = client.post(
            f"/dossiers/{dossier.id}/volets/identification",
            data=identification(recruteur_finess="010000157", partenaire_nom="CHU Modifié"),
        )
    assert response.status_code == 422
    page = response.text
    assert 'value="010000157"' in page and 'value="CHU Modifié"' in page
    assert 'aria-describedby="error-recruteur_finess"' in page
    assert re.search(
        r'id="error-recruteur_finess">La clé de contrôle du n° FINESS est invalide', page
    )
    assert '<a href="#f-recruteur_finess">FINESS du recruteur</a>' in page
    reread(session)
    assert session.get(Dossier, dossier.id).values["identification"]["partenaire_nom"] == (
        "CHU La Pyte"
    )


def test_required_fields_carry_the_red_asterisk_and_their_help(
    at, world, client, signed_in, hospital
):
    campaign = world.campaign(
        volets=[
            {
                "key": "identification",
                "title": "Identification",
                "fields": [
                    {
                        "key": "finess",
                        "label": "N° Finess",
                        "type": "finess",
                        "required": True,
                        "help": "Ce n° est composé de 9 chiffres.",
                    },
                    {"key": "note", "label": "Remarque", "type": "text"},
                ],
            }
        ],
        rules=[],
        summary={},
    )
    dossier = world.dossier(campaign, hospital, complete=False)
    with at(DURING):
        page = client.get(f"/dossiers/{dossier.id}/volets/identification").text
    finess = page[page.index('for="f-finess"') : page.index('id="f-finess"')]
    note = page[page.index('for="f-note"') : page.index('id="f-note"')]
    assert 'class="required"' in finess and "(obligatoire)" in finess
    assert 'id="hint-finess">Ce n° est composé de 9 chiffres.' in finess
    assert 'class="required"' not in note


def test_a_deposited_dossier_can_be_corrected_but_must_stay_complete(
    at, world, client, campaign, hospital, signed_in, session
):
    dossier = world.dossier(campaign, hospital, "en_construction")
    with at(DURING):
        fixed = client.post(
            f"/dossiers/{dossier.id}/volets/identification",
            data=identification(partenaire_nom="CHU La Pitié"),
        )
        emptied = client.post(
            f"/dossiers/{dossier.id}/volets/identification",
            data=identification(partenaire_nom=""),
        )
    assert fixed.status_code == 302
    assert emptied.status_code == 422
    assert "Un dossier déposé doit rester complet" in text_of(emptied)
    reread(session)
    assert session.get(Dossier, dossier.id).partner_name == "CHU La Pitié"


def test_after_the_deadline_the_volets_are_read_only_and_saving_says_why(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, "en_construction")
    with at(AFTER):
        page = client.get(f"/dossiers/{dossier.id}/volets/identification")
        refused = client.post(
            f"/dossiers/{dossier.id}/volets/identification", data=identification()
        )
    assert "Le dossier ne peut plus être modifié : La date limite de dépôt est passée" in (
        text_of(page)
    )
    assert ">Enregistrer</button>" not in page.text and "disabled" in page.text
    assert refused.status_code == 422
    assert "La date limite de dépôt est passée" in text_of(refused)


def test_a_changed_dossier_is_not_overwritten_without_notice(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, complete=True)
    with at(DURING):
        response = client.post(
            f"/dossiers/{dossier.id}/volets/identification",
            data={**identification(partenaire_nom="Mon texte"), "version": "0"},
        )
    assert response.status_code == 409
    assert "modifié entre-temps par une autre personne" in text_of(response)
    assert 'value="Mon texte"' in response.text  # what was typed is still there


TABLE_VOLETS = [
    {
        "key": "identification",
        "title": "Identification",
        "fields": [{"key": "nom", "label": "Nom", "type": "text", "required": True}],
    },
    {
        "key": "formation",
        "title": "Formation",
        "fields": [
            {
                "key": "stages",
                "label": "Stages réalisés durant l'internat",
                "type": "table",
                "required": True,
                "columns": [
                    {"key": "etablissement", "label": "Etablissements", "required": True},
                    {"key": "valide", "label": "Stages validés O/N", "type": "yes_no"},
                ],
            },
            {"key": "these", "label": "THESE", "type": "yes_no", "required": True},
            {
                "key": "date_soutenance",
                "label": "Date de soutenance",
                "type": "date",
                "visible_if": {"field": "formation.these", "equals": True},
            },
        ],
    },
]


@pytest.fixture
def table_dossier(world, hospital):
    campaign = world.campaign(volets=TABLE_VOLETS, rules=[], summary={})
    dossier = world.dossier(campaign, hospital, complete=False)
    with transaction(world.session):
        dossier.values = {"identification": {"nom": "Dupont"}}
    return dossier


class _SubmitButtons(HTMLParser):
    """The submit buttons of the page's forms, in document order (HTML's implicit submission
    — Enter in a text field — presses the first one of the form)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[list[dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append([])
        elif tag == "button" and found.get("type", "submit") == "submit" and self.forms:
            self.forms[-1].append(found)


def test_enter_in_a_text_field_saves_the_volet_and_never_adds_or_removes_a_row(
    at, client, signed_in, table_dossier, session
):
    url = f"/dossiers/{table_dossier.id}/volets/formation"
    with at(DURING):
        page = client.get(url)
    buttons = _SubmitButtons()
    buttons.feed(page.text)
    volet_form = next(form for form in buttons.forms if any("data-add-row" in b for b in form))
    default = volet_form[0]
    assert (default.get("name"), default.get("value")) == ("enregistrer", "1")
    assert default.get("tabindex") == "-1" and default.get("aria-hidden") == "true"
    # What the browser posts on Enter: the fields and the default button, no « ligne ».
    with at(DURING):
        pressed = client.post(
            url,
            data={
                "stages.rows": "1",
                "stages.0.etablissement": "CHU de Rouen",
                "stages.0.valide": "oui",
                "these": "non",
                "enregistrer": "1",
                "version": str(table_dossier.version),
            },
        )
    assert pressed.status_code == 302
    reread(session)
    stored = session.get(Dossier, table_dossier.id).values["formation"]["stages"]
    assert stored == [{"etablissement": "CHU de Rouen", "valide": True}]


def test_repeated_rows_are_added_and_removed_without_javascript(
    at, client, signed_in, table_dossier, session
):
    url = f"/dossiers/{table_dossier.id}/volets/formation"
    rows = {
        "stages.rows": "1",
        "stages.0.etablissement": "CHU de Rouen",
        "stages.0.valide": "oui",
        "these": "non",
    }
    with at(DURING):
        added = client.post(url, data={**rows, "ligne": "ajouter:stages"})
        assert added.status_code == 200
        assert 'name="stages.1.etablissement"' in added.text
        assert 'value="CHU de Rouen"' in added.text
        assert "elle ne sera gardée qu'après « Enregistrer »" in text_of(added)
        two = {**rows, "stages.rows": "2", "stages.1.etablissement": "CH du Havre"}
        removed = client.post(url, data={**two, "ligne": "supprimer:stages:0"})
        assert 'value="CH du Havre"' in removed.text and "CHU de Rouen" not in removed.text
        reread(session)
        assert "formation" not in session.get(Dossier, table_dossier.id).values
        assert client.post(url, data=two).status_code == 302
    reread(session)
    stored = session.get(Dossier, table_dossier.id).values["formation"]["stages"]
    assert stored == [
        {"etablissement": "CHU de Rouen", "valide": True},
        {"etablissement": "CH du Havre", "valide": None},
    ]


def test_a_conditional_field_is_shown_with_its_condition_for_browsers_without_javascript(
    at, client, signed_in, table_dossier
):
    with at(DURING):
        page = text_of(client.get(f"/dossiers/{table_dossier.id}/volets/formation"))
    assert "À renseigner seulement si « THESE » : Oui." in page


# --- pieces ----------------------------------------------------------------------------------


def upload(client, dossier, data: bytes, name: str = "cv.pdf", piece: str = "cv"):  # type: ignore[no-untyped-def]
    import io

    return client.post(
        f"/dossiers/{dossier.id}/pieces/{piece}",
        data={"fichier": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


@pytest.fixture
def fresh(world, campaign, hospital):
    """A brouillon with its identification saved and no piece yet."""
    dossier = world.dossier(campaign, hospital, complete=False)
    with transaction(world.session):
        dossier.values = {"identification": COMPLETE_VALUES["identification"]}
    return dossier


def test_a_real_pdf_is_stored_outside_the_web_root_and_served_to_the_owner(
    at, app, client, signed_in, fresh, session
):
    data = pdf_bytes(title="CV")
    with at(DURING):
        response = upload(client, fresh, data, name="CV Lambourde.pdf")
    assert response.status_code == 302
    attachment = session.scalars(select(Attachment)).one()
    assert attachment.filename == "CV Lambourde.pdf" and attachment.size == len(data)
    stored = Path(app.config["UPLOAD_DIR"])
    assert Path(app.root_path) not in stored.parents  # not under web/ (static files)
    files = [p for p in stored.rglob("*") if p.is_file()]
    assert [f.name for f in files] == [attachment.storage_name]  # a random name
    assert "CV" not in attachment.storage_name
    with at(DURING):
        download = client.get(f"/dossiers/{fresh.id}/pieces/cv/fichier")
    assert download.data == data
    assert download.mimetype == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "private, no-store"


def test_with_an_s3_bucket_a_piece_goes_to_the_bucket_and_comes_back(
    at, app, client, signed_in, fresh, session, s3_url
):
    from workflow.plumbing.storage_url import open_storage

    app.config["STORAGE_URL"] = s3_url
    app.extensions.pop("storage", None)
    data = pdf_bytes(title="CV")
    with at(DURING):
        assert upload(client, fresh, data).status_code == 302
    attachment = session.scalars(select(Attachment)).one()
    assert list(open_storage(s3_url).names()) == [attachment.storage_name]
    assert not Path(app.config["UPLOAD_DIR"]).exists()  # nothing on this host's disk
    with at(DURING):
        download = client.get(f"/dossiers/{fresh.id}/pieces/cv/fichier")
    assert download.data == data and download.mimetype == "application/pdf"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Ceci est un fichier texte.\n", "n'est pas un PDF"),
        (pdf_bytes(password="secret"), "est protégé par un mot de passe"),
        (pdf_bytes()[:200], "est endommagé ou illisible"),
    ],
    ids=["text-renamed-pdf", "encrypted", "corrupt"],
)
def test_only_real_pdfs_are_accepted(at, data, message, client, signed_in, fresh, session):
    with at(DURING):
        response = upload(client, fresh, data)
    assert response.status_code == 422
    assert message in text_of(response)
    assert 'id="error-fichier-cv"' in response.text
    assert 'aria-describedby="hint-fichier-cv error-fichier-cv"' in response.text
    assert session.scalars(select(Attachment)).all() == []


def test_the_size_limit_is_stated_and_a_larger_file_gets_a_french_page(
    at, app, client, signed_in, fresh
):
    with at(DURING):
        page = text_of(client.get(f"/dossiers/{fresh.id}/pieces"))
        assert "Taille maximale : 10 Mo." in page
        app.config["MAX_CONTENT_LENGTH"] = 2048
        response = upload(client, fresh, b"%PDF-" + b"0" * 4096)
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.text
    assert "taille maximale de 10 Mo" in text_of(response)


def test_a_piece_is_replaced_then_deleted_and_its_files_go_with_it(
    at, app, client, signed_in, fresh, session
):
    from workflow.plumbing.storage import Storage

    storage = Storage(app.config["UPLOAD_DIR"])
    with at(DURING):
        upload(client, fresh, pdf_bytes(title="v1"))
        first = session.scalars(select(Attachment)).one().storage_name
        upload(client, fresh, pdf_bytes(title="v2"), name="cv-v2.pdf")
        reread(session)
        second = session.scalars(select(Attachment)).one()
        assert second.filename == "cv-v2.pdf"
        second_name = second.storage_name
        assert not storage.path(first).exists() and storage.path(second_name).exists()
        response = client.post(f"/dossiers/{fresh.id}/pieces/cv/supprimer")
    assert response.status_code == 302
    reread(session)
    assert session.scalars(select(Attachment)).all() == []
    assert not storage.path(second_name).exists()
    events = session.scalars(
        select(AuditEvent.event).where(AuditEvent.dossier_id == fresh.id).order_by(AuditEvent.id)
    )
    assert list(events) == ["joindre", "joindre", "retirer"]


def test_a_required_piece_of_a_deposited_dossier_can_be_replaced_not_deleted(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, "en_construction")
    with at(DURING):
        response = client.post(f"/dossiers/{dossier.id}/pieces/cv/supprimer")
    assert response.status_code == 422
    assert "Remplacez le fichier plutôt que de le supprimer" in text_of(response)


def test_pieces_wait_for_the_first_volet(at, world, client, campaign, hospital, signed_in):
    dossier = world.dossier(campaign, hospital, complete=False)
    with at(DURING):
        response = upload(client, dossier, pdf_bytes())
    assert response.status_code == 422
    assert "Complétez et enregistrez d'abord le volet « Identification »" in text_of(response)


# --- confirmer and deposit -------------------------------------------------------------------


def test_the_checklist_links_each_missing_item_to_its_place(at, client, signed_in, fresh):
    with at(DURING):
        page = client.get(f"/dossiers/{fresh.id}/confirmer").text
    assert f'href="/dossiers/{fresh.id}/volets/candidat#f-nom"' in page
    assert f'href="/dossiers/{fresh.id}/pieces#piece-cv"' in page
    assert f'href="/dossiers/{fresh.id}/confirmer#f-complet"' in page
    assert "Pièce manquante : CV du candidat." in page


def test_an_incomplete_dossier_is_refused_with_every_reason_and_keeps_its_ticks(
    at, client, signed_in, fresh, session
):
    with at(DURING):
        response = client.post(
            f"/dossiers/{fresh.id}/confirmer",
            data={"action": "deposer", "attestations": "complet", "consent": "oui"},
        )
    assert response.status_code == 422
    page = text_of(response)
    assert "Le dossier n'a pas pu être déposé" in page
    assert "Le dossier est incomplet :" in page
    assert "Candidat — « Nom » est obligatoire." in page
    assert "Pièce manquante : CV du candidat." in page
    reread(session)
    dossier = session.get(Dossier, fresh.id)
    assert (dossier.state, dossier.attestations, dossier.consent) == (
        "brouillon",
        ["complet"],
        True,
    )


def test_a_complete_dossier_is_deposited_and_the_page_shows_its_number(
    at, world, client, campaign, hospital, signed_in, session
):
    dossier = world.dossier(campaign, hospital, complete=True)
    with at(DURING):
        response = client.post(
            f"/dossiers/{dossier.id}/confirmer",
            data={"action": "deposer", "attestations": "complet", "consent": "oui"},
        )
        assert response.status_code == 302
        page = text_of(client.get(response.location))
    reread(session)
    deposited = session.get(Dossier, dossier.id)
    assert deposited.state == "en_construction"
    assert f"Dossier n° {deposited.number} déposé" in page
    assert f"Votre dossier n° {deposited.number} a bien été déposé." in page
    mails = session.scalars(select(OutboxMail.template).where(OutboxMail.dossier_id == dossier.id))
    assert list(mails) == ["accuse_reception"]


def test_after_the_deadline_the_deposit_button_is_gone_and_the_page_says_why(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, complete=True)
    with at(AFTER):
        page = client.get(f"/dossiers/{dossier.id}/confirmer")
        refused = client.post(f"/dossiers/{dossier.id}/confirmer", data={"action": "deposer"})
    assert "Déposer le dossier</button>" not in page.text
    assert "Le dépôt n'est pas possible" in text_of(page)
    assert (
        "La date limite de dépôt est passée : les dossiers étaient acceptés jusqu'au 20 mars "
        "2026 inclus." in text_of(page)
    )
    assert refused.status_code == 422
    assert "La date limite de dépôt est passée" in text_of(refused)


def test_a_deposited_dossier_keeps_its_attestations_ticked(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, "en_construction")
    with at(DURING):
        response = client.post(f"/dossiers/{dossier.id}/confirmer", data={"consent": "oui"})
    assert response.status_code == 422
    assert "Un dossier déposé doit garder toutes ses attestations cochées." in text_of(response)


# --- delete ----------------------------------------------------------------------------------


def test_deleting_asks_for_confirmation_first(
    at, world, client, campaign, hospital, signed_in, session
):
    dossier = world.dossier(campaign, hospital, "en_construction")
    with at(DURING):
        page = text_of(client.get(f"/dossiers/{dossier.id}/supprimer"))
        assert "Supprimer définitivement ce dossier ?" in page
        assert session.get(Dossier, dossier.id) is not None
        response = client.post(f"/dossiers/{dossier.id}/supprimer")
    assert response.location == f"/campagnes/{campaign.slug}"
    reread(session)
    assert session.scalars(select(Dossier)).all() == []


def test_after_the_deadline_a_dossier_cannot_be_deleted(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, "en_construction")
    with at(AFTER):
        page = text_of(client.get(f"/dossiers/{dossier.id}/supprimer"))
        refused = client.post(f"/dossiers/{dossier.id}/supprimer")
    assert "Supprimer définitivement" not in page
    assert "La date limite de dépôt est passée" in page
    assert refused.status_code == 422


# --- récap. candidatures ---------------------------------------------------------------------


def test_the_order_of_priority_is_set_by_moving_rows(
    at, world, client, campaign, hospital, signed_in, session
):
    first, second, third = (world.dossier(campaign, hospital, "en_construction") for _ in "abc")
    recap = f"/campagnes/{campaign.slug}/recapitulatif"
    with at(DURING):
        client.post(f"{recap}/{third.id}", data={"direction": "haut"})
        client.post(f"{recap}/{third.id}", data={"direction": "haut"})
        client.post(f"{recap}/{first.id}", data={"direction": "bas"})
        page = client.get(recap).text
    order = [int(i) for i in re.findall(r'<tr id="dossier-(\d+)">', page)]
    assert order == [third.id, second.id, first.id]
    reread(session)
    assert [session.get(Dossier, d.id).priority for d in (third, second, first)] == [1, 2, 3]
    moves = session.scalars(select(AuditEvent).where(AuditEvent.event == "prioriser")).all()
    assert [(m.dossier_id, m.payload) for m in moves][-1] == (first.id, {"from": 2, "to": 3})


def test_the_recap_prints_on_a4_and_after_the_deadline_the_order_is_frozen(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, "en_construction")
    with at(AFTER):
        page = client.get(f"/campagnes/{campaign.slug}/recapitulatif")
        refused = client.post(
            f"/campagnes/{campaign.slug}/recapitulatif/{dossier.id}",
            data={"direction": "bas"},
            follow_redirects=True,
        )
    assert "Monter" not in page.text
    assert "L'ordre de priorité ne peut plus être modifié" in text_of(page)
    assert "La date limite de dépôt est passée" in text_of(refused)
    css = client.get("/static/app.css").text
    assert "@media print" in css and "size: A4" in css


# --- décision, maintien, prise de poste, renoncer ----------------------------------------------


def test_a_decision_not_yet_published_shows_the_dossier_en_instruction(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, "accepte", published=False)
    with at(IN_WINDOW):
        page = text_of(client.get(f"/dossiers/{dossier.id}/decision"))
        recap = text_of(client.get(f"/campagnes/{campaign.slug}/recapitulatif"))
        refused = client.post(f"/dossiers/{dossier.id}/actions/confirmer_maintien")
    assert "Votre dossier est en instruction" in page
    assert "Accepté" not in page and "Projet solide." not in page
    assert "Confirmer le maintien" not in page
    assert "En instruction" in recap and "Accepté" not in recap
    assert refused.status_code == 422
    assert "Le dossier est « En instruction »." in text_of(refused)


def test_a_published_decision_shows_its_kind_and_motivation(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, "refuse", published=True)
    with at(IN_WINDOW):
        page = text_of(client.get(f"/dossiers/{dossier.id}/decision"))
    assert "Refusé — avis défavorable" in page
    assert "Projet solide." in page
    assert "Suite du recrutement" not in page


def test_outside_its_window_the_maintien_says_when_it_opens(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, "accepte", published=True)
    with at(at_paris(2026, 9, 1)):
        page = client.get(f"/dossiers/{dossier.id}/decision")
        refused = client.post(f"/dossiers/{dossier.id}/actions/confirmer_maintien")
    sentence = (
        "La confirmation du maintien du projet de recrutement est ouverte du 1er octobre "
        "2026 au 31 octobre 2026."
    )
    assert sentence in text_of(page)
    assert "Confirmer le maintien du projet de recrutement</button>" not in page.text
    assert "Renoncer au poste</button>" in page.text
    assert refused.status_code == 422 and sentence in text_of(refused)


def test_inside_its_window_the_maintien_is_confirmed_and_the_ars_told(
    at, world, client, campaign, hospital, signed_in, session
):
    dossier = world.dossier(campaign, hospital, "accepte", published=True)
    with at(IN_WINDOW):
        page = client.get(f"/dossiers/{dossier.id}/decision").text
        assert "Confirmer le maintien du projet de recrutement</button>" in page
        response = client.post(f"/dossiers/{dossier.id}/actions/confirmer_maintien")
    assert response.status_code == 302
    reread(session)
    assert session.get(Dossier, dossier.id).state == "confirme"
    mail = session.scalars(select(OutboxMail).where(OutboxMail.dossier_id == dossier.id)).one()
    assert (mail.template, mail.recipient) == ("confirmation_maintien", "ars-idf-asp@ars.sante.fr")


def test_the_prise_de_poste_opens_on_the_start_date_and_needs_the_actual_date(
    at, world, client, campaign, hospital, signed_in, session
):
    dossier = world.dossier(campaign, hospital, "confirme", published=True)
    url = f"/dossiers/{dossier.id}/actions/confirmer_prise_de_poste"
    with at(IN_WINDOW):
        page = text_of(client.get(f"/dossiers/{dossier.id}/decision"))
    assert "La prise de poste se confirme à partir du 2 novembre 2026." in page
    with at(AFTER_START):
        without = client.post(url, data={"start_date": ""})
        future = client.post(url, data={"start_date": "2026-11-20"})
        too_early = client.post(url, data={"start_date": "01/11/2026"})
        done = client.post(url, data={"start_date": "2026-11-03"})
    assert without.status_code == 422
    assert "La date effective de prise de poste est obligatoire." in text_of(without)
    assert "La date effective de prise de poste ne peut pas être dans le futur." in text_of(future)
    assert "La date effective de prise de poste ne peut précéder le 2 novembre 2026." in (
        text_of(too_early)
    )
    assert done.status_code == 302
    reread(session)
    confirmed = session.get(Dossier, dossier.id)
    assert (confirmed.state, confirmed.actual_start_date) == ("en_poste", dt.date(2026, 11, 3))


def test_renouncing_the_post_needs_a_reason(
    at, world, client, campaign, hospital, signed_in, session
):
    dossier = world.dossier(campaign, hospital, "accepte", published=True)
    url = f"/dossiers/{dossier.id}/actions/desister"
    with at(IN_WINDOW):
        refused = client.post(url, data={"reason": "  "})
        done = client.post(url, data={"reason": "Le candidat a choisi un autre poste."})
    assert refused.status_code == 422 and "Le motif est obligatoire." in text_of(refused)
    assert done.status_code == 302
    reread(session)
    assert session.get(Dossier, dossier.id).state == "desiste"


def test_the_deposit_is_not_an_action_of_the_decision_tab(
    at, world, client, campaign, hospital, signed_in
):
    dossier = world.dossier(campaign, hospital, complete=True)
    with at(DURING):
        assert client.post(f"/dossiers/{dossier.id}/actions/deposer").status_code == 404
        assert client.post(f"/dossiers/{dossier.id}/actions/accepter").status_code == 404


def test_a_field_required_on_a_condition_says_when(at, world, client, hospital, signed_in):
    # Normandie ASP: « justifier le choix … lorsque ce dernier ne sera pas dans une zone
    # prioritaire »: the page says when the justification is required.
    volets = definition().model_dump(mode="json")["volets"]
    volets[0]["fields"] += [
        {"key": "zone", "label": "Zone prioritaire", "type": "yes_no"},
        {
            "key": "justification",
            "label": "Justification du choix",
            "type": "long_text",
            "required_if": {"field": "identification.zone", "equals": False},
        },
    ]
    campaign = world.campaign(volets=volets)
    dossier = world.dossier(campaign, hospital, complete=False)
    with at(DURING):
        page = text_of(client.get(f"/dossiers/{dossier.id}/volets/identification"))
    assert "Obligatoire si « Zone prioritaire » : Non." in page
