"""ProConnect for the ARS's agents, against a local OpenID Connect provider on loopback
(tests/oidc_provider.py): an invited agent signs in and out; a tampered, misaddressed or
expired ID token, an address nobody invited, an agent of another organisation and a
déposant are each refused in French, with nothing created and the refusal journaled; the
administrator's « ProConnect obligatoire pour les agents » refuses agents' passwords."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import TEST_SECRET_KEY
from tests.oidc_provider import ARS_SIRET, CLIENT_ID, CLIENT_SECRET, Identity, Provider
from workflow.administration.instructors import create_instructor
from workflow.models import SecurityEvent, SignInSession, User
from workflow.people.actors import Actor
from workflow.people.agent_sign_in import (
    PASSWORD_REFUSED,
    proconnect_required,
    set_proconnect_required,
)
from workflow.people.passwords import hash_password
from workflow.plumbing.db import transaction

PASSWORD = "un mot de passe assez long"


@pytest.fixture
def provider() -> Iterator[Provider]:
    running = Provider().start()
    yield running
    running.stop()


def proconnect_config(issuer: str) -> dict[str, str]:
    return {
        "PROCONNECT_ISSUER": issuer,
        "PROCONNECT_CLIENT_ID": CLIENT_ID,
        "PROCONNECT_CLIENT_SECRET": CLIENT_SECRET,
        "PROCONNECT_SIRETS": ARS_SIRET,
    }


@pytest.fixture
def app(db_url: str, tmp_path: Path, provider: Provider):  # type: ignore[no-untyped-def]
    from web import create_app

    app = create_app(
        {
            "DATABASE_URL": db_url,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": TEST_SECRET_KEY,
            "DEVELOPMENT": False,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "SMTP_URL": None,
            **proconnect_config(provider.issuer),
        }
    )
    yield app
    app.extensions["db_sessions"].kw["bind"].dispose()


def invited(world, session, email: str = "camille.agent@ars.sante.fr") -> User:  # type: ignore[no-untyped-def]
    """An instructeur an administrator invited (no password chosen yet)."""
    admin = world.actor("administrateur")
    with transaction(session):
        return create_instructor(session, email, "Camille Agent", admin, secret_key="k" * 40)


def through_provider(client, provider: Provider) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Clicks « S'identifier avec ProConnect », lets the provider answer, and comes back:
    the callback's status and page."""
    started = client.post("/connexion/proconnect")
    assert started.status_code == 302
    authorize = started.headers["Location"]
    assert authorize.startswith(provider.issuer + "/authorize?")
    answer = requests.get(authorize, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert back.path == "/connexion/proconnect/retour"
    response = client.get(f"{back.path}?{back.query}")
    return response.status_code, html.unescape(response.get_data(as_text=True))


def fresh(session) -> None:  # type: ignore[no-untyped-def]
    """Reads again what the app wrote in its own transactions."""
    session.rollback()
    session.expire_all()


def sign_in_events(session, kind: str) -> list[SecurityEvent]:  # type: ignore[no-untyped-def]
    fresh(session)
    return list(session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)))


def test_an_invited_instructeur_signs_in_with_proconnect_and_out_again(
    client, provider, world, session
):
    user = invited(world, session)
    provider.identity = Identity(email="Camille.Agent@ars.sante.fr")

    status, _ = through_provider(client, provider)

    assert status == 302
    asked = provider.authorizations[-1]
    # PKCE with S256, a nonce and a state were sent; the client asked for the SIRET.
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) >= 43
    assert asked["nonce"] and asked["state"]
    assert "siret" in asked["scope"].split()
    home = client.get("/instruction/")
    assert home.status_code == 200
    fresh(session)
    assert session.get(User, user.id).email_confirmed_at is not None
    succeeded = sign_in_events(session, "connexion_reussie")
    assert [(e.user_id, e.detail) for e in succeeded] == [(user.id, {"methode": "ProConnect"})]

    out = client.post("/deconnexion")
    assert out.status_code == 302
    logout = urlsplit(out.headers["Location"])
    assert f"{logout.scheme}://{logout.netloc}{logout.path}" == provider.issuer + "/session/end"
    query = parse_qs(logout.query)
    assert query["id_token_hint"][0].count(".") == 2
    back = requests.get(out.headers["Location"], allow_redirects=False, timeout=10)
    landing = urlsplit(back.headers["Location"])
    final = client.get(f"{landing.path}?{landing.query}", follow_redirects=True)
    assert "Vous êtes déconnecté, de ce service et de ProConnect." in final.get_data(as_text=True)
    assert client.get("/instruction/").status_code == 302  # signed out here too
    fresh(session)
    assert session.scalar(select(func.count()).where(SignInSession.ended_at.is_(None))) == 0


@pytest.mark.parametrize(
    ("fault", "motif"),
    [
        ("tampered", "signature du jeton d'identité invalide"),
        ("wrong_audience", "jeton d'identité destiné à un autre service (aud)"),
        ("expired", "jeton d'identité expiré"),
    ],
)
def test_an_untrustworthy_id_token_is_refused_and_journaled(
    client, provider, world, session, fault, motif
):
    invited(world, session)
    provider.identity = Identity(email="camille.agent@ars.sante.fr")
    provider.fault = fault

    status, page = through_provider(client, provider)

    assert status == 400
    assert "La connexion avec ProConnect n'a pas abouti" in page
    assert client.get("/instruction/").status_code == 302
    assert sign_in_events(session, "connexion_reussie") == []
    refused = sign_in_events(session, "connexion_echouee")
    assert [e.detail for e in refused] == [{"motif": motif, "methode": "ProConnect"}]
    assert session.scalar(select(func.count(SignInSession.id))) == 0


def test_an_address_nobody_invited_creates_nothing(client, provider, session):
    provider.identity = Identity(email="inconnu@ars.sante.fr")

    status, page = through_provider(client, provider)

    assert status == 403
    assert "Aucun compte de l'ARS n'est ouvert pour l'adresse inconnu@ars.sante.fr" in page
    assert session.scalar(select(func.count(User.id))) == 0
    refused = sign_in_events(session, "connexion_echouee")
    assert [(e.email, e.detail["motif"]) for e in refused] == [
        ("inconnu@ars.sante.fr", "adresse non invitée")
    ]


def test_an_agent_of_another_organisation_is_refused(client, provider, world, session):
    invited(world, session)
    provider.identity = Identity(email="camille.agent@ars.sante.fr", siret="35600000000048")

    status, page = through_provider(client, provider)

    assert status == 403
    assert "ProConnect vous identifie pour une autre organisation que l'ARS" in page
    assert sign_in_events(session, "connexion_reussie") == []


def test_a_deposant_keeps_the_password_and_is_refused_by_proconnect(
    client, provider, world, session
):
    hospital = world.organisation()
    deposant = world.user("deposant", hospital)
    provider.identity = Identity(email=deposant.email)

    status, page = through_provider(client, provider)

    assert status == 403
    assert "ProConnect est réservé aux agents de l'ARS" in page


def password_account(world, session, role: str) -> User:  # type: ignore[no-untyped-def]
    user = world.user(role)
    with transaction(session):
        user.password_hash = hash_password(PASSWORD)
        user.email_confirmed_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return user


def test_when_proconnect_is_required_agents_passwords_are_refused(client, world, session):
    admin = password_account(world, session, "administrateur")
    instructeur = password_account(world, session, "instructeur")
    hospital = world.organisation()
    deposant = world.user("deposant", hospital)
    with transaction(session):
        deposant.password_hash = hash_password(PASSWORD)
        deposant.email_confirmed_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert proconnect_required(session) is False
    with transaction(session):
        assert set_proconnect_required(session, True, Actor.of(admin), client_address="127.0.0.1")

    refused = client.post("/connexion", data={"email": instructeur.email, "password": PASSWORD})
    assert refused.status_code == 403
    page = html.unescape(refused.get_data(as_text=True))
    assert PASSWORD_REFUSED in page
    assert "S’identifier avec" in page
    assert client.get("/instruction/").status_code == 302

    # Password sign-in stays for applicants.
    applicant = client.post("/connexion", data={"email": deposant.email, "password": PASSWORD})
    assert applicant.status_code == 302
    changed = sign_in_events(session, "parametre_change")
    assert [(e.actor_id, e.detail) for e in changed] == [
        (admin.id, {"parametre": "ProConnect obligatoire pour les agents", "valeur": "oui"})
    ]
    motifs = [e.detail.get("motif") for e in sign_in_events(session, "connexion_echouee")]
    assert motifs == ["ProConnect obligatoire"]


def test_a_callback_with_a_state_this_browser_never_sent_is_refused(client, provider, session):
    response = client.get("/connexion/proconnect/retour?code=fabrique&state=inconnu")

    assert response.status_code == 400
    assert "La connexion avec ProConnect n&#39;a pas abouti" in response.get_data(as_text=True)
    refused = sign_in_events(session, "connexion_echouee")
    assert [e.detail["motif"] for e in refused] == ["état (state) inconnu ou déjà utilisé"]
    assert provider.authorizations == []


def test_without_proconnect_configured_there_is_no_button_and_no_route(sqlite_url, tmp_path):
    from web import create_app

    plain = create_app(
        {
            "DATABASE_URL": sqlite_url,
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET_KEY,
            "DEVELOPMENT": False,
            "UPLOAD_DIR": str(tmp_path / "u"),
        }
    ).test_client()
    assert "ProConnect" not in plain.get("/connexion").get_data(as_text=True)
    assert plain.get("/connexion/proconnect/retour?code=x&state=y").status_code == 404


def test_production_refuses_proconnect_over_http_or_half_configured():
    from web.shared.config import ConfigurationError, check_proconnect

    with pytest.raises(ConfigurationError, match="https://"):
        check_proconnect(proconnect_config("http://proconnect.example"))
    with pytest.raises(ConfigurationError, match="PROCONNECT_SIRETS"):
        check_proconnect(
            {**proconnect_config("https://proconnect.example"), "PROCONNECT_SIRETS": ""}
        )
    check_proconnect(proconnect_config("https://proconnect.example"))
    check_proconnect({})  # unset: ProConnect is off


def test_an_administrator_requires_proconnect_from_the_agents_page(client, auth, world, session):
    auth.login(world.user("administrateur"))
    page = html.unescape(client.get("/admin/connexion-agents").text)
    assert "ProConnect obligatoire pour les agents" in page

    response = client.post("/admin/connexion-agents", data={"obligatoire": "1"})

    assert response.status_code == 302
    fresh(session)
    assert proconnect_required(session) is True
    shown = html.unescape(client.get("/admin/connexion-agents").text)
    assert "ProConnect est obligatoire pour les agents : leur mot de passe ne suffit plus." in shown
    client.post("/admin/connexion-agents", data={"obligatoire": "0"})
    values = [e.detail["valeur"] for e in sign_in_events(session, "parametre_change")]
    assert values == ["oui", "non"]
