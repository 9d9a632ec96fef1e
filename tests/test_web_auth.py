"""The account pages as a Bureau des Affaires Médicales uses them: « Création de compte »,
the confirmation link, « Connexion », « Mot de passe oublié ? », « Mon compte »."""

from __future__ import annotations

import datetime as dt
import html
import re

import time_machine
from sqlalchemy import select

from workflow.models import OutboxMail, User

PASSWORD = "Affaires-Medicales-2026"
FORM = {
    "organisation_type": "etablissement_sante",
    "organisation_name": "Centre Hospitalier de Gonesse",
    "finess": "950001370",
    "email": "bam@ch-gonesse.example.fr",
    "password": PASSWORD,
    "password_confirmation": PASSWORD,
}


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def last_token(session, template: str) -> str:  # type: ignore[no-untyped-def]
    session.rollback()
    mails = session.scalars(select(OutboxMail).where(OutboxMail.template == template)).all()
    return mails[-1].context["token"]


def register_and_confirm(client, session) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/compte/creation", data=FORM).status_code == 302
    client.get(f"/compte/confirmer/{last_token(session, 'confirmation_compte')}")
    client.get("/connexion")  # shows (and so clears) the "confirmée" message


def sign_in(client, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/connexion", data={"email": FORM["email"], "password": password})


def test_the_registration_page_states_the_password_rules(client):
    page = text_of(client.get("/compte/creation"))
    assert "Au moins 12 caractères, dont au moins une lettre minuscule" in page
    assert "N° FINESS de l'établissement" in page and "9 caractères" in page


def test_a_bad_finess_is_refused_next_to_its_field(client, session):
    response = client.post("/compte/creation", data={**FORM, "finess": "950001371"})
    assert response.status_code == 422
    assert re.search(
        r'id="error-finess">La clé de contrôle du n° FINESS est invalide', response.text
    )
    assert 'aria-describedby="hint-finess error-finess"' in response.text
    assert 'value="Centre Hospitalier de Gonesse"' in response.text  # the form is kept
    assert PASSWORD not in response.text  # but never the password
    assert session.scalars(select(User)).all() == []


def test_a_university_registers_through_the_form_without_siret(client, session):
    # AUMG manual: « Un Identifiant : l'adresse email de l'université ; Un Mot de passe :
    # choisi par l'université ».
    university = {
        **FORM,
        "organisation_type": "universite",
        "organisation_name": "Université Paris-Saclay — DUMG",
        "finess": "",
        "siret": "",
        "email": "dumg@universite-paris-saclay.example.fr",
    }
    response = client.post("/compte/creation", data=university)
    assert response.location == "/compte/creation/envoye"
    (user,) = session.scalars(select(User)).all()
    assert user.email == "dumg@universite-paris-saclay.example.fr"
    wrong_key = client.post(
        "/compte/creation", data={**university, "siret": "77220148900023", "email": "b@u.fr"}
    )
    assert wrong_key.status_code == 422
    assert 'id="error-siret"' in wrong_key.text


def test_registering_sends_a_confirmation_link_before_the_first_sign_in(client, session):
    response = client.post("/compte/creation", data=FORM)
    assert response.location == "/compte/creation/envoye"
    assert "bam@ch-gonesse.example.fr" in text_of(client.get(response.location))
    refused = sign_in(client)
    assert refused.status_code == 403
    assert "n'est pas encore confirmée" in text_of(refused)
    assert "Recevoir un nouveau lien de confirmation" in refused.text
    confirmed = client.get(f"/compte/confirmer/{last_token(session, 'confirmation_compte')}")
    assert confirmed.location == "/connexion"
    signed_in = sign_in(client)
    assert signed_in.location == "/mes-dossiers"
    assert client.get("/mes-dossiers").status_code == 200


def test_the_session_cookie_is_httponly_and_samesite(client, session):
    register_and_confirm(client, session)
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_an_expired_confirmation_link_says_so(client, session):
    with time_machine.travel(dt.datetime(2026, 2, 1, 9, tzinfo=dt.UTC), tick=False):
        client.post("/compte/creation", data=FORM)
    token = last_token(session, "confirmation_compte")
    with time_machine.travel(dt.datetime(2026, 2, 5, 9, tzinfo=dt.UTC), tick=False):
        response = client.get(f"/compte/confirmer/{token}")
    assert response.status_code == 400
    assert "Ce lien a expiré : il n'était valable que 3 jours." in text_of(response)


def test_a_resend_gives_a_new_link(client, session):
    client.post("/compte/creation", data=FORM)
    client.post("/compte/confirmation/renvoyer", data={"email": FORM["email"]})
    session.rollback()
    mails = session.scalars(
        select(OutboxMail).where(OutboxMail.template == "confirmation_compte")
    ).all()
    assert len(mails) == 2


def test_wrong_password_and_unknown_address_read_the_same(client, session):
    register_and_confirm(client, session)
    wrong = sign_in(client, "Pas-Le-Bon-Mot-2026")
    unknown = client.post("/connexion", data={"email": "x@example.fr", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert "Adresse électronique ou mot de passe incorrect." in text_of(wrong)
    assert "Adresse électronique ou mot de passe incorrect." in text_of(unknown)


def test_after_a_failed_sign_in_the_address_field_points_at_the_error(client, session):
    register_and_confirm(client, session)
    wrong = sign_in(client, "Pas-Le-Bon-Mot-2026")
    field = re.search(r'<input[^>]*id="f-email"[^>]*>', wrong.text).group(0)
    assert 'aria-describedby="error-login"' in field and 'aria-invalid="true"' in field
    assert 'id="error-login"' in wrong.text
    assert "&#34;" not in field


def test_the_registration_form_asks_for_digits_on_phones_keyboards(client):
    page = client.get("/compte/creation").text
    finess = re.search(r'<input[^>]*id="f-finess"[^>]*>', page).group(0)
    assert 'inputmode="numeric"' in finess and 'maxlength="11"' in finess
    assert "&#34;" not in page


def test_sign_in_returns_to_the_page_asked_but_never_to_another_site(client, session):
    register_and_confirm(client, session)
    back = client.post(
        "/connexion",
        data={"email": FORM["email"], "password": PASSWORD, "next": "/compte"},
    )
    assert back.location == "/compte"
    client.post("/deconnexion")
    away = client.post(
        "/connexion",
        data={"email": FORM["email"], "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert away.location == "/mes-dossiers"


def test_the_forgotten_password_page_answers_the_same_for_any_address(client, session):
    register_and_confirm(client, session)
    known = text_of(client.post("/compte/mot-de-passe-oublie", data={"email": FORM["email"]}))
    unknown = text_of(
        client.post("/compte/mot-de-passe-oublie", data={"email": "personne@example.fr"})
    )
    assert known.replace(FORM["email"], "@") == unknown.replace("personne@example.fr", "@")
    assert "Si un compte existe pour l'adresse" in known


def test_a_reset_link_sets_a_new_password_once(client, session):
    register_and_confirm(client, session)
    client.post("/compte/mot-de-passe-oublie", data={"email": FORM["email"]})
    url = f"/compte/mot-de-passe/{last_token(session, 'reinitialisation_mot_de_passe')}"
    assert "Choisir un nouveau mot de passe" in text_of(client.get(url))
    weak = client.post(url, data={"password": "court", "password_confirmation": "court"})
    assert weak.status_code == 422 and "au moins 12 caractères" in text_of(weak)
    new = "Nouveau-Mot-De-Passe-2026"
    done = client.post(url, data={"password": new, "password_confirmation": new})
    assert done.location == "/connexion"
    again = client.get(url)
    assert again.status_code == 400
    assert "Ce lien a déjà servi" in text_of(again)
    assert sign_in(client, new).location == "/mes-dossiers"


def test_changing_the_password_keeps_this_session_and_ends_the_others(app, client, session):
    register_and_confirm(client, session)
    sign_in(client)
    other = app.test_client()
    other.post("/connexion", data={"email": FORM["email"], "password": PASSWORD})
    assert other.get("/compte").status_code == 200
    new = "Nouveau-Mot-De-Passe-2026"
    response = client.post(
        "/compte/mot-de-passe",
        data={"current_password": PASSWORD, "password": new, "password_confirmation": new},
    )
    assert response.location == "/compte"
    assert client.get("/compte").status_code == 200
    assert other.get("/compte").status_code == 302  # back to the sign-in


def test_a_colleague_is_invited_from_my_account(client, session):
    register_and_confirm(client, session)
    sign_in(client)
    response = client.post("/compte/invitations", data={"email": "adjointe@ch-gonesse.example.fr"})
    assert response.location == "/compte"
    assert "adjointe@ch-gonesse.example.fr" in text_of(client.get("/compte"))
    url = f"/compte/invitation/{last_token(session, 'invitation_compte')}"
    client.post("/deconnexion")
    new = "Bureau-Medical-Gonesse-2026"
    assert client.post(url, data={"password": new, "password_confirmation": new}).status_code == 302
    signed = client.post(
        "/connexion", data={"email": "adjointe@ch-gonesse.example.fr", "password": new}
    )
    assert signed.location == "/mes-dossiers"


def test_signing_out_ends_the_session(client, session):
    register_and_confirm(client, session)
    sign_in(client)
    assert client.post("/deconnexion").location == "/"
    assert client.get("/mes-dossiers").status_code == 302


def test_a_head_request_shows_the_form_and_never_runs_the_sign_in_or_the_reset(client, session):
    # HEAD is exempt from CSRF: it must never reach what a POST does.
    register_and_confirm(client, session)
    for path in ("/connexion", "/compte/mot-de-passe-oublie", "/compte/creation"):
        assert client.head(path, query_string={"email": FORM["email"]}).status_code == 200
    session.rollback()
    resets = session.scalars(
        select(OutboxMail).where(OutboxMail.template == "reinitialisation_mot_de_passe")
    ).all()
    assert resets == []
