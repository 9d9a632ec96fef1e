"""The JSON API (/api/v1) as the ARS's data teams use it (DESIGN.md: « read campaigns and
dossiers and fire instruction events through a documented JSON API with scoped tokens »):
tokens an administrator creates, reads scoped to the token's campaigns, instruction events
fired with the pages' guards and the version check, and every error as problem+json in
French — never an HTML page, never a session cookie."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import TEST_SECRET_KEY, at_paris
from workflow.api.tokens import create_token, recent_calls, revoke_token
from workflow.models import ApiToken, AuditEvent, Avis, Dossier, OutboxMail, SecurityEvent
from workflow.plumbing.db import transaction

# The avis the IdF ASP manual names (idf-asp-vague6-mode-operatoire.txt: « avis du
# coordonnateur de la spécialité »).
AVIS = [
    {
        "key": "coordonnateur",
        "label": "Avis du coordonnateur de la spécialité",
        "giver": "coordonnateur",
    }
]
# After the deadline of the test campaign (20 March 2026), while the dossiers are instructed.
INSTRUCTING = at_paris(2026, 4, 2, 10)


def make_token(world, session, campaigns, scope="ecriture", **extra):
    admin = world.actor("administrateur")
    world._n += 1
    with transaction(session):
        token, secret = create_token(
            session, f"outil-{world._n}", scope, [c.id for c in campaigns], admin, **extra
        )
    return token, secret


def bearer(secret: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **more}


def is_problem(response, status: int) -> dict:
    """The response is a problem+json of `status` with a French detail; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["detail"]
    return body


@pytest.fixture
def scene(world, session):
    """A campaign with two deposited dossiers (one en_construction, one en_instruction), a
    brouillon, and a second campaign with a deposited dossier of its own."""
    campaign = world.campaign(avis=AVIS)
    other = world.campaign(slug="test-aumg", title="Assistants universitaires (test)")
    hospital = world.organisation()
    world.user("deposant", hospital)
    return {
        "campaign": campaign,
        "other": other,
        "building": world.dossier(campaign, hospital, "en_construction"),
        "instructing": world.dossier(campaign, hospital, "en_instruction"),
        "brouillon": world.dossier(campaign, hospital, "brouillon"),
        "elsewhere": world.dossier(other, hospital, "en_construction"),
    }


# --- the document ---------------------------------------------------------------------------


def test_the_openapi_document_is_valid_and_has_a_readable_page(client):
    from openapi_spec_validator import validate

    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert set(document["paths"]) >= {
        "/api/v1/campaigns",
        "/api/v1/campaigns/{slug}",
        "/api/v1/campaigns/{slug}/dossiers",
        "/api/v1/dossiers/{dossier_id}",
        "/api/v1/dossiers/{dossier_id}/events",
        "/api/v1/dossiers/{dossier_id}/avis",
    }
    # The schemas come from the pydantic models that validate the requests.
    fire_body = document["components"]["schemas"]["FireBody"]
    assert "passer_en_instruction" in fire_body["properties"]["event"]["enum"]
    page = client.get("/api/")
    assert page.status_code == 200
    assert "X-PostesPartages-Signature" in page.text
    assert "/api/v1/campaigns/{slug}/dossiers" in page.text


# --- who may call ---------------------------------------------------------------------------


def test_without_a_token_every_call_is_a_401_in_french(client, scene):
    body = is_problem(client.get("/api/v1/campaigns"), 401)
    assert "jeton" in body["detail"]
    is_problem(client.get("/api/v1/campaigns", headers=bearer("pp_inconnu")), 401)
    is_problem(client.get("/api/v1/campaigns", headers={"Authorization": "Basic eDp5"}), 401)


def test_a_signed_in_administrator_session_does_not_authenticate_the_api(
    world, client, auth, scene
):
    auth.login(world.user("administrateur"))
    assert client.get("/admin/").status_code == 200  # the session works on the pages
    is_problem(client.get("/api/v1/campaigns"), 401)
    dossier = scene["building"]
    posted = client.post(
        f"/api/v1/dossiers/{dossier.id}/events",
        json={"event": "passer_en_instruction"},
        headers={"If-Match": str(dossier.version)},
    )
    is_problem(posted, 401)


def test_a_revoked_or_expired_token_is_refused(world, session, client, scene):
    token, secret = make_token(world, session, [scene["campaign"]])
    assert client.get("/api/v1/campaigns", headers=bearer(secret)).status_code == 200
    admin = world.actor("administrateur")
    with transaction(session):
        revoke_token(session, token.id, admin)
    is_problem(client.get("/api/v1/campaigns", headers=bearer(secret)), 401)

    with time_machine.travel(at_paris(2026, 4, 1), tick=False):
        _, expiring = make_token(
            world, session, [scene["campaign"]], expires_at=at_paris(2026, 4, 30)
        )
        assert client.get("/api/v1/campaigns", headers=bearer(expiring)).status_code == 200
    with time_machine.travel(at_paris(2026, 5, 1), tick=False):
        is_problem(client.get("/api/v1/campaigns", headers=bearer(expiring)), 401)


def test_a_token_sees_only_its_campaigns_others_are_404(world, session, client, scene):
    _, secret = make_token(world, session, [scene["campaign"]], scope="lecture")
    listed = client.get("/api/v1/campaigns", headers=bearer(secret)).get_json()
    assert [c["slug"] for c in listed["items"]] == ["test-asp"]
    is_problem(client.get("/api/v1/campaigns/test-aumg", headers=bearer(secret)), 404)
    is_problem(client.get("/api/v1/campaigns/test-aumg/dossiers", headers=bearer(secret)), 404)
    elsewhere = scene["elsewhere"]
    is_problem(client.get(f"/api/v1/dossiers/{elsewhere.id}", headers=bearer(secret)), 404)
    # A brouillon is its organisation's alone: it does not exist for the API either.
    brouillon = scene["brouillon"]
    is_problem(client.get(f"/api/v1/dossiers/{brouillon.id}", headers=bearer(secret)), 404)


def test_a_read_only_token_may_not_act(world, session, client, scene):
    _, secret = make_token(world, session, [scene["campaign"]], scope="lecture")
    dossier = scene["building"]
    response = client.post(
        f"/api/v1/dossiers/{dossier.id}/events",
        json={"event": "passer_en_instruction"},
        headers=bearer(secret, **{"If-Match": str(dossier.version)}),
    )
    body = is_problem(response, 403)
    assert "lecture seule" in body["detail"]
    session.refresh(dossier)
    assert dossier.state == "en_construction"


def test_an_unknown_api_address_is_a_json_404(client):
    is_problem(client.get("/api/v1/nulle-part"), 404)
    is_problem(client.delete("/api/v1/campaigns"), 405)


def test_calls_are_rate_limited_per_token(db_url, tmp_path, world, session, scene):
    from web import create_app

    app = create_app(
        {
            "DATABASE_URL": db_url,
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET_KEY,
            "DEVELOPMENT": False,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "SMTP_URL": None,
            "THROTTLE_LIMITS": {"api": ("100 per minute", "3 per minute")},
        }
    )
    client = app.test_client()
    _, secret = make_token(world, session, [scene["campaign"]])
    _, other = make_token(world, session, [scene["campaign"]])
    for _ in range(3):
        assert client.get("/api/v1/campaigns", headers=bearer(secret)).status_code == 200
    refused = client.get("/api/v1/campaigns", headers=bearer(secret))
    body = is_problem(refused, 429)
    assert "Réessayez dans" in body["detail"]
    assert int(refused.headers["Retry-After"]) > 0
    # Another token counts apart.
    assert client.get("/api/v1/campaigns", headers=bearer(other)).status_code == 200
    app.extensions["db_sessions"].kw["bind"].dispose()


# --- reading ----------------------------------------------------------------------------------


def test_a_campaign_gives_its_dates_definition_and_counts(world, session, client, scene):
    _, secret = make_token(world, session, [scene["campaign"]], scope="lecture")
    body = client.get("/api/v1/campaigns/test-asp", headers=bearer(secret)).get_json()
    assert body["title"] == "Assistants spécialistes partagés (test)"
    assert body["counts"] == {"en_construction": 1, "en_instruction": 1}
    assert body["deadline_at"].startswith("2026-03-20T23:00:00")  # midnight in Paris
    assert [v["key"] for v in body["definition"]["volets"]][0] == "identification"


def test_dossiers_are_filtered_and_paged_by_a_cursor(world, session, client, scene):
    campaign = scene["campaign"]
    hospital = world.organisation()
    more = [world.dossier(campaign, hospital, "en_instruction") for _ in range(3)]
    _, secret = make_token(world, session, [campaign], scope="lecture")
    url = "/api/v1/campaigns/test-asp/dossiers"

    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(url, query_string=query, headers=bearer(secret)).get_json()
        assert len(page["items"]) <= 2
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = sorted([scene["building"].id, scene["instructing"].id, *(d.id for d in more)])
    assert seen == expected  # the brouillon is not there

    building = client.get(
        url, query_string={"state": "en_construction"}, headers=bearer(secret)
    ).get_json()
    assert [d["id"] for d in building["items"]] == [scene["building"].id]
    assert building["items"][0]["speciality"] == "Dermatologie"
    none = client.get(url, query_string={"speciality": "Pédiatrie"}, headers=bearer(secret))
    assert none.get_json()["items"] == []

    with transaction(session):
        session.get(Dossier, more[0].id).updated_at = at_paris(2026, 4, 5)
        for d in [scene["building"], scene["instructing"], *more[1:]]:
            session.get(Dossier, d.id).updated_at = at_paris(2026, 3, 1)
    recent = client.get(
        url, query_string={"updated_since": "2026-04-01T00:00:00+02:00"}, headers=bearer(secret)
    ).get_json()
    assert [d["id"] for d in recent["items"]] == [more[0].id]

    wrong = client.get(url, query_string={"limit": 0}, headers=bearer(secret))
    assert "limit" in is_problem(wrong, 422)["errors"]


def test_a_dossier_gives_its_fields_pieces_avis_decision_and_trail(world, session, client):
    dossier, _ = world.deposited(avis=AVIS)
    _, secret = make_token(world, session, [dossier.campaign])
    response = client.get(f"/api/v1/dossiers/{dossier.id}", headers=bearer(secret))
    assert response.status_code == 200
    body = response.get_json()
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert body["state"] == "en_construction"
    assert body["number"] == dossier.number
    assert body["candidate_name"] == "Lambourde Peggy"
    assert body["values"]["identification"]["partenaire_nom"]
    assert [p["key"] for p in body["pieces"]] == ["cv"]
    assert body["pieces"][0]["download_url"].endswith(f"/api/v1/dossiers/{dossier.id}/pieces/cv")
    assert body["decision"] is None
    assert [(e["event"], e["to_state"]) for e in body["audit"]] == [("deposer", "en_construction")]
    # The piece's file is not in this test's storage: a 404, in JSON.
    is_problem(client.get(f"/api/v1/dossiers/{dossier.id}/pieces/cv", headers=bearer(secret)), 404)
    is_problem(
        client.get(f"/api/v1/dossiers/{dossier.id}/pieces/inconnue", headers=bearer(secret)), 404
    )


# --- writing ----------------------------------------------------------------------------------


def test_a_token_passes_a_dossier_into_instruction_under_its_name(world, session, client, scene):
    token, secret = make_token(world, session, [scene["campaign"]])
    dossier = scene["building"]
    with time_machine.travel(INSTRUCTING, tick=False):
        response = client.post(
            f"/api/v1/dossiers/{dossier.id}/events",
            json={"event": "passer_en_instruction"},
            headers=bearer(secret, **{"If-Match": f'"{dossier.version}"'}),
        )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["state"] == "en_instruction"
    assert body["version"] == dossier.version + 1
    event = session.scalars(select(AuditEvent).where(AuditEvent.dossier_id == dossier.id)).one()
    assert event.actor_label == f"jeton : {token.name}"
    assert (event.from_state, event.to_state) == ("en_construction", "en_instruction")
    # The same mail as from the page: « votre dossier va être examiné ».
    mails = session.scalars(select(OutboxMail).where(OutboxMail.dossier_id == dossier.id))
    assert [m.template for m in mails] == ["passage_en_instruction"]
    stored = session.get(ApiToken, token.id)
    session.refresh(stored)
    assert stored.last_used_at is not None


def test_a_stale_or_missing_version_changes_nothing(world, session, client, scene):
    _, secret = make_token(world, session, [scene["campaign"]])
    dossier = scene["building"]
    url = f"/api/v1/dossiers/{dossier.id}/events"
    stale = client.post(
        url,
        json={"event": "passer_en_instruction"},
        headers=bearer(secret, **{"If-Match": str(dossier.version - 1 or 99)}),
    )
    body = is_problem(stale, 412)
    assert "modifié entre-temps" in body["detail"]
    assert body["version"] == dossier.version
    assert stale.headers["ETag"] == f'"{dossier.version}"'
    missing = client.post(url, json={"event": "passer_en_instruction"}, headers=bearer(secret))
    assert "If-Match" in is_problem(missing, 428)["detail"]
    session.refresh(dossier)
    assert dossier.state == "en_construction"


def test_a_guard_refuses_with_its_french_reasons(world, session, client, scene):
    _, secret = make_token(world, session, [scene["campaign"]])
    dossier = scene["instructing"]
    url = f"/api/v1/dossiers/{dossier.id}/events"
    headers = bearer(secret, **{"If-Match": str(dossier.version)})
    with time_machine.travel(INSTRUCTING, tick=False):
        refused = client.post(url, json={"event": "accepter"}, headers=headers)
        body = is_problem(refused, 422)
        assert "Accepter" in body["detail"]
        assert body["reasons"] and all(isinstance(r, str) for r in body["reasons"])
        # The state machine's own rule: passer_en_instruction is not possible from here.
        wrong_state = client.post(url, json={"event": "passer_en_instruction"}, headers=headers)
        assert "Actions possibles" in is_problem(wrong_state, 422)["reasons"][0]
        # A déposant's event is not an instruction event: refused by the schema.
        deposit = client.post(url, json={"event": "deposer"}, headers=headers)
        assert "event" in is_problem(deposit, 422)["errors"]
        corrections = client.post(
            url,
            json={
                "event": "demander_corrections",
                "message": "Joindre le CV signé du candidat.",
                "due_date": "2026-04-15",
            },
            headers=headers,
        )
    assert corrections.status_code == 200, corrections.get_data(as_text=True)
    session.refresh(dossier)
    assert dossier.state == "en_construction"
    assert dossier.corrections_message == "Joindre le CV signé du candidat."


def test_a_decision_is_recorded_with_its_motivation(world, session, client, scene):
    _, secret = make_token(world, session, [scene["campaign"]])
    dossier = scene["instructing"]
    with time_machine.travel(INSTRUCTING, tick=False):
        response = client.post(
            f"/api/v1/dossiers/{dossier.id}/events",
            json={"event": "accepter", "motivation": "Projet de service solide."},
            headers=bearer(secret, **{"If-Match": str(dossier.version)}),
        )
    assert response.status_code == 200, response.get_data(as_text=True)
    detail = client.get(f"/api/v1/dossiers/{dossier.id}", headers=bearer(secret)).get_json()
    assert detail["state"] == "accepte"
    assert detail["decision"]["kind"] == "accepte"
    assert detail["decision"]["motivation"] == "Projet de service solide."
    assert detail["decision"]["published_at"] is None  # grouped publication


def test_nul_characters_of_a_json_body_are_removed_as_from_a_form(world, session, client, scene):
    """A « \\u0000 » in a motivation made PostgreSQL refuse the decision (a 500) and SQLite
    keep it: the API reads its bodies without NUL characters, like the forms."""
    _, secret = make_token(world, session, [scene["campaign"]])
    dossier = scene["instructing"]

    def accept(body: str):
        with time_machine.travel(INSTRUCTING, tick=False):
            return client.post(
                f"/api/v1/dossiers/{dossier.id}/events",
                data='{"event": "accepter", "motivation": "Projet\\u0000 solide."' + body + "}",
                content_type="application/json",
                headers=bearer(secret, **{"If-Match": str(dossier.version)}),
            )

    is_problem(accept(', "\\u0000": 1'), 422)  # the key "\\u0000" became "", which no field is
    response = accept("")
    assert response.status_code == 200, response.get_data(as_text=True)
    detail = client.get(f"/api/v1/dossiers/{dossier.id}", headers=bearer(secret)).get_json()
    assert detail["decision"]["motivation"] == "Projet solide."


def test_a_token_asks_for_an_avis_the_campaign_lists(world, session, client, scene):
    token, secret = make_token(world, session, [scene["campaign"]])
    dossier = scene["instructing"]
    url = f"/api/v1/dossiers/{dossier.id}/avis"
    with time_machine.travel(INSTRUCTING, tick=False):
        asked = client.post(
            url,
            json={"avis_key": "coordonnateur", "giver_email": "coord.dermato@aphp.fr"},
            headers=bearer(secret),
        )
        unknown = client.post(
            url,
            json={"avis_key": "inconnu", "giver_email": "coord.dermato@aphp.fr"},
            headers=bearer(secret),
        )
    assert asked.status_code == 201, asked.get_data(as_text=True)
    avis = session.get(Avis, asked.get_json()["id"])
    assert avis.giver_email == "coord.dermato@aphp.fr"
    mails = session.scalars(select(OutboxMail).where(OutboxMail.recipient == avis.giver_email))
    assert len(list(mails)) == 1
    assert "pas prévu" in is_problem(unknown, 422)["detail"]
    trail = session.scalars(
        select(AuditEvent.actor_label).where(AuditEvent.dossier_id == dossier.id)
    ).all()
    assert f"jeton : {token.name}" in trail


def test_the_token_form_checks_its_fields(world, session, scene):
    from workflow.plumbing.errors import InvalidInput

    admin = world.actor("administrateur")
    with pytest.raises(InvalidInput) as refused, transaction(session):
        create_token(session, " ", "tout", [], admin)
    assert set(refused.value.errors) == {"name", "scope", "campaigns"}
    instructeur = world.actor("instructeur")
    with pytest.raises(InvalidInput), transaction(session):
        create_token(session, "outil", "lecture", [scene["campaign"].id], instructeur)
    with transaction(session):
        token, secret = create_token(session, "outil", "lecture", [scene["campaign"].id], admin)
    # Only the hash is kept; the prefix tells it apart on the list.
    assert secret not in (token.secret_hash, token.prefix)
    assert secret.startswith(token.prefix)
    assert dt.datetime.now(dt.UTC) >= token.created_at


# --- every route, every kind of caller --------------------------------------------------------

# (method, path, json body); {slug}, {dossier} name the scene's campaign and dossier.
API_ROUTES = [
    ("get", "/api/v1/campaigns", None),
    ("get", "/api/v1/campaigns/{slug}", None),
    ("get", "/api/v1/campaigns/{slug}/dossiers", None),
    ("get", "/api/v1/dossiers/{dossier}", None),
    ("get", "/api/v1/dossiers/{dossier}/pieces/cv", None),
    ("post", "/api/v1/dossiers/{dossier}/events", {"event": "passer_en_instruction"}),
    (
        "post",
        "/api/v1/dossiers/{dossier}/avis",
        {"avis_key": "coordonnateur", "giver_email": "coord@chu.fr"},
    ),
]
WRITES = [route for route in API_ROUTES if route[0] == "post"]
CALLERS = ["sans_jeton", "autre_campagne", "lecture", "ecriture"]


def test_every_api_route_is_in_the_access_tests(app):
    adapter = app.url_map.bind("localhost")
    covered = {
        adapter.match(path.format(slug="c", dossier=1), method=method.upper())[0]
        for method, path, _ in API_ROUTES
    }
    routes = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    assert routes == covered


@pytest.mark.parametrize(("method", "path", "body"), API_ROUTES)
@pytest.mark.parametrize("caller", CALLERS)
def test_api_routes(caller, method, path, body, world, session, client, scene, app):
    from tests.conftest import pdf_bytes
    from workflow.plumbing.storage import Storage

    campaign, dossier = scene["campaign"], scene["building"]
    with transaction(session):
        dossier.attachments[0].storage_name = Storage(app.config["UPLOAD_DIR"]).save(pdf_bytes())
    headers = {"If-Match": str(dossier.version)}
    if caller != "sans_jeton":
        scoped = scene["other"] if caller == "autre_campagne" else campaign
        scope = "lecture" if caller in ("autre_campagne", "lecture") else "ecriture"
        _, secret = make_token(world, session, [scoped], scope=scope)
        headers.update(bearer(secret))
    url = path.format(slug=campaign.slug, dossier=dossier.id)
    with time_machine.travel(INSTRUCTING, tick=False):
        response = getattr(client, method)(url, json=body, headers=headers)
    if caller == "sans_jeton":
        is_problem(response, 401)
    elif caller == "autre_campagne" and path != "/api/v1/campaigns":
        is_problem(response, 403 if method == "post" else 404)
    elif caller == "lecture" and method == "post":
        is_problem(response, 403)
    else:
        assert response.status_code in (200, 201), response.get_data(as_text=True)


# --- the administrator's pages ----------------------------------------------------------------


def test_an_administrator_creates_a_token_whose_secret_is_shown_once(world, client, auth, scene):
    auth.login(world.user("administrateur"))
    campaign = scene["campaign"]
    created = client.post(
        "/admin/api/jetons",
        data={
            "name": "Entrepôt de données ARS",
            "scope": "ecriture",
            "campagnes": [str(campaign.id)],
            "expires_on": "2026-12-31",
        },
    )
    assert created.status_code == 200
    secret = re.search(r'<code id="secret">(pp_[^<]+)</code>', created.text).group(1)
    assert client.get("/api/v1/campaigns", headers=bearer(secret)).status_code == 200
    listed = client.get("/admin/api/jetons")
    assert secret not in listed.text
    assert secret[:10] in listed.text  # the prefix tells it apart
    assert "Entrepôt de données ARS" in listed.text and "Lecture et écriture" in listed.text
    assert "31 décembre 2026 inclus" in listed.text

    refused = client.post("/admin/api/jetons", data={"name": "Entrepôt de données ARS"})
    assert refused.status_code == 422
    assert "Un jeton porte déjà ce nom." in refused.text

    token_id = int(re.search(r'id="jeton-(\d+)"', listed.text).group(1))
    revoked = client.post(f"/admin/api/jetons/{token_id}/revoquer", follow_redirects=True)
    assert "est révoqué" in revoked.text
    is_problem(client.get("/api/v1/campaigns", headers=bearer(secret)), 401)


def test_tokens_and_webhooks_opened_and_closed_are_in_the_security_journal(
    world, session, client, auth, scene
):
    """A token opens the API on its campaigns and a webhook sends their events outside: who
    created, revoked, registered or stopped one, when and from where is journaled once,
    without the secret."""
    admin = world.user("administrateur")
    auth.login(admin)
    campaign = scene["campaign"]
    created = client.post(
        "/admin/api/jetons",
        data={"name": "Infocentre", "scope": "lecture", "campagnes": [str(campaign.id)]},
    )
    assert created.status_code == 200
    token = session.scalars(select(ApiToken).where(ApiToken.name == "Infocentre")).one()
    for _ in range(2):  # revoking twice journals once
        client.post(f"/admin/api/jetons/{token.id}/revoquer")
    registered = client.post(
        "/admin/api/webhooks",
        data={
            "url": "https://infocentre.ars.example/evenements",
            "campagne": str(campaign.id),
            "evenements": ["dossier.etat_change"],
        },
    )
    assert registered.status_code == 200
    hook_id = int(re.search(r'<tr id="webhook-(\d+)"', registered.text).group(1))
    for _ in range(2):
        client.post(f"/admin/api/webhooks/{hook_id}/arreter")

    session.rollback()
    events = session.scalars(select(SecurityEvent).order_by(SecurityEvent.id)).all()
    journaled = [e for e in events if e.kind.startswith(("jeton", "webhook"))]
    assert [e.kind for e in journaled] == [
        "jeton_api_cree",
        "jeton_api_revoque",
        "webhook_enregistre",
        "webhook_arrete",
    ]
    assert {(e.actor_id, e.client_address) for e in journaled} == {(admin.id, "127.0.0.1")}
    made, revoked, hooked, stopped = journaled
    assert made.detail == {
        "jeton": token.id,
        "nom": "Infocentre",
        "prefixe": token.prefix,
        "portee": "lecture",
        "campagnes": [campaign.id],
        "expiration": None,
    }
    assert revoked.detail["nom"] == "Infocentre"
    assert (
        hooked.detail
        == stopped.detail
        == {
            "webhook": hook_id,
            "campagne": campaign.id,
            "url": "https://infocentre.ars.example/evenements",
            "evenements": ["dossier.etat_change"],
        }
    )
    shown = [
        re.search(r'<code id="secret">([^<]+)</code>', page.text).group(1)
        for page in (created, registered)
    ]
    assert not any(secret in str(e.detail) for e in journaled for secret in shown)
    journal = client.get("/admin/journal-securite").text
    for label in ("Jeton d'API créé", "Jeton d'API révoqué", "Webhook enregistré"):
        assert label in journal.replace("&#39;", "'")
    assert "Webhook arrêté" in journal


def test_every_call_by_a_token_is_journaled_under_its_name(world, session, client, auth, scene):
    """« every call by a token is in the audit trail under the token's name » (issue #13):
    reads and refusals too, with their answer's status; the administrator reads them."""
    token, secret = make_token(world, session, [scene["campaign"]], scope="lecture")
    elsewhere = scene["elsewhere"]
    client.get("/api/v1/campaigns", headers=bearer(secret))
    client.get(f"/api/v1/dossiers/{elsewhere.id}", headers=bearer(secret))
    client.get("/api/v1/campaigns")  # no token: nobody to journal it under
    session.rollback()
    calls = recent_calls(session, token.id)
    assert [(c.method, c.path, c.status, c.token_name) for c in calls] == [
        ("GET", f"/api/v1/dossiers/{elsewhere.id}", 404, token.name),
        ("GET", "/api/v1/campaigns", 200, token.name),
    ]
    auth.login(world.user("administrateur"))
    page = client.get(f"/admin/api/jetons/{token.id}/appels").text
    assert f"Appels du jeton « {token.name} »" in page
    assert f"/api/v1/dossiers/{elsewhere.id}" in page and "404" in page
    assert client.get("/admin/api/jetons/999999/appels").status_code == 404
