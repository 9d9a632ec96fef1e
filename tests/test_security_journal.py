"""The security journal: every account event is appended, with who and from where, in the
transaction of the change (a refused sign-in in its own); the database refuses to rewrite it;
administrators read it with filters, newest first, page by page."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError

from tests.conftest import AuthActions, at_paris
from tests.test_web_auth import FORM, last_token, register_and_confirm, sign_in
from workflow.administration.instructors import set_active
from workflow.models import SecurityEvent, User
from workflow.models.security import SECURITY_EVENT_KINDS
from workflow.people.actors import Actor
from workflow.people.security_journal import (
    KINDS,
    JournalFilter,
    record_security_event,
    security_events,
)
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import TransitionRefused


def kinds(session) -> list[str]:  # type: ignore[no-untyped-def]
    session.rollback()  # a new snapshot: the app wrote meanwhile
    return list(session.scalars(select(SecurityEvent.kind).order_by(SecurityEvent.id)))


def events_of(session, kind: str) -> list[SecurityEvent]:  # type: ignore[no-untyped-def]
    session.rollback()
    query = select(SecurityEvent).where(SecurityEvent.kind == kind).order_by(SecurityEvent.id)
    return list(session.scalars(query))


# --- append-only ------------------------------------------------------------------------------


def one_event(session) -> SecurityEvent:  # type: ignore[no-untyped-def]
    with transaction(session):
        return record_security_event(session, "connexion_echouee", email="x@example.fr")


def test_a_security_event_cannot_be_rewritten(session):
    event = one_event(session)
    with pytest.raises(DatabaseError, match="append-only"), transaction(session):
        session.execute(
            update(SecurityEvent).where(SecurityEvent.id == event.id).values(kind="deconnexion")
        )
    session.rollback()
    assert session.get(SecurityEvent, event.id).kind == "connexion_echouee"


def test_a_security_event_cannot_be_deleted(session):
    event = one_event(session)
    with pytest.raises(DatabaseError, match="append-only"), transaction(session):
        session.execute(delete(SecurityEvent).where(SecurityEvent.id == event.id))
    assert session.scalars(select(SecurityEvent)).one().id == event.id


def test_an_unknown_kind_is_refused_by_the_code_and_by_the_database(session):
    with pytest.raises(ValueError), transaction(session):
        record_security_event(session, "piratage")
    with pytest.raises(IntegrityError), transaction(session):
        session.execute(
            insert(SecurityEvent.__table__),
            {"at": dt.datetime.now(dt.UTC), "kind": "piratage", "actor_label": "x", "detail": {}},
        )
    assert set(KINDS) == set(SECURITY_EVENT_KINDS)


# --- what the journal records ------------------------------------------------------------------


def test_a_deposants_life_is_in_the_journal_with_its_address(app, client, session):
    register_and_confirm(client, session)
    sign_in(client)
    client.post("/deconnexion")
    assert kinds(session) == [
        "compte_cree",
        "adresse_confirmee",
        "connexion_reussie",
        "deconnexion",
    ]
    created, confirmed, signed_in, signed_out = session.scalars(
        select(SecurityEvent).order_by(SecurityEvent.id)
    )
    assert created.email == FORM["email"] and created.actor_label == "anonyme"
    assert created.detail == {"role": "deposant"}
    assert signed_in.actor_id == signed_in.user_id == created.user_id
    assert {e.client_address for e in (created, confirmed, signed_in, signed_out)} == {"127.0.0.1"}


def test_a_confirmation_link_clicked_twice_is_recorded_once(client, session):
    client.post("/compte/creation", data=FORM)
    token = last_token(session, "confirmation_compte")
    client.get(f"/compte/confirmer/{token}")
    client.get(f"/compte/confirmer/{token}")
    assert kinds(session).count("adresse_confirmee") == 1


def test_refused_sign_ins_are_recorded_though_nothing_else_is_written(client, session):
    register_and_confirm(client, session)
    assert sign_in(client, "Pas-Le-Bon-Mot-2026").status_code == 401
    unknown = client.post("/connexion", data={"email": "Inconnu@Example.fr", "password": "x"})
    assert unknown.status_code == 401
    refused = events_of(session, "connexion_echouee")
    assert [(e.email, e.detail["motif"], e.user_id is None) for e in refused] == [
        (FORM["email"], "mot de passe incorrect", False),
        ("Inconnu@Example.fr", "adresse inconnue", True),
    ]
    assert all(e.actor_label == "anonyme" and e.client_address == "127.0.0.1" for e in refused)


def test_a_locked_sign_in_is_recorded_as_limited_access(client, session):
    register_and_confirm(client, session)
    for _ in range(5):
        assert sign_in(client, "Pas-Le-Bon-Mot-2026").status_code == 401
    assert sign_in(client, "Pas-Le-Bon-Mot-2026").status_code == 429
    limited = events_of(session, "acces_limite")
    assert [(e.email, e.user_id is not None, e.detail["regle"]) for e in limited] == [
        (FORM["email"], True, "connexion")
    ]
    assert limited[0].detail["attente_secondes"] > 0


def test_a_refused_account_creation_is_journaled_though_its_transaction_rolls_back(client, session):
    # Three forms a day may mail one address; the fourth is refused inside the transaction
    # that would have created the account, and the journal still records the refusal.
    # (A candidate has no FINESS, so the same form may come back to the same address.)
    form = {**FORM, "organisation_type": "candidat", "finess": ""}
    answers = [client.post("/compte/creation", data=form).status_code for _ in range(4)]
    assert answers[-1] == 429
    limited = events_of(session, "acces_limite")
    assert [(e.email, e.detail["regle"]) for e in limited] == [(FORM["email"], "creation_compte")]


def test_an_unconfirmed_address_signing_in_is_recorded(client, session):
    client.post("/compte/creation", data=FORM)
    assert sign_in(client).status_code == 403
    assert events_of(session, "connexion_echouee")[0].detail == {"motif": "adresse non confirmée"}


def test_a_failed_registration_records_nothing(client, session):
    assert client.post("/compte/creation", data={**FORM, "finess": "1"}).status_code == 422
    assert kinds(session) == []


def test_password_reset_and_change_are_recorded(app, client, session):
    register_and_confirm(client, session)
    client.post("/compte/mot-de-passe-oublie", data={"email": FORM["email"]})
    new = "Nouveau-Mot-De-Passe-2026"
    client.post(
        f"/compte/mot-de-passe/{last_token(session, 'reinitialisation_mot_de_passe')}",
        data={"password": new, "password_confirmation": new},
    )
    sign_in(client, new)
    newer = "Encore-Un-Mot-De-Passe-2026"
    client.post(
        "/compte/mot-de-passe",
        data={"current_password": new, "password": newer, "password_confirmation": newer},
    )
    assert kinds(session)[-3:] == [
        "mot_de_passe_reinitialise",
        "connexion_reussie",
        "mot_de_passe_change",
    ]


def test_an_invited_colleague_is_recorded_as_created_by_the_inviter(client, session):
    register_and_confirm(client, session)
    sign_in(client)
    client.post("/compte/invitations", data={"email": "adjointe@ch-gonesse.example.fr"})
    created = events_of(session, "compte_cree")[-1]
    assert created.email == "adjointe@ch-gonesse.example.fr"
    assert created.actor_label == FORM["email"]


def test_deactivation_is_recorded_with_the_administrator_who_did_it(world, app, session):
    instructeur = world.user("instructeur")
    admin = AuthActions(app.test_client(), session)
    admin.login(world.user("administrateur"))
    admin.client.post(f"/admin/instructeurs/{instructeur.id}/activation", data={"active": "0"})
    admin.client.post(f"/admin/instructeurs/{instructeur.id}/activation", data={"active": "1"})
    off, on = events_of(session, "compte_desactive") + events_of(session, "compte_reactive")
    assert off.user_id == on.user_id == instructeur.id
    assert off.actor_id == admin.user.id and off.client_address == "127.0.0.1"


def test_a_refused_deactivation_records_nothing(world, session):
    instructeur, colleague = world.user("instructeur"), world.actor("instructeur")
    with pytest.raises(TransitionRefused), transaction(session):
        set_active(session, instructeur, False, colleague)
    assert kinds(session) == []


def test_an_instructeur_created_by_an_administrator_is_recorded(world, app, session):
    admin = AuthActions(app.test_client(), session)
    admin.login(world.user("administrateur"))
    admin.client.post("/admin/instructeurs", data={"email": "i@ars.fr", "full_name": "Ines Ru"})
    created = events_of(session, "compte_cree")[-1]
    assert (created.email, created.detail, created.actor_id) == (
        "i@ars.fr",
        {"role": "instructeur"},
        admin.user.id,
    )


# --- the administrators' page ------------------------------------------------------------------


def fill(session, count: int, start: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    with transaction(session):
        for n in range(count):
            record_security_event(
                session,
                "connexion_echouee",
                email=f"personne{n:03d}@example.fr",
                detail={"motif": "mot de passe incorrect"},
                now=start + dt.timedelta(minutes=n),
            )


@pytest.fixture
def admin_client(world, app, session):  # type: ignore[no-untyped-def]
    admin = AuthActions(app.test_client(), session)
    admin.login(world.user("administrateur"))
    return admin.client


def shown(page: str) -> list[str]:
    return re.findall(r"personne\d{3}@example\.fr", page)


def test_the_administration_home_links_to_the_journal(admin_client):
    assert 'href="/admin/journal-securite"' in admin_client.get("/admin/").text


def test_the_journal_reads_newest_first_page_by_page(admin_client, session):
    fill(session, 120, dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC))
    first = admin_client.get("/admin/journal-securite").text
    assert shown(first)[:2] == ["personne119@example.fr", "personne118@example.fr"]
    assert len(shown(first)) == 50
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = admin_client.get(older).text
    assert shown(second)[0] == "personne069@example.fr" and len(shown(second)) == 50
    third_url = re.search(r'href="([^"]+)" rel="next"', second).group(1).replace("&amp;", "&")
    third = admin_client.get(third_url).text
    assert shown(third)[-1] == "personne000@example.fr" and len(shown(third)) == 20
    assert 'rel="next"' not in third
    assert "1er mars 2026 à 09h00" in third  # Paris time


def test_the_journal_filters_by_kind_address_and_paris_days(admin_client, session, world):
    # 22:30 UTC on 1 March is 23:30 in Paris, still the 1st; 23:30 UTC is the 2nd in Paris.
    fill(session, 1, dt.datetime(2026, 3, 1, 22, 30, tzinfo=dt.UTC))
    with transaction(session):
        record_security_event(
            session, "deconnexion", email="autre@example.fr", now=at_paris(2026, 3, 2, 0, 30)
        )
    by_day = admin_client.get("/admin/journal-securite?du=2026-03-02&au=2026-03-02").text
    assert "autre@example.fr" in by_day and shown(by_day) == []
    by_kind = admin_client.get("/admin/journal-securite?type=connexion_echouee").text
    assert shown(by_kind) == ["personne000@example.fr"] and "autre@example.fr" not in by_kind
    by_address = admin_client.get("/admin/journal-securite?adresse=AUTRE@").text
    assert "autre@example.fr" in by_address and shown(by_address) == []
    nothing = admin_client.get("/admin/journal-securite?adresse=%25").text
    assert "Aucun événement ne correspond à ce filtre." in nothing  # % is a character


def test_an_unreadable_filter_is_said_in_french(admin_client):
    response = admin_client.get("/admin/journal-securite?du=hier&type=n-importe")
    assert response.status_code == 422
    page = html.unescape(response.text)
    assert "Date illisible" in page and "Type d'événement inconnu." in page


def test_the_journal_query_cuts_pages_on_the_id(session):
    fill(session, 5, dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC))
    page, before = security_events(session, JournalFilter(), limit=2)
    assert [e.email for e in page] == ["personne004@example.fr", "personne003@example.fr"]
    fill(session, 1, dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC))  # written meanwhile
    page, before = security_events(session, JournalFilter(), before_id=before, limit=2)
    assert [e.email for e in page] == ["personne002@example.fr", "personne001@example.fr"]


def test_the_journal_keeps_the_address_an_account_had(world, session):
    user = world.user("instructeur")
    with transaction(session):
        record_security_event(session, "compte_desactive", user=user, actor=Actor.of(user))
        session.get(User, user.id).email = "nouvelle@example.fr"
    assert events_of(session, "compte_desactive")[0].email.startswith("instructeur")
