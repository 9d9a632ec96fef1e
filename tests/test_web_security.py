"""What every page carries: CSRF tokens on forms, cookies a script cannot read and that
travel only over HTTPS in production, protective headers, and the State design system when
it is installed (pages still work without it)."""

from __future__ import annotations

import re

import pytest

from web import create_app


@pytest.fixture
def make_app(sqlite_url, tmp_path):  # type: ignore[no-untyped-def]
    built = []

    def build(**config):  # type: ignore[no-untyped-def]
        app = create_app(
            {
                "DATABASE_URL": sqlite_url,
                "SECRET_KEY": "security-test-key-long-enough-for-production",
                "UPLOAD_DIR": str(tmp_path / "uploads"),
                "RATELIMIT_STORAGE_URI": "memory://",
                **config,
            }
        )
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["db_sessions"].kw["bind"].dispose()


def test_a_form_posted_without_its_csrf_token_is_refused(make_app):
    client = make_app().test_client()
    response = client.post("/connexion", data={"email": "a@b.fr", "password": "x"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)


def test_a_form_posted_with_the_token_of_its_page_is_accepted(make_app):
    client = make_app().test_client()
    page = client.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/connexion", data={"email": "a@b.fr", "password": "x", "csrf_token": token}
    )
    assert response.status_code == 401  # past the CSRF check, refused as a wrong password


def test_every_form_of_the_account_pages_carries_a_token(make_app):
    client = make_app().test_client()
    for path in ("/connexion", "/compte/creation", "/compte/mot-de-passe-oublie"):
        page = client.get(path).get_data(as_text=True)
        forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", page, re.S)
        assert forms and all('name="csrf_token"' in form for form in forms), path


def test_cookies_are_secure_when_served_over_https(make_app):
    app = make_app(BASE_URL="https://postes-partages.ars.sante.fr")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    with app.test_request_context():
        from flask import session

        session["x"] = 1
        response = app.make_response("ok")
        app.session_interface.save_session(app, session, response)
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cookies_are_not_secure_in_development_over_plain_http(make_app):
    assert make_app(BASE_URL="http://127.0.0.1:5000").config["SESSION_COOKIE_SECURE"] is False


def test_responses_carry_protective_headers(make_app):
    response = make_app().test_client().get("/connexion")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "Server" not in response.headers
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP in development


def csp_of(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    policy = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_the_content_security_policy_runs_only_this_sites_script_files(make_app):
    for path in ("/", "/connexion", "/compte/creation", "/page-qui-n-existe-pas"):
        csp = csp_of(make_app().test_client().get(path))
        assert csp["default-src"] == "'self'", path
        assert csp["script-src"] == "'self'", path  # no inline script, no eval
        assert csp["style-src"] == "'self'", path
        assert csp["img-src"] == "'self' data:"
        assert csp["font-src"] == "'self'"
        assert csp["object-src"] == "'none'"
        assert csp["base-uri"] == "'none'"
        assert csp["form-action"] == "'self'"
        assert csp["frame-ancestors"] == "'none'"


def test_no_template_carries_an_inline_script_handler_or_style():
    """The policy forbids them: each would silently stop working in the browser."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "web"
    for template in root.rglob("templates/**/*.html"):
        source = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", source), template
        assert not re.search(r"\son[a-z]+\s*=", source), template
        assert not re.search(r"\sstyle\s*=", source), template
        assert "<style" not in source, template


def test_over_https_the_browser_is_told_to_stay_on_https(make_app):
    app = make_app(BASE_URL="https://postes-partages.ars.sante.fr")
    response = app.test_client().get("/connexion")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    plain = make_app().test_client().get("/connexion", base_url="https://localhost")
    assert "includeSubDomains" in plain.headers["Strict-Transport-Security"]  # a secure request


def test_pages_use_the_design_system_when_it_is_installed(make_app, tmp_path):
    dist = tmp_path / "dsfr"
    dist.mkdir()
    (dist / "dsfr.min.css").write_text(".fr-btn{}")
    client = make_app(DSFR_DIR=str(dist)).test_client()
    page = client.get("/").get_data(as_text=True)
    assert 'href="/dsfr/dsfr.min.css"' in page
    assert client.get("/dsfr/dsfr.min.css").get_data(as_text=True) == ".fr-btn{}"


def test_pages_work_unstyled_without_the_design_system(make_app, tmp_path):
    client = make_app(DSFR_DIR=str(tmp_path / "absent")).test_client()
    response = client.get("/compte/creation")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "/dsfr/" not in page and "Création de compte" in page
    assert client.get("/dsfr/dsfr.min.css").status_code == 404


def test_pages_are_in_french_with_a_skip_link(make_app):
    page = make_app().test_client().get("/").get_data(as_text=True)
    assert '<html lang="fr"' in page
    assert 'href="#contenu">Aller au contenu</a>' in page


def test_a_volet_typed_for_hours_is_not_refused_as_expired(make_app):
    import datetime as dt

    import time_machine

    client = make_app().test_client()
    start = dt.datetime(2026, 2, 10, 9, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        page = client.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    with time_machine.travel(start + dt.timedelta(hours=3), tick=False):
        response = client.post(
            "/connexion", data={"email": "a@b.fr", "password": "x", "csrf_token": token}
        )
    assert response.status_code == 401  # a wrong password, not an expired form


def test_a_session_cookie_signed_by_flasks_own_interface_still_opens(make_app):
    """The session cookie is Flask's, read and written faster (web/shared/session_cookie.py):
    a cookie of the release before, flash messages included, opens the same, and Flask's
    own interface opens the cookies written now."""
    from flask.sessions import SecureCookieSessionInterface

    from web.shared.session_cookie import SignedCookieSessions

    app = make_app()
    assert isinstance(app.session_interface, SignedCookieSessions)
    flasks = SecureCookieSessionInterface()
    content = {
        "_user_id": "abc",
        "_fresh": True,
        "csrf_token": "f" * 40,
        "_flashes": [("success", "Le volet « Identification » est enregistré.")],
    }
    with app.test_request_context("/"):
        old = flasks.get_signing_serializer(app).dumps(content)
        new = app.session_interface.get_signing_serializer(app).dumps(content)
        assert new.split(".")[0] == old.split(".")[0]  # the same payload
        assert app.session_interface.get_signing_serializer(app).loads(old) == content
        assert flasks.get_signing_serializer(app).loads(new) == content
    client = app.test_client()
    client.set_cookie("session", old)
    assert "Le volet « Identification » est enregistré." in client.get("/connexion").text


def test_a_session_of_other_values_is_tagged_as_flask_does(make_app):
    import datetime as dt

    from flask.json.tag import TaggedJSONSerializer
    from markupsafe import Markup

    from web.shared.session_cookie import SessionSerializer

    ours, flasks = SessionSerializer(), TaggedJSONSerializer()
    with make_app().app_context():
        for value in (
            {"a": Markup("<b>gras</b>"), "b": b"octets"},
            {"quand": dt.datetime(2026, 2, 10, 9, tzinfo=dt.UTC)},
            {"imbrique": {"x": (1, 2)}},
            {" t": [1, 2]},
            {"z": 1.5, "a": None, "m": [1, (2, "é")]},
        ):
            assert ours.dumps(value) == flasks.dumps(value), value
            assert ours.loads(ours.dumps(value)) == flasks.loads(flasks.dumps(value)), value


def test_a_header_a_view_sets_itself_is_kept(make_app):
    app = make_app()

    @app.get("/entete-propre")
    def own_header():  # type: ignore[no-untyped-def]
        return "ok", 200, {"X-Frame-Options": "SAMEORIGIN", "Cache-Control": "max-age=60"}

    response = app.test_client().get("/entete-propre")
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers.getlist("Cache-Control") == ["max-age=60"]
    assert response.headers["Referrer-Policy"] == "same-origin"
