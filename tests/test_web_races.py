"""Races and vanished dossiers answered with the French page each has, never a server
error, and nothing saved lost: a save that loses to a « Supprimer » (a 404 saying the dossier
was deleted meanwhile), a « Supprimer » that loses to a save (a 409), the same with real
threads (eight « Enregistrer » and one « Supprimer » at once), two instructeurs deciding at
once, and an avis answered twice at once or withdrawn while it is answered.

The deterministic tests step in between the moment a view reads the dossier and the moment
it writes, by doing the other person's change in another session right after the read."""

from __future__ import annotations

import html
import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import COMPLETE_VALUES, AuthActions, at_paris, pdf_bytes
from web.avis import views as avis_views
from web.deposant import views as deposant_views
from workflow.administration.instructors import follow
from workflow.instruction.avis import answer_avis, avis_token, delete_avis, invite_avis
from workflow.machine.editing import delete_dossier, save_volet
from workflow.models import AuditEvent, Avis, Dossier
from workflow.people.actors import Actor
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

DURING = at_paris(2026, 2, 10)
JURY = at_paris(2026, 5, 20, 15)
AVIS = [{"key": "coordonnateur", "label": "Avis du coordonnateur", "giver": "coordonnateur"}]
VANISHED = "Ce dossier a été supprimé entre-temps"
CONFLICT = "modifié entre-temps par une autre personne"


def other_session(app: Any):  # type: ignore[no-untyped-def]
    """A session of its own, as another request (another person) has."""
    return app.extensions["db_sessions"]()


def meddle_after_read(monkeypatch, module: Any, name: str, meddle: Callable[[], None]) -> None:
    """Wraps the view's reading function `module.name`: the first time it has read, the
    other person's change `meddle` is committed, before the view writes."""
    read = getattr(module, name)
    done: list[bool] = []

    def read_then_meddle(*args: Any, **kwargs: Any) -> Any:
        found = read(*args, **kwargs)
        if not done:
            done.append(True)
            meddle()
        return found

    monkeypatch.setattr(module, name, read_then_meddle)


def count(session, event: str) -> int:  # type: ignore[no-untyped-def]
    session.rollback()
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.event == event)
    return session.scalar(query)


# --- a déposant's dossier -------------------------------------------------------------------


@pytest.fixture
def brouillon(world, auth):  # type: ignore[no-untyped-def]
    """A complete brouillon and its déposant, signed in."""
    hospital = world.organisation()
    user = world.user("deposant", hospital)
    auth.login(user)
    return world.dossier(world.campaign(), hospital), user


def identification(name: str) -> dict[str, str]:
    return {**COMPLETE_VALUES["identification"], "partenaire_nom": name}


def test_a_save_that_loses_to_a_delete_gets_the_french_page_of_a_deleted_dossier(
    app, client, auth, session, brouillon, monkeypatch
):
    dossier, user = brouillon

    def delete_meanwhile() -> None:
        with other_session(app) as other, transaction(other):
            delete_dossier(other, other.get(Dossier, dossier.id), Actor.of(user), DURING)

    meddle_after_read(monkeypatch, deposant_views, "_own_dossier", delete_meanwhile)
    form = {**identification("CHU Perdu"), "version": str(dossier.version)}
    with auth.at(DURING):
        response = client.post(f"/dossiers/{dossier.id}/volets/identification", data=form)
    assert response.status_code == 404
    assert VANISHED in response.text and '<html lang="fr"' in response.text
    assert count(session, "supprimer") == 1 and count(session, "modifier") == 0


def test_a_delete_that_loses_to_a_save_gets_the_french_conflict_page_and_the_save_stays(
    app, client, auth, session, brouillon, monkeypatch
):
    dossier, user = brouillon

    def save_meanwhile() -> None:
        with other_session(app) as other, transaction(other):
            found = other.get(Dossier, dossier.id)
            save_volet(other, found, Actor.of(user), "identification", identification("CHU Gardé"))

    meddle_after_read(monkeypatch, deposant_views, "_own_dossier", save_meanwhile)
    with auth.at(DURING):
        response = client.post(f"/dossiers/{dossier.id}/supprimer")
    assert response.status_code == 409
    assert CONFLICT in response.text and '<html lang="fr"' in response.text
    session.rollback()
    kept = session.get(Dossier, dossier.id, populate_existing=True)
    assert kept.values["identification"]["partenaire_nom"] == "CHU Gardé"


def test_a_delete_of_a_deleted_dossier_and_a_save_with_its_old_form_are_not_found(
    client, auth, brouillon
):
    dossier, _ = brouillon
    old_form = {**identification("CHU Ancien"), "version": str(dossier.version)}
    with auth.at(DURING):
        assert client.post(f"/dossiers/{dossier.id}/supprimer").status_code == 302
        again = client.post(f"/dossiers/{dossier.id}/supprimer")
        saved = client.post(f"/dossiers/{dossier.id}/volets/identification", data=old_form)
    for response in (again, saved):
        assert response.status_code == 404
        assert "Page introuvable" in response.text


def test_a_save_with_a_stale_version_is_refused_and_keeps_the_input_on_screen(
    client, auth, brouillon
):
    dossier, _ = brouillon
    with auth.at(DURING):
        first = {**identification("CHU Premier"), "version": str(dossier.version)}
        url = f"/dossiers/{dossier.id}/volets/identification"
        assert client.post(url, data=first).status_code == 302
        stale = {**identification("CHU Second"), "version": str(dossier.version)}
        response = client.post(url, data=stale)
    assert response.status_code == 409
    assert CONFLICT in response.text and 'value="CHU Second"' in response.text


def run_at_once(
    app: Any, session: Any, jobs: list[Callable[[Any], Any]], sign_in: list[Any]
) -> list[Any]:
    """Runs each job in its own thread with its own test client (signed in as the user of
    the same index, or anonymous for None), all released together; returns their answers."""
    clients = [app.test_client() for _ in jobs]
    for client, user in zip(clients, sign_in, strict=True):
        if user is not None:
            AuthActions(client, session).login(user)
    barrier = threading.Barrier(len(jobs))
    answers: list[Any] = [None] * len(jobs)

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        answers[index] = jobs[index](clients[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return answers


def test_eight_saves_and_one_delete_at_once_answer_in_french_and_lose_nothing_saved(
    app, session, brouillon
):
    dossier, user = brouillon
    names = [f"CHU n° {i}" for i in range(8)]
    url = f"/dossiers/{dossier.id}"

    def save(name: str) -> Callable[[Any], Any]:
        form = {**identification(name), "version": str(dossier.version)}
        return lambda client: client.post(f"{url}/volets/identification", data=form)

    with time_machine.travel(DURING, tick=False):
        jobs = [save(name) for name in names] + [lambda client: client.post(f"{url}/supprimer")]
        answers = run_at_once(app, session, jobs, [user] * 9)
    saved = [
        name for name, answer in zip(names, answers, strict=False) if answer.status_code == 302
    ]
    for answer in answers:
        assert answer.status_code in (302, 404, 409), answer.status_code
        assert "/connexion" not in (answer.location or "")
        if answer.status_code != 302:
            assert '<html lang="fr"' in answer.text
            assert VANISHED in answer.text or CONFLICT in answer.text
    assert count(session, "modifier") == len(saved)
    kept = session.get(Dossier, dossier.id, populate_existing=True)
    if answers[-1].status_code == 302:
        assert kept is None and count(session, "supprimer") == 1
    else:
        assert kept is not None and count(session, "supprimer") == 0
        assert saved and kept.values["identification"]["partenaire_nom"] in saved


# --- the ARS --------------------------------------------------------------------------------


@pytest.fixture
def en_instruction(world, session, app):  # type: ignore[no-untyped-def]
    """A dossier en instruction, two instructeurs who follow its campaign, and an avis
    asked on it: (dossier, instructeurs, avis, token)."""
    with time_machine.travel(JURY, tick=False):  # the link is signed on the jury's day
        campaign = world.campaign(avis=AVIS)
        dossier = world.dossier(campaign, world.organisation(), "en_instruction")
        instructeurs = [world.user("instructeur"), world.user("instructeur")]
        admin = world.actor("administrateur")
        with transaction(session):
            for user in instructeurs:
                follow(session, user, campaign, admin)
            avis = invite_avis(
                session,
                dossier,
                "coordonnateur",
                "coordo@chu.fr",
                "Pr Martin",
                admin,
                secret_key=app.config["SECRET_KEY"],
                base_url="http://localhost",
            )
        token = avis_token(avis.id, app.config["SECRET_KEY"])
    return dossier, instructeurs, avis, token


def test_two_instructeurs_deciding_at_once_one_decides_the_other_is_told_in_french(
    app, session, en_instruction
):
    dossier, instructeurs, _, _ = en_instruction
    url = f"/instruction/dossiers/{dossier.id}/actions"

    def decide(event: str) -> Callable[[Any], Any]:
        form = {"event": event, "motivation": "Décision du jury.", "version": dossier.version}
        return lambda client: client.post(url, data=form)

    with time_machine.travel(JURY, tick=False):
        answers = run_at_once(app, session, [decide("accepter"), decide("refuser")], instructeurs)
    codes = sorted(answer.status_code for answer in answers)
    assert codes[0] == 302 and codes[1] in (409, 422), codes
    assert "/connexion" not in next(a for a in answers if a.status_code == 302).location
    loser = next(answer for answer in answers if answer.status_code != 302)
    assert '<html lang="fr"' in loser.text
    assert count(session, "accepter") + count(session, "refuser") == 1


def test_an_avis_answered_twice_at_once_is_given_once(app, session, en_instruction):
    _, _, avis, token = en_instruction

    def answer(verdict: str) -> Callable[[Any], Any]:
        return lambda client: client.post(f"/avis/{token}", data={"verdict": verdict})

    with time_machine.travel(JURY, tick=False):
        answers = run_at_once(
            app, session, [answer("favorable"), answer("defavorable")], [None, None]
        )
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [302, 422], codes
    assert "déjà été donné" in next(a for a in answers if a.status_code == 422).text
    assert count(session, "donner_avis") == 1


def test_an_avis_answered_in_a_second_tab_meanwhile_is_refused_not_given_twice(
    app, client, session, en_instruction, monkeypatch
):
    _, _, avis, token = en_instruction

    def answer_meanwhile() -> None:
        with other_session(app) as other, transaction(other):
            found = other.get(Avis, avis.id)
            answer_avis(other, found, "favorable", "", None, Storage(app.config["UPLOAD_DIR"]))

    meddle_after_read(monkeypatch, avis_views, "_avis", answer_meanwhile)
    with time_machine.travel(JURY, tick=False):
        response = client.post(f"/avis/{token}", data={"verdict": "defavorable"})
    assert response.status_code == 422
    assert "déjà été donné" in response.text
    assert count(session, "donner_avis") == 1
    session.expire_all()
    assert session.get(Avis, avis.id).verdict == "favorable"


def test_an_avis_withdrawn_while_it_is_answered_gets_the_french_page_of_the_link(
    app, client, session, en_instruction, monkeypatch
):
    _, instructeurs, avis, token = en_instruction

    def withdraw_meanwhile() -> None:
        with other_session(app) as other, transaction(other):
            delete_avis(other, other.get(Avis, avis.id), Actor.of(instructeurs[0]))

    meddle_after_read(monkeypatch, avis_views, "_avis", withdraw_meanwhile)
    with time_machine.travel(JURY, tick=False):
        response = client.post(
            f"/avis/{token}",
            data={"verdict": "favorable", "fichier": (io.BytesIO(pdf_bytes()), "avis.pdf")},
        )
    assert response.status_code == 404
    assert "Cette demande d'avis a été retirée" in html.unescape(response.text)
    assert count(session, "donner_avis") == 0
