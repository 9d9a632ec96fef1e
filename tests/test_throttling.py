"""Throttling as a person meets it: a few wrong passwords lock an account for a while (from any
address, known or not), « Mot de passe oublié », account creation, avis answers and
invitations are limited per client address and per target, and each refusal is a French
page saying how long to wait, with the e-mail still filled, and a line in the security log.
The counts here live in memory (the app fixture); tests/test_throttling_workers.py counts in
Redis across two gunicorn workers."""

from __future__ import annotations

import datetime as dt
import html
import logging
import re

import pytest
import time_machine
from sqlalchemy import func, select

from tests import test_web_avis
from tests.conftest import TEST_SECRET_KEY
from web import create_app
from web.shared.throttling import wait_text
from workflow.models import OutboxMail, User
from workflow.people.passwords import hash_password
from workflow.plumbing.db import transaction

asked = test_web_avis.asked  # an avis asked on a dossier, and its link's token
PASSWORD = "Affaires-Medicales-2026"
WRONG = "Pas-Le-Bon-Mot-2026"
T0 = dt.datetime(2026, 2, 10, 9, tzinfo=dt.UTC)


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


def account(world, email: str = "bam@ch-gonesse.example.fr") -> User:  # type: ignore[no-untyped-def]
    """A confirmed déposant of a hospital, who knows the password PASSWORD."""
    hospital = world.organisation()
    with transaction(world.session):
        user = User(
            email=email,
            password_hash=hash_password(PASSWORD),
            role="deposant",
            organisation_id=hospital.id,
            email_confirmed_at=T0,
            active=True,
        )
        world.session.add(user)
    return user


def sign_in(client, email: str, password: str, address: str = "192.0.2.10"):  # type: ignore[no-untyped-def]
    return client.post(
        "/connexion",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def mails(session, template: str) -> int:  # type: ignore[no-untyped-def]
    session.rollback()
    return session.scalar(
        select(func.count()).select_from(OutboxMail).where(OutboxMail.template == template)
    )


# --- connexion ------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, session, world):
    user = account(world)
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            assert sign_in(client, user.email, WRONG).status_code == 401
        locked = sign_in(client, user.email, WRONG)
        assert locked.status_code == 429
        assert "Trop de tentatives. Réessayez dans 15 minutes." in text_of(locked)
        assert locked.headers["Retry-After"] == "900"
        assert f'value="{user.email}"' in locked.text  # the e-mail stays filled
        # Locked means locked: the right password waits too.
        assert sign_in(client, user.email, PASSWORD).status_code == 429
    with time_machine.travel(T0 + dt.timedelta(minutes=12), tick=False):
        later = sign_in(client, user.email, PASSWORD)
        assert "Réessayez dans 3 minutes." in text_of(later)
        assert later.headers["Retry-After"] == "180"
    with time_machine.travel(T0 + dt.timedelta(minutes=15, seconds=1), tick=False):
        assert sign_in(client, user.email, PASSWORD).location == "/mes-dossiers"


def test_a_right_password_forgets_the_failures_before_it(client, session, world):
    user = account(world)
    with time_machine.travel(T0, tick=False):
        for _ in range(4):
            assert sign_in(client, user.email, WRONG).status_code == 401
        assert sign_in(client, user.email, PASSWORD).status_code == 302
        client.post("/deconnexion")
        for _ in range(5):
            assert sign_in(client, user.email, WRONG).status_code == 401
        assert sign_in(client, user.email, WRONG).status_code == 429


def test_the_lock_counts_the_account_whatever_the_address_and_the_case(client, session, world):
    user = account(world)
    with time_machine.travel(T0, tick=False):
        for n in range(5):
            typed = user.email.upper() if n % 2 else f"  {user.email} "
            assert sign_in(client, typed, WRONG, address=f"198.51.100.{n}").status_code == 401
        assert sign_in(client, user.email, WRONG, address="203.0.113.9").status_code == 429
        # Another account from the same addresses is untouched.
        other = account(world, "autre@ch-gonesse.example.fr")
        assert sign_in(client, other.email, PASSWORD, address="198.51.100.0").status_code == 302


def test_an_unknown_address_locks_like_a_known_one(client, session, world):
    known = account(world)
    answers = {}
    with time_machine.travel(T0, tick=False):
        for email in (known.email, "personne@example.fr"):
            statuses = [sign_in(client, email, WRONG).status_code for _ in range(6)]
            answers[email] = (statuses, text_of(sign_in(client, email, WRONG)).replace(email, "@"))
    assert answers[known.email] == answers["personne@example.fr"]
    assert answers[known.email][0] == [401] * 5 + [429]


def test_one_client_address_gets_twenty_sign_ins_a_minute(client, session):
    with time_machine.travel(T0, tick=False):
        for n in range(20):
            assert sign_in(client, f"personne{n}@example.fr", WRONG).status_code == 401
        refused = sign_in(client, "encore@example.fr", WRONG)
        assert refused.status_code == 429
        assert "Réessayez dans 1 minute." in text_of(refused)
        assert sign_in(client, "encore@example.fr", WRONG, address="192.0.2.99").status_code == 401
    with time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False):
        assert sign_in(client, "encore@example.fr", WRONG).status_code == 401


def test_a_locked_answer_is_logged_without_the_address_in_clear(client, session, caplog, world):
    user = account(world)
    with time_machine.travel(T0, tick=False), caplog.at_level(logging.WARNING):
        for _ in range(6):
            sign_in(client, user.email, WRONG, address="192.0.2.77")
    (record,) = [r for r in caplog.records if r.name == "postes_partages.security"]
    line = record.getMessage()
    assert "route=/connexion" in line and "client=192.0.2.77" in line
    assert "account=b***@ch-gonesse.example.fr" in line and "retry_after=900s" in line
    assert user.email not in line


# --- mot de passe oublié --------------------------------------------------------------------


def forgot(client, email: str, address: str = "192.0.2.10"):  # type: ignore[no-untyped-def]
    return client.post(
        "/compte/mot-de-passe-oublie", data={"email": email}, environ_base={"REMOTE_ADDR": address}
    )


def test_three_reset_mails_an_hour_reach_one_address_whoever_asks(client, session, world):
    user = account(world)
    with time_machine.travel(T0, tick=False):
        for n in range(3):
            assert forgot(client, user.email, address=f"198.51.100.{n}").status_code == 200
        refused = forgot(client, user.email, address="203.0.113.5")
        assert refused.status_code == 429
        assert "Trop de tentatives. Réessayez dans 60 minutes." in text_of(refused)
        assert refused.headers["Retry-After"] == "3600"
        assert f'value="{user.email}"' in refused.text
    assert mails(session, "reinitialisation_mot_de_passe") == 3
    with time_machine.travel(T0 + dt.timedelta(hours=1, seconds=1), tick=False):
        assert forgot(client, user.email).status_code == 200
    assert mails(session, "reinitialisation_mot_de_passe") == 4


def test_one_client_address_asks_ten_resets_an_hour(client, session):
    with time_machine.travel(T0, tick=False):
        for n in range(10):
            assert forgot(client, f"personne{n}@example.fr").status_code == 200
        assert forgot(client, "encore@example.fr").status_code == 429
        assert forgot(client, "encore@example.fr", address="192.0.2.99").status_code == 200


def test_three_confirmation_links_an_hour_reach_one_address(client, session):
    with time_machine.travel(T0, tick=False):
        assert register(client).status_code == 302
        for n in range(3):
            resent = client.post(
                "/compte/confirmation/renvoyer",
                data={"email": FORM["email"]},
                environ_base={"REMOTE_ADDR": f"198.51.100.{n}"},
            )
            assert resent.status_code == 302
        refused = client.post("/compte/confirmation/renvoyer", data={"email": FORM["email"]})
    assert refused.status_code == 429
    assert "Trop de tentatives. Réessayez dans 60 minutes." in text_of(refused)
    assert 'value="peggy@example.fr"' in refused.text
    assert mails(session, "confirmation_compte") == 4  # the first and three more


# --- création de compte ---------------------------------------------------------------------

FORM = {
    "organisation_type": "candidat",
    "organisation_name": "Peggy Lambourde",
    "email": "peggy@example.fr",
    "password": PASSWORD,
    "password_confirmation": PASSWORD,
}


def register(client, address: str = "192.0.2.10", **fields: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/compte/creation", data={**FORM, **fields}, environ_base={"REMOTE_ADDR": address}
    )


def test_an_address_already_in_use_gets_the_page_of_a_new_account(app, session, world):
    account(world, "bam@ch-gonesse.example.fr")
    answers = []
    for email in ("nouvelle@example.fr", "bam@ch-gonesse.example.fr"):
        client = app.test_client()
        sent = register(client, email=email)
        page = client.get(sent.location)
        answers.append((sent.status_code, sent.location, page.status_code, text_of(page)))
    new, existing = answers
    assert new[:3] == existing[:3] == (302, "/compte/creation/envoye", 200)
    assert new[3].replace("nouvelle@example.fr", "@") == existing[3].replace(
        "bam@ch-gonesse.example.fr", "@"
    )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(User)) == 2
    assert mails(session, "confirmation_compte") == 1
    assert mails(session, "tentative_creation_compte") == 1


def test_an_address_typed_in_the_account_form_gets_three_mails_an_hour(client, session):
    with time_machine.travel(T0, tick=False):
        assert register(client).status_code == 302
        for n in range(2):  # the owner is warned, twice
            assert register(client, address=f"198.51.100.{n}").status_code == 302
        refused = register(client, address="203.0.113.5")
        assert refused.status_code == 429
        assert "Trop de tentatives. Réessayez dans 60 minutes." in text_of(refused)
        assert (
            'value="Peggy Lambourde"' in refused.text and 'value="peggy@example.fr"' in refused.text
        )
    assert mails(session, "confirmation_compte") == 1
    assert mails(session, "tentative_creation_compte") == 2


def test_forms_with_mistakes_do_not_count_for_the_address_typed(client, session):
    with time_machine.travel(T0, tick=False):
        for _ in range(5):  # a FINESS mistyped again and again
            assert register(client, password="court").status_code == 422
        assert register(client).status_code == 302


def test_one_client_address_sends_the_account_form_twenty_times_an_hour(client):
    with time_machine.travel(T0, tick=False):
        for n in range(20):
            assert register(client, email=f"p{n}@example.fr", password="x").status_code == 422
        assert register(client, email="p@example.fr").status_code == 429


# --- avis and invitations -------------------------------------------------------------------


def test_an_avis_link_takes_ten_answers_an_hour(client, asked):
    _, _, token = asked
    # The link was signed now: no travel in time here (the window is an hour).
    for n in range(10):
        posted = client.post(
            f"/avis/{token}",
            data={"verdict": "", "comment": "Très bon projet."},
            environ_base={"REMOTE_ADDR": f"198.51.100.{n}"},
        )
        assert posted.status_code == 422
    refused = client.post(
        f"/avis/{token}", data={"verdict": "favorable", "comment": "Très bon projet."}
    )
    assert refused.status_code == 429
    assert "Trop de tentatives. Réessayez dans 60 minutes." in text_of(refused)
    assert "Très bon projet." in refused.text  # the comment typed is not lost


def test_a_deposant_invites_thirty_colleagues_an_hour(client, session, world, auth):
    hospital = world.organisation()
    auth.login(world.user("deposant", hospital))
    with time_machine.travel(T0, tick=False):
        auth.refresh()
        for n in range(30):
            sent = client.post("/compte/invitations", data={"email": f"c{n}@example.fr"})
            assert sent.status_code == 302
        refused = client.post("/compte/invitations", data={"email": "c30@example.fr"})
    assert refused.status_code == 429
    assert "Trop de tentatives." in text_of(refused)
    assert 'value="c30@example.fr"' in refused.text
    assert mails(session, "invitation_compte") == 30


def test_an_instructeur_gets_three_invitation_links_an_hour(client, session, world, auth):
    auth.login(world.user("administrateur"))
    instructeur = world.user("instructeur")
    with time_machine.travel(T0, tick=False):
        auth.refresh()
        for _ in range(3):
            path = f"/admin/instructeurs/{instructeur.id}/invitation"
            assert client.post(path).status_code == 302
        refused = client.post(f"/admin/instructeurs/{instructeur.id}/invitation")
    assert refused.status_code == 429
    assert "Trop de tentatives. Réessayez dans 60 minutes." in text_of(refused)
    assert mails(session, "invitation_instructeur") == 3


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 seconde"),
        (45, "45 secondes"),
        (61, "2 minutes"),
        (720, "12 minutes"),
        (5400, "90 minutes"),
        (5401, "2 heures"),
    ],
)
def test_the_wait_is_said_in_french_words(seconds, words):
    assert wait_text(seconds) == words


def build(sqlite_url, tmp_path, **config):  # type: ignore[no-untyped-def]
    return create_app(
        {
            "DATABASE_URL": sqlite_url,
            "SECRET_KEY": TEST_SECRET_KEY,
            "UPLOAD_DIR": str(tmp_path),
            "WTF_CSRF_ENABLED": False,
            **config,
        }
    )


def test_a_development_app_counts_in_its_own_memory_and_says_so_in_the_log(
    sqlite_url, tmp_path, caplog
):
    # A production app refuses to start without a storage (tests/test_configuration.py).
    with caplog.at_level(logging.WARNING, logger="postes_partages.security"):
        build(sqlite_url, tmp_path, RATELIMIT_STORAGE_URI=None, DEVELOPMENT=True)
    assert any("RATELIMIT_STORAGE_URI is not set" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="postes_partages.security"):
        build(sqlite_url, tmp_path, TESTING=True)
    assert [r for r in caplog.records if r.name == "postes_partages.security"] == []


def test_x_forwarded_for_counts_only_behind_a_configured_proxy(sqlite_url, tmp_path):
    def attempts_until_refused(app) -> int:  # type: ignore[no-untyped-def]
        client = app.test_client()
        for n in range(1, 30):
            response = client.post(
                "/connexion",
                data={"email": f"p{n}@example.fr", "password": "x"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
                environ_base={"REMOTE_ADDR": "10.0.0.1"},
            )
            if response.status_code == 429:
                return n
        return 0

    with time_machine.travel(T0, tick=False):
        # Without a proxy configured the header is a client's claim: the socket counts.
        assert attempts_until_refused(build(sqlite_url, tmp_path, TESTING=True)) == 21
        # Behind one proxy, each forwarded address counts apart.
        behind = build(sqlite_url, tmp_path, TESTING=True, PROXY_COUNT=1)
        assert attempts_until_refused(behind) == 0


def test_an_unreachable_storage_lets_the_attempt_through_and_logs_it(sqlite_url, tmp_path, caplog):
    app = build(sqlite_url, tmp_path, TESTING=True, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.ERROR, logger="postes_partages.security"):
        response = app.test_client().post("/connexion", data={"email": "a@b.fr", "password": "x"})
    assert response.status_code == 401
    assert any("rate-limit storage unreachable" in r.getMessage() for r in caplog.records)
