"""Sessions that really end: the cookie names a server-side session, which « Se déconnecter »,
a deactivation, a change of role or of password end for good, and which ends by itself after
an idle time and a lifetime set per role."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import pytest
import time_machine
from sqlalchemy import event, select

from tests.conftest import AuthActions
from tests.test_web_auth import FORM, PASSWORD, register_and_confirm, sign_in, text_of
from workflow.administration.instructors import set_role
from workflow.models import SecurityEvent, SignInSession, User
from workflow.people.actors import Actor
from workflow.people.sign_in_sessions import (
    DEPOSANT_IDLE,
    DEPOSANT_LIFETIME,
    STAFF_IDLE,
    STAFF_LIFETIME,
    hash_token,
)
from workflow.plumbing.db import transaction

T0 = dt.datetime(2026, 3, 9, 8, tzinfo=dt.UTC)
EXPIRED = "Votre session a expiré, reconnectez-vous."


def at(moment: dt.datetime):  # type: ignore[no-untyped-def]
    return time_machine.travel(moment, tick=False)


def session_cookie(client) -> str:  # type: ignore[no-untyped-def]
    return client.get_cookie("session").value


def fresh_browser(app, cookie: str):  # type: ignore[no-untyped-def]
    """Another browser holding a copy of a session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def signed_in_instructeur(world, client, session):  # type: ignore[no-untyped-def]
    user = world.user("instructeur")
    AuthActions(client, session).login(user)
    return user


def refused_to_sign_in(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and response.location.startswith("/connexion")


def test_a_cookie_copied_before_signing_out_no_longer_works_afterwards(app, client, session):
    register_and_confirm(client, session)
    sign_in(client)
    copied = session_cookie(client)
    assert fresh_browser(app, copied).get("/compte").status_code == 200  # the copy works...

    client.post("/deconnexion")

    replayed = fresh_browser(app, copied).get("/compte")
    assert refused_to_sign_in(replayed)  # ...until « Se déconnecter »
    session.rollback()  # a new snapshot: the app wrote meanwhile
    row = session.scalars(select(SignInSession)).one()
    assert row.end_reason == "deconnexion" and row.ended_at is not None


def test_signing_out_ends_only_this_browsers_session(app, session):
    first, second = app.test_client(), app.test_client()
    register_and_confirm(first, session)
    sign_in(first)
    sign_in(second)
    first.post("/deconnexion")
    assert refused_to_sign_in(first.get("/compte"))
    assert second.get("/compte").status_code == 200


def test_an_ended_session_sends_to_sign_in_saying_so_and_comes_back_after(app, client, session):
    register_and_confirm(client, session)
    sign_in(client)
    copied = session_cookie(client)
    client.post("/deconnexion")
    thief = fresh_browser(app, copied)

    response = thief.get("/mes-dossiers?page=2")

    assert response.location == "/connexion?next=/mes-dossiers?page%3D2"
    assert EXPIRED in text_of(thief.get(response.location))
    back = thief.post(
        "/connexion",
        data={"email": FORM["email"], "password": PASSWORD, "next": "/mes-dossiers?page=2"},
    )
    assert back.location == "/mes-dossiers?page=2"


def test_deactivating_an_instructeur_ends_its_live_session(world, app, client, session):
    instructeur = signed_in_instructeur(world, client, session)
    admin = AuthActions(app.test_client(), session)
    admin.login(world.user("administrateur"))
    assert client.get("/instruction/").status_code == 200

    admin.client.post(f"/admin/instructeurs/{instructeur.id}/activation", data={"active": "0"})

    response = client.get("/instruction/")
    assert refused_to_sign_in(response)
    assert EXPIRED in text_of(client.get(response.location))
    session.rollback()  # a new snapshot: the app wrote meanwhile
    ended = select(SignInSession.end_reason).where(SignInSession.user_id == instructeur.id)
    assert session.scalars(ended).one() == "compte_desactive"


def test_changing_the_role_of_an_account_ends_its_live_session(world, client, session):
    instructeur = signed_in_instructeur(world, client, session)
    admin = world.actor("administrateur")
    assert client.get("/instruction/").status_code == 200
    with transaction(session):
        set_role(session, instructeur, "administrateur", admin)
    assert refused_to_sign_in(client.get("/instruction/"))


def test_a_role_changed_behind_the_apps_back_ends_the_session_too(world, client, session):
    instructeur = signed_in_instructeur(world, client, session)
    with transaction(session):
        instructeur.role = "administrateur"  # by hand in the database, say
    assert refused_to_sign_in(client.get("/admin/"))


def test_changing_ones_password_ends_the_other_sessions_but_not_this_one(app, client, session):
    register_and_confirm(client, session)
    sign_in(client)
    other = app.test_client()
    sign_in(other)
    new = "Nouveau-Mot-De-Passe-2026"
    changed = client.post(
        "/compte/mot-de-passe",
        data={"current_password": PASSWORD, "password": new, "password_confirmation": new},
    )
    assert changed.location == "/compte"
    assert client.get("/compte").status_code == 200
    assert refused_to_sign_in(other.get("/compte"))


def test_an_instructeur_idle_for_two_hours_must_sign_in_again(world, client, session):
    with at(T0):
        signed_in_instructeur(world, client, session)
    with at(T0 + STAFF_IDLE - dt.timedelta(minutes=1)):
        assert client.get("/instruction/").status_code == 200  # active again: the idle restarts
    with at(T0 + 2 * STAFF_IDLE - dt.timedelta(minutes=2)):
        assert client.get("/instruction/").status_code == 200
    with at(T0 + 3 * STAFF_IDLE):
        response = client.get("/instruction/")
    assert refused_to_sign_in(response)
    session.rollback()  # a new snapshot: the app wrote meanwhile
    assert session.scalars(select(SignInSession.end_reason)).one() == "inactivite"
    expired = session.scalars(select(SecurityEvent).where(SecurityEvent.kind == "session_expiree"))
    assert expired.one().detail["motif"] == "inactivite"


def test_an_instructeur_always_active_still_signs_in_again_after_twelve_hours(
    world, client, session
):
    with at(T0):
        signed_in_instructeur(world, client, session)
    moment = T0
    while moment + dt.timedelta(hours=1) < T0 + STAFF_LIFETIME:
        moment += dt.timedelta(hours=1)
        with at(moment):
            assert client.get("/instruction/").status_code == 200, moment
    with at(T0 + STAFF_LIFETIME):
        assert refused_to_sign_in(client.get("/instruction/"))
    session.rollback()  # a new snapshot: the app wrote meanwhile
    assert session.scalars(select(SignInSession.end_reason)).one() == "duree_maximale"


def test_a_deposant_session_outlasts_an_instructeurs_but_not_a_week(world, client, session):
    hospital = world.organisation()
    deposant = world.user("deposant", hospital)
    auth = AuthActions(client, session)
    with at(T0):
        auth.login(deposant)
    with at(T0 + STAFF_IDLE + dt.timedelta(hours=1)):  # a long volet typed, then saved
        assert client.get("/mes-dossiers").status_code == 200
    with at(T0 + STAFF_IDLE + DEPOSANT_IDLE + dt.timedelta(hours=1)):
        assert refused_to_sign_in(client.get("/mes-dossiers"))

    with at(T0):
        auth.refresh()
    moment = T0
    while moment + DEPOSANT_IDLE < T0 + DEPOSANT_LIFETIME:
        moment += DEPOSANT_IDLE - dt.timedelta(minutes=5)
        with at(moment):
            assert client.get("/mes-dossiers").status_code == 200, moment
    with at(T0 + DEPOSANT_LIFETIME):
        assert refused_to_sign_in(client.get("/mes-dossiers"))


@pytest.mark.parametrize("forged", ["random", "old-format", "stored-hash", "empty"])
def test_a_forged_session_id_opens_nothing(world, app, client, session, forged):
    instructeur = signed_in_instructeur(world, client, session)
    real = AuthActions(app.test_client(), session)
    real.login(instructeur)
    value = {
        "random": "x" * 43,
        "old-format": f"{instructeur.id}:000000000000",
        # Someone who read the table holds the hash, not the id: the hash opens nothing.
        "stored-hash": hash_token(real.session_id),
        "empty": "",
    }[forged]
    with client.session_transaction() as cookie:
        cookie["_user_id"] = value
    assert refused_to_sign_in(client.get("/instruction/"))
    assert real.client.get("/instruction/").status_code == 200


def test_the_session_of_another_user_is_still_only_that_users(world, app, client, session):
    """A session id names one user: ending the session of one user leaves the others' alone,
    and an ended session cannot be revived by signing in as someone else."""
    first = signed_in_instructeur(world, client, session)
    other_browser = AuthActions(app.test_client(), session)
    second = other_browser.login(world.user("instructeur"))
    ended_id = other_browser.session_id
    other_browser.client.post("/deconnexion")
    with client.session_transaction() as cookie:
        cookie["_user_id"] = ended_id
    assert refused_to_sign_in(client.get("/instruction/"))
    session.rollback()  # a new snapshot: the app wrote meanwhile
    rows = session.scalars(select(SignInSession).order_by(SignInSession.id)).all()
    assert [(r.user_id, r.ended_at is None) for r in rows] == [(first.id, True), (second.id, False)]


@contextmanager
def counted_updates(app):  # type: ignore[no-untyped-def]
    """Counts the UPDATE statements the app sends to sign_in_sessions."""
    engine = app.extensions["db_sessions"].kw["bind"]
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE SIGN_IN_SESSIONS"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_last_seen_is_written_at_most_once_a_minute_not_on_every_request(
    world, app, client, session
):
    with at(T0):
        signed_in_instructeur(world, client, session)
    with counted_updates(app) as updates:
        with at(T0 + dt.timedelta(seconds=30)):
            for _ in range(10):
                assert client.get("/instruction/").status_code == 200
        assert updates == []
        with at(T0 + dt.timedelta(seconds=70)):
            for _ in range(10):
                assert client.get("/instruction/").status_code == 200
        assert len(updates) == 1
        with at(T0 + dt.timedelta(seconds=140)):
            client.get("/instruction/")
        assert len(updates) == 2
    session.rollback()  # a new snapshot: the app wrote meanwhile
    row = session.scalars(select(SignInSession)).one()
    assert row.last_seen_at == T0 + dt.timedelta(seconds=140)


def test_signing_in_keeps_only_the_hash_of_the_session_id(client, session):
    register_and_confirm(client, session)
    sign_in(client)
    with client.session_transaction() as cookie:
        session_id = cookie["_user_id"]
    session.rollback()
    row = session.scalars(select(SignInSession)).one()
    assert row.token_hash == hash_token(session_id) != session_id
    assert row.user_id == session.scalars(select(User.id)).one()
    assert row.client_address == "127.0.0.1"
    assert session_id not in str(
        [tuple(r) for r in session.execute(select(SignInSession.__table__)).all()]
    )


def test_reset_link_ends_every_session_of_the_account(app, client, session):
    from tests.test_web_auth import last_token

    register_and_confirm(client, session)
    sign_in(client)
    app.test_client().post("/compte/mot-de-passe-oublie", data={"email": FORM["email"]})
    new = "Nouveau-Mot-De-Passe-2026"
    app.test_client().post(
        f"/compte/mot-de-passe/{last_token(session, 'reinitialisation_mot_de_passe')}",
        data={"password": new, "password_confirmation": new},
    )
    assert refused_to_sign_in(client.get("/compte"))


def test_an_actor_changing_its_own_role_is_refused(world, session):
    from workflow.plumbing.errors import TransitionRefused

    admin = world.user("administrateur")
    with pytest.raises(TransitionRefused), transaction(session):
        set_role(session, admin, "instructeur", Actor.of(admin))
