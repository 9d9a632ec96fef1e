"""Who may open each page of the ARS (instruction, administration) and of the avis givers,
tested for every route and every role: an instructeur sees only the campaigns it follows
(the others are a 404), an administrateur sees everything, a déposant gets a 403 on every
instruction and administration page, and an avis link opens only its own dossier."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from tests.conftest import pdf_bytes
from workflow.administration.instructors import follow
from workflow.api.tokens import create_token
from workflow.api.webhooks import register_webhook
from workflow.instruction.avis import avis_token, invite_avis
from workflow.instruction.export_jobs import request_export, work
from workflow.messagerie.messages import Upload, post_message
from workflow.models import Attachment, Campaign, Dossier, User
from workflow.partners.links import partner_token
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

AVIS = [{"key": "coordonnateur", "label": "Avis du coordonnateur", "giver": "coordonnateur"}]

# (method, path); {slug}, {dossier}, {avis}, {user} and {token} name the scene's objects.
INSTRUCTION_ROUTES = [
    ("get", "/instruction/"),
    ("get", "/instruction/campagnes/{slug}"),
    ("post", "/instruction/campagnes/{slug}/passer-en-instruction"),
    ("post", "/instruction/campagnes/{slug}/publier"),
    ("get", "/instruction/campagnes/{slug}/export.csv"),
    ("get", "/instruction/campagnes/{slug}/export.xlsx"),
    ("get", "/instruction/campagnes/{slug}/pieces.zip"),
    ("get", "/instruction/campagnes/{slug}/exports"),
    ("post", "/instruction/campagnes/{slug}/exports"),
    ("get", "/instruction/exports/{export}/etat"),
    ("get", "/instruction/exports/{export}/fichier"),
    ("get", "/instruction/dossiers/{dossier}"),
    ("post", "/instruction/dossiers/{dossier}/actions"),
    ("get", "/instruction/dossiers/{dossier}/pieces/cv"),
    ("get", "/instruction/dossiers/{dossier}/pieces.zip"),
    ("post", "/instruction/dossiers/{dossier}/avis"),
    ("post", "/instruction/avis/{avis}/supprimer"),
    ("get", "/instruction/avis/{avis}/fichier"),
    ("post", "/instruction/dossiers/{dossier}/messages"),
    ("get", "/instruction/dossiers/{dossier}/messages/{message}/fichier"),
    ("get", "/instruction/dossiers/{decided}/lettre-decision.pdf"),
    ("get", "/instruction/statistiques"),
    ("get", "/instruction/statistiques.csv"),
    ("get", "/instruction/campagnes/{slug}/statistiques"),
    ("get", "/instruction/campagnes/{slug}/statistiques.csv"),
    # The selection commission (web/commission).
    ("get", "/instruction/campagnes/{slug}/commission"),
    ("post", "/instruction/campagnes/{slug}/commission"),
    ("post", "/instruction/commission/promotions/{promotion}/confirmer"),
    ("get", "/instruction/commission/{sitting}"),
    ("post", "/instruction/commission/{sitting}/membres"),
    ("post", "/instruction/commission/{sitting}/dossiers/{dossier}/avis"),
    ("post", "/instruction/commission/{sitting}/dossiers/{dossier}/notes"),
    ("get", "/instruction/commission/{sitting}/propositions"),
    ("post", "/instruction/commission/{sitting}/propositions"),
    ("post", "/instruction/commission/{sitting}/propositions/{dossier}"),
    ("post", "/instruction/commission/{sitting}/appliquer"),
    ("get", "/instruction/commission/{sitting}/proces-verbal"),
    ("get", "/instruction/commission/{sitting}/proces-verbal.pdf"),
]
# Pages over every campaign the reader may see, like the home page.
ACROSS_CAMPAIGNS = [("get", "/instruction/statistiques"), ("get", "/instruction/statistiques.csv")]
# The routes of one campaign (all but those): a 404 for an instructeur who does not follow it.
CAMPAIGN_ROUTES = [r for r in INSTRUCTION_ROUTES[1:] if r not in ACROSS_CAMPAIGNS]
ADMIN_ROUTES = [
    ("get", "/admin/"),
    ("post", "/admin/campagnes/charger"),
    ("get", "/admin/campagnes/{slug}"),
    ("post", "/admin/campagnes/{slug}/ouvrir"),
    ("post", "/admin/campagnes/{slug}/clore"),
    ("post", "/admin/campagnes/{slug}/date-limite"),
    ("get", "/admin/instructeurs"),
    ("post", "/admin/instructeurs"),
    ("get", "/admin/instructeurs/{user}"),
    ("post", "/admin/instructeurs/{user}"),
    ("post", "/admin/instructeurs/{user}/activation"),
    ("post", "/admin/instructeurs/{user}/invitation"),
    ("get", "/admin/machine"),
    ("get", "/admin/machine/mermaid.min.js"),
    ("get", "/admin/journal-securite"),
    ("get", "/admin/connexion-agents"),
    ("post", "/admin/connexion-agents"),
    ("get", "/admin/donnees-personnelles"),
    ("post", "/admin/donnees-personnelles/export"),
    ("post", "/admin/donnees-personnelles/fermeture"),
    ("get", "/admin/api/jetons"),
    ("post", "/admin/api/jetons"),
    ("post", "/admin/api/jetons/{api_token}/revoquer"),
    ("get", "/admin/api/jetons/{api_token}/appels"),
    ("get", "/admin/api/webhooks"),
    ("post", "/admin/api/webhooks"),
    ("get", "/admin/api/webhooks/{webhook}"),
    ("post", "/admin/api/webhooks/{webhook}/arreter"),
    ("get", "/admin/campagnes/{slug}/postes-finances"),
    ("post", "/admin/campagnes/{slug}/postes-finances"),
]
# Pages kept from everyone but administrateurs: a 404, as if they did not exist.
HIDDEN_ADMIN_ROUTES = [("get", "/admin/journal-securite")]
AVIS_ROUTES = [
    ("get", "/avis/{token}"),
    ("post", "/avis/{token}"),
    ("get", "/avis/{token}/pieces/cv"),
]
# The partner's signed link (workflow/partners): {partner} is its token.
PARTNER_ROUTES = [
    ("get", "/partenaire/{partner}"),
    ("post", "/partenaire/{partner}"),
]
# An invited commission member's signed link: read-only agenda, and scores where allowed.
COMMISSION_LINK_ROUTES = [
    ("get", "/commission/{member_token}"),
    ("post", "/commission/{member_token}/dossiers/{dossier}/notes"),
]
ROLES = ["anonyme", "deposant", "instructeur_autre", "instructeur", "administrateur"]


@dataclass
class Scene:
    campaign: Campaign
    dossier: Dossier
    avis_id: int
    token: str
    instructor: User
    users: dict[str, User]
    export_id: int = 0
    partner: str = ""
    message_id: int = 0
    # A decided dossier of the same campaign (its decision letter).
    decided_id: int = 0
    api_token_id: int = 0
    webhook_id: int = 0
    sitting_id: int = 0
    promotion_id: int = 0
    member_token: str = ""

    def path(self, template: str) -> str:
        return template.format(
            sitting=self.sitting_id,
            promotion=self.promotion_id,
            member_token=self.member_token,
            slug=self.campaign.slug,
            dossier=self.dossier.id,
            avis=self.avis_id,
            user=self.instructor.id,
            token=self.token,
            export=self.export_id,
            partner=self.partner,
            message=self.message_id,
            decided=self.decided_id,
            api_token=self.api_token_id,
            webhook=self.webhook_id,
        )


@pytest.fixture
def scene(world, session, app) -> Scene:
    campaign = world.campaign(avis=AVIS)
    hospital = world.organisation()
    dossier = world.dossier(campaign, hospital, "en_instruction")
    storage = Storage(app.config["UPLOAD_DIR"])
    admin_actor = world.actor("administrateur")
    users = {
        "deposant": world.user("deposant", hospital),
        "instructeur_autre": world.user("instructeur"),
        "instructeur": world.user("instructeur"),
        "administrateur": world.user("administrateur"),
    }
    with transaction(session):
        session.scalars(select(Attachment)).one().storage_name = storage.save(pdf_bytes())
        follow(session, users["instructeur"], campaign, admin_actor)
        avis = invite_avis(
            session,
            dossier,
            "coordonnateur",
            "coordo@chu.fr",
            "",
            admin_actor,
            secret_key=app.config["SECRET_KEY"],
            base_url="http://localhost",
        )
        avis.storage_name = storage.save(pdf_bytes(title="Avis"))
    # The other instructeur follows another campaign only.
    elsewhere = world.campaign(slug="ailleurs")
    with transaction(session):
        follow(session, users["instructeur_autre"], elsewhere, admin_actor)
    token = avis_token(avis.id, app.config["SECRET_KEY"])
    # A finished export of the campaign, asked by its instructeur.
    with transaction(session):
        export = request_export(session, campaign, "csv", users["instructeur"], clock.now())
    work(app.extensions["db_sessions"], storage, "test")
    decided = world.dossier(campaign, hospital, "accepte", published=True)
    partner = partner_token(dossier, app.config["SECRET_KEY"])
    # The déposant's message in the dossier's messagerie, with its PDF.
    with transaction(session):
        message = post_message(
            session,
            dossier,
            Actor.of(users["deposant"]),
            "Voici l'attestation demandée.",
            upload=Upload("attestation.pdf", pdf_bytes(title="Attestation")),
            storage=storage,
        )
    # An API token and a webhook of the campaign, made by an administrateur.
    with transaction(session):
        api_token, _ = create_token(session, "outil", "lecture", [campaign.id], admin_actor)
        hook, _ = register_webhook(
            session,
            campaign.id,
            "https://outil.ars.sante.fr/",
            ["dossier.etat_change"],
            admin_actor,
        )
    sitting_id, promotion_id, member = commission_scene(session, app, dossier, admin_actor)
    return Scene(
        campaign,
        dossier,
        avis.id,
        token,
        users["instructeur"],
        users,
        export.id,
        partner,
        message.id,
        decided.id,
        api_token.id,
        hook.id,
        sitting_id,
        promotion_id,
        member,
    )


def commission_scene(session, app, on_agenda, admin_actor):  # type: ignore[no-untyped-def]
    """A commission session with the campaign's dossier on its agenda, an invited member's
    link, and a promotion awaiting confirmation (a withdrawn laureate, one on the waiting
    list)."""
    from workflow.commission.links import member_token
    from workflow.commission.sessions import create_session, invite_member
    from workflow.models import Decision, Promotion

    campaign = on_agenda.campaign
    with transaction(session):
        sitting = create_session(session, campaign, admin_actor, "Commission", clock.now().date())
        member = invite_member(
            session,
            sitting,
            "Dr Invitée",
            "présidente de CME",
            "invitee@chu.fr",
            admin_actor,
            secret_key=app.config["SECRET_KEY"],
            base_url="http://localhost",
        )
    now = clock.now()
    with transaction(session):
        left, waiting = (
            Dossier(
                campaign_id=campaign.id,
                campaign_version_id=on_agenda.campaign_version_id,
                organisation_id=on_agenda.organisation_id,
                state=state,
                number=number,
                deposited_at=now,
                decision=Decision(
                    kind=kind, motivation="Commission.", decided_at=now, published_at=now
                ),
            )
            for state, kind, number in (
                ("desiste", "accepte", 880001),
                ("liste_complementaire", "liste_complementaire", 880002),
            )
        )
        session.add_all([left, waiting])
        session.flush()
        promotion = Promotion(
            campaign_id=campaign.id,
            vacated_dossier_id=left.id,
            promoted_dossier_id=waiting.id,
            cause="desistement",
            status="a_confirmer",
            found_at=now,
        )
        session.add(promotion)
    return sitting.id, promotion.id, member_token(member.id, app.config["SECRET_KEY"])


def sign_in(auth, scene: Scene, role: str) -> None:
    if role != "anonyme":
        auth.login(scene.users[role])


def request(client, method: str, path: str):  # type: ignore[no-untyped-def]
    return getattr(client, method)(path)


def test_every_route_of_the_ars_and_avis_pages_is_in_the_access_tests(app):
    adapter = app.url_map.bind("localhost")
    listed = (
        INSTRUCTION_ROUTES + ADMIN_ROUTES + AVIS_ROUTES + PARTNER_ROUTES + COMMISSION_LINK_ROUTES
    )
    covered = {
        adapter.match(
            path.format(
                slug="c",
                dossier=1,
                avis=1,
                user=1,
                token="t",
                export=1,
                partner="t",
                message=1,
                decided=1,
                api_token=1,
                webhook=1,
                sitting=1,
                promotion=1,
                member_token="m",
            ),
            method=method.upper(),
        )[0]
        for method, path in listed
    }
    routes = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0]
        in (
            "instruction",
            "admin",
            "admin_privacy",
            "admin_api",
            "avis",
            "partenaire",
            "commission",
        )
    }
    assert routes == covered


@pytest.mark.parametrize(("method", "path"), INSTRUCTION_ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_instruction_routes(role, method, path, client, auth, scene):
    sign_in(auth, scene, role)
    response = request(client, method, scene.path(path))
    if role == "anonyme":
        assert response.status_code == 302
        assert "/connexion?next=" in response.location
    elif role == "deposant":
        assert response.status_code == 403
    elif role == "instructeur_autre" and (method, path) in CAMPAIGN_ROUTES:
        assert response.status_code == 404
        assert "Page introuvable" in response.text
    else:
        assert response.status_code not in (401, 403, 404), response.status_code
        if method == "get":
            assert response.status_code == 200


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_administration_routes(role, method, path, client, auth, scene, app, tmp_path):
    script = tmp_path / "mermaid.min.js"
    script.write_text("window.mermaid = {};")
    app.config["MERMAID_JS"] = str(script)
    sign_in(auth, scene, role)
    response = request(client, method, scene.path(path))
    if role == "anonyme":
        assert response.status_code == 302
        assert "/connexion?next=" in response.location
    elif role == "administrateur":
        assert response.status_code not in (401, 403, 404), response.status_code
        if method == "get":
            assert response.status_code == 200
    elif (method, path) in HIDDEN_ADMIN_ROUTES:
        assert response.status_code == 404
        assert "Page introuvable" in response.text
    else:
        assert response.status_code == 403
        assert "Accès refusé" in response.text


@pytest.mark.parametrize(("method", "path"), AVIS_ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_an_avis_link_opens_its_dossier_for_whoever_holds_it(
    role, method, path, client, auth, scene
):
    sign_in(auth, scene, role)
    response = request(client, method, scene.path(path))
    assert response.status_code in ((200,) if method == "get" else (422,))
    forged = request(client, method, scene.path(path).replace(scene.token, scene.token[:-2]))
    assert forged.status_code == 404


@pytest.mark.parametrize(("method", "path"), PARTNER_ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_a_partner_link_opens_its_dossier_read_only_for_whoever_holds_it(
    role, method, path, client, auth, scene
):
    sign_in(auth, scene, role)
    response = request(client, method, scene.path(path))
    # The scene's campaign asks no co-signature: the page is read-only, a POST is refused.
    assert response.status_code == (200 if method == "get" else 422)
    forged = request(client, method, scene.path(path).replace(scene.partner, scene.partner[:-2]))
    assert forged.status_code == 404
    other_salt = request(client, method, scene.path(path).replace(scene.partner, scene.token))
    assert other_salt.status_code == 404


@pytest.mark.parametrize(("method", "path"), COMMISSION_LINK_ROUTES)
@pytest.mark.parametrize("role", ROLES)
def test_a_commission_link_opens_its_session_for_whoever_holds_it(
    role, method, path, client, auth, scene
):
    sign_in(auth, scene, role)
    response = request(client, method, scene.path(path))
    # This campaign has no scoring grid: the link reads, and never writes (scores recorded
    # through a link where the grid allows it: tests/test_web_commission.py).
    assert response.status_code == (200 if method == "get" else 403)
    forged = request(
        client, method, scene.path(path).replace(scene.member_token, scene.member_token[:-2])
    )
    assert forged.status_code == 404
    if method == "get":
        assert "est pas valide" in forged.text


def test_a_signed_in_instructeur_sees_the_links_of_its_pages(client, auth, scene):
    sign_in(auth, scene, "instructeur")
    page = client.get("/").text
    assert 'href="/instruction/"' in page and 'href="/admin/"' not in page
    sign_in(auth, scene, "administrateur")
    page = client.get("/").text
    assert 'href="/instruction/"' in page and 'href="/admin/"' in page
    sign_in(auth, scene, "deposant")
    page = client.get("/").text
    assert 'href="/instruction/"' not in page


def test_every_form_of_the_ars_and_avis_pages_carries_a_csrf_token(client, auth, scene):
    sign_in(auth, scene, "administrateur")
    pages = [
        "/instruction/campagnes/{slug}",
        "/instruction/dossiers/{dossier}",
        "/admin/",
        "/admin/campagnes/{slug}",
        "/admin/instructeurs",
        "/admin/instructeurs/{user}",
        "/avis/{token}",
        "/instruction/campagnes/{slug}/commission",
        "/instruction/commission/{sitting}",
        "/instruction/commission/{sitting}/propositions",
        "/admin/campagnes/{slug}/postes-finances",
    ]
    for path in pages:
        page = client.get(scene.path(path)).text
        forms = re.findall(r'<form method="post".*?</form>', page, re.S)
        assert forms, path
        assert all('name="csrf_token"' in form for form in forms), path


DOSSIER_ROUTES = [(m, p) for m, p in INSTRUCTION_ROUTES if "{dossier}" in p]


@pytest.fixture
def brouillon(world, session, app, scene) -> Dossier:
    """A brouillon of the followed campaign, with its CV stored, not deposited yet."""
    draft = world.dossier(scene.campaign, world.organisation(), "brouillon")
    storage = Storage(app.config["UPLOAD_DIR"])
    with transaction(session):
        draft.candidate_name = "Candidate Encore-Secrète"
        draft.attachments[0].storage_name = storage.save(pdf_bytes(title="CV brouillon"))
    return draft


@pytest.mark.parametrize(("method", "path"), DOSSIER_ROUTES)
@pytest.mark.parametrize("role", ["instructeur", "administrateur"])
def test_a_brouillon_of_a_followed_campaign_does_not_exist_for_the_ars(
    role, method, path, client, auth, scene, brouillon
):
    sign_in(auth, scene, role)
    response = request(client, method, scene.path(path.replace("{dossier}", str(brouillon.id))))
    assert response.status_code == 404
    assert "Page introuvable" in response.text
    assert "Encore-Secrète" not in response.text
    # The same route on the deposited dossier of the same campaign answers.
    assert request(client, method, scene.path(path)).status_code != 404


@pytest.mark.parametrize("role", ["instructeur", "administrateur"])
def test_a_brouillon_is_in_no_table_count_export_or_archive_of_the_ars(
    role, client, auth, scene, brouillon, session
):
    import io
    import zipfile

    sign_in(auth, scene, role)
    base = f"/instruction/campagnes/{scene.campaign.slug}"
    for query in ("", "?etat=brouillon", "?q=Encore", f"?q={brouillon.id}"):
        page = client.get(base + query).text
        assert "Encore-Secrète" not in page, query
        assert f'id="dossier-{brouillon.id}"' not in page, query
    assert 'id="compte-brouillon"' not in client.get(base).text
    assert "Encore-Secrète" not in client.get(f"{base}/export.csv").text
    xlsx = client.get(f"{base}/export.xlsx").data
    with zipfile.ZipFile(io.BytesIO(xlsx)) as sheet:
        assert all(b"Secr" not in sheet.read(name) for name in sheet.namelist())
    with zipfile.ZipFile(io.BytesIO(client.get(f"{base}/pieces.zip").data)) as archive:
        names = archive.namelist()
        assert names and not any("brouillon" in name for name in names)
    home = client.get("/instruction/").text
    assert "Encore-Secrète" not in home
    # Ticking its id in the table's form does nothing and says nothing about it.
    moved = client.post(
        f"{base}/passer-en-instruction",
        data={"dossiers": f"{brouillon.id}:{brouillon.version}"},
        follow_redirects=True,
    )
    assert "non passé en instruction" not in moved.text
    session.refresh(brouillon)
    assert brouillon.state == "brouillon"
