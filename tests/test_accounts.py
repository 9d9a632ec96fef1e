"""Accounts as the manuals describe them: an organisation identified by its FINESS or SIRET,
an address confirmed through a signed link before the first sign-in, a forgotten password
reset through a signed link that works once, and colleagues sharing the organisation."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import at_paris
from workflow.models import Organisation, OutboxMail, User
from workflow.people import accounts
from workflow.people.sign_in_sessions import open_session, resume
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import EmailNotConfirmed, InvalidInput, InvalidLink

SECRET = "test-secret-key"
PASSWORD = "Affaires-Medicales-2026"
NOW = at_paris(2026, 2, 10, 9)


def registration(**overrides: str) -> accounts.Registration:
    data = {
        "organisation_type": "etablissement_sante",
        "organisation_name": "Centre Hospitalier de Gonesse",
        "finess": "950001370",
        "email": "BAM@CH-Gonesse.example.fr",
        "password": PASSWORD,
        "password_confirmation": PASSWORD,
    }
    data.update(overrides)
    return accounts.Registration(**data)


def register(session, **overrides: str) -> User:  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False), transaction(session):
        return accounts.register(session, registration(**overrides), secret_key=SECRET)


def outbox(session, template: str) -> list[OutboxMail]:  # type: ignore[no-untyped-def]
    return list(session.scalars(select(OutboxMail).where(OutboxMail.template == template)))


@pytest.mark.parametrize(
    ("password", "missing"),
    [
        ("Court-1", "au moins 12 caractères"),
        ("tout-en-minuscules-2026", "une lettre majuscule"),
        ("TOUT-EN-MAJUSCULES-2026", "une lettre minuscule"),
        ("Sans-Aucun-Chiffre", "un chiffre"),
        ("SansCaractere2026", "un caractère spécial"),
        ("Direction-Gonesse-2026", "ne doit pas contenir votre adresse"),
    ],
)
def test_the_password_rules_stated_on_the_page_are_enforced(password, missing):
    problems = accounts.password_problems(password, "direction@ch-gonesse.example.fr")
    assert any(missing in p for p in problems)


def test_a_good_password_has_no_problem():
    assert accounts.password_problems(PASSWORD, "bam@ch-gonesse.example.fr") == []


def test_a_hospital_registers_with_its_finess_and_a_confirmation_mail_is_queued(session):
    user = register(session)
    organisation = session.get(Organisation, user.organisation_id)
    assert (organisation.type, organisation.finess, organisation.name) == (
        "etablissement_sante",
        "950001370",
        "Centre Hospitalier de Gonesse",
    )
    assert user.email == "bam@ch-gonesse.example.fr"  # one spelling, whatever was typed
    assert user.role == "deposant" and user.email_confirmed_at is None
    assert user.password_hash.startswith("$argon2id$")
    (mail,) = outbox(session, "confirmation_compte")
    assert mail.recipient == user.email
    assert mail.context["organisation"] == "Centre Hospitalier de Gonesse"


def test_a_finess_with_a_wrong_key_is_refused_and_nothing_is_created(session):
    with pytest.raises(InvalidInput) as refused:
        register(session, finess="950001371")
    assert refused.value.errors == {
        "finess": "La clé de contrôle du n° FINESS est invalide : vérifiez le numéro."
    }
    assert session.scalars(select(User)).all() == []
    assert outbox(session, "confirmation_compte") == []


def test_a_hospital_without_finess_is_refused(session):
    with pytest.raises(InvalidInput) as refused:
        register(session, finess="")
    assert "finess" in refused.value.errors


def test_a_university_gives_its_siret_and_a_candidate_no_identifier(session):
    university = register(
        session,
        organisation_type="universite",
        organisation_name="Université Paris Cité — DUMG",
        finess="",
        siret="772 201 489 00022",
        email="dumg@u-paris.example.fr",
    )
    candidate = register(
        session,
        organisation_type="candidat",
        organisation_name="Marie Dupont",
        finess="",
        email="marie.dupont@example.fr",
    )
    assert session.get(Organisation, university.organisation_id).siret == "77220148900022"
    assert session.get(Organisation, candidate.organisation_id).type == "candidat"


def test_a_university_registers_with_its_address_and_a_password_only(session):
    # AUMG manual, « Création de compte »: « Renseigner le mail de l'université … le mot de
    # passe choisi par la personne référente pour l'université » — no SIRET.
    university = register(
        session,
        organisation_type="universite",
        organisation_name="Université Paris-Saclay — DUMG",
        finess="",
        siret="",
        email="dumg@universite-paris-saclay.example.fr",
    )
    organisation = session.get(Organisation, university.organisation_id)
    assert (organisation.type, organisation.siret) == ("universite", None)
    assert outbox(session, "confirmation_compte")[0].recipient == university.email


def test_a_siret_typed_by_a_university_still_has_its_key_checked(session):
    with pytest.raises(InvalidInput) as refused:
        register(
            session,
            organisation_type="universite",
            organisation_name="Université Paris-Saclay — DUMG",
            finess="",
            siret="77220148900023",
            email="dumg@universite-paris-saclay.example.fr",
        )
    assert set(refused.value.errors) == {"siret"}
    assert session.scalars(select(User)).all() == []


def test_a_care_structure_without_siret_is_refused(session):
    with pytest.raises(InvalidInput) as refused:
        register(
            session,
            organisation_type="structure_soins",
            organisation_name="Maison de santé de Trappes",
            finess="",
            siret="",
            email="msp@trappes.example.fr",
        )
    assert "siret" in refused.value.errors


def test_every_problem_of_the_form_is_reported_at_once(session):
    with pytest.raises(InvalidInput) as refused:
        register(
            session,
            organisation_type="",
            organisation_name=" ",
            email="pas-une-adresse",
            password="court",
            password_confirmation="autre",
        )
    assert set(refused.value.errors) == {
        "organisation_type",
        "organisation_name",
        "email",
        "password",
    }


def test_the_two_passwords_must_match(session):
    with pytest.raises(InvalidInput) as refused:
        register(session, password_confirmation=PASSWORD + "x")
    assert refused.value.errors == {
        "password_confirmation": "Les deux mots de passe saisis sont différents."
    }


def test_an_organisation_already_registered_is_joined_by_invitation_not_by_registering(session):
    register(session)
    with pytest.raises(InvalidInput) as refused:
        register(session, email="autre@ch-gonesse.example.fr")
    assert (
        "Un compte existe déjà pour l'organisation de n° FINESS 950001370"
        in (refused.value.errors["finess"])
    )


def test_an_address_already_used_creates_nothing_and_warns_its_owner(session):
    owner = register(session)
    again = register(session, finess="750100018", email="BAM@ch-gonesse.example.fr")
    assert again is None
    assert session.scalars(select(User)).all() == [owner]
    assert session.scalars(select(Organisation)).one().finess == "950001370"
    assert len(outbox(session, "confirmation_compte")) == 1
    (warning,) = outbox(session, "tentative_creation_compte")
    assert warning.recipient == owner.email == "bam@ch-gonesse.example.fr"
    assert "token" not in warning.context  # an anonymous form never mails a link that acts


def test_an_address_already_used_with_other_mistakes_reads_like_a_new_one(session):
    register(session)
    with pytest.raises(InvalidInput) as refused:
        register(session, finess="750100018", password="court")
    assert set(refused.value.errors) == {"password"}  # nothing said about the address
    assert outbox(session, "tentative_creation_compte") == []


def confirmation_token(session) -> str:  # type: ignore[no-untyped-def]
    (mail,) = outbox(session, "confirmation_compte")
    return mail.context["token"]


def test_the_confirmation_link_confirms_the_address_and_opens_the_sign_in(session):
    user = register(session)
    with pytest.raises(EmailNotConfirmed):
        accounts.authenticate(session, user.email, PASSWORD)
    with time_machine.travel(NOW + dt.timedelta(hours=5), tick=False), transaction(session):
        accounts.confirm_email(session, confirmation_token(session), secret_key=SECRET)
    assert accounts.authenticate(session, "Bam@ch-gonesse.example.fr", PASSWORD).id == user.id


def test_a_confirmation_link_expires_after_three_days(session):
    register(session)
    token = confirmation_token(session)
    later = NOW + dt.timedelta(days=3, minutes=1)
    with (
        time_machine.travel(later, tick=False),
        pytest.raises(InvalidLink, match="il n'était valable que 3 jours"),
    ):
        accounts.confirm_email(session, token, secret_key=SECRET)


def test_a_tampered_or_foreign_link_is_refused(session):
    register(session)
    token = confirmation_token(session)
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(InvalidLink, match="n'est pas valide"):
            accounts.confirm_email(session, token[:-3] + "AAA", secret_key=SECRET)
        with pytest.raises(InvalidLink, match="n'est pas valide"):
            accounts.confirm_email(session, token, secret_key="another-key")
        # A reset link is not a confirmation link, even signed with the same key.
        with pytest.raises(InvalidLink):
            accounts.user_for_token(session, token, accounts.RESET, secret_key=SECRET)


def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(session):
    user = register(session)
    with pytest.raises(InvalidInput) as wrong_password:
        accounts.authenticate(session, user.email, "Pas-Le-Bon-2026")
    with pytest.raises(InvalidInput) as unknown:
        accounts.authenticate(session, "inconnu@example.fr", PASSWORD)
    assert wrong_password.value.message == unknown.value.message == accounts.BAD_CREDENTIALS


def confirmed(session) -> User:  # type: ignore[no-untyped-def]
    user = register(session)
    with time_machine.travel(NOW, tick=False), transaction(session):
        accounts.confirm_email(session, confirmation_token(session), secret_key=SECRET)
    return user


def reset_token(session) -> str:  # type: ignore[no-untyped-def]
    return outbox(session, "reinitialisation_mot_de_passe")[-1].context["token"]


def test_a_reset_link_works_once(session):
    user = confirmed(session)
    with time_machine.travel(NOW, tick=False):
        with transaction(session):
            accounts.request_password_reset(session, user.email, secret_key=SECRET)
        token = reset_token(session)
        new = "Nouveau-Mot-De-Passe-2026"
        with transaction(session):
            accounts.set_password_from_link(
                session, token, accounts.RESET, new, new, secret_key=SECRET
            )
        assert accounts.authenticate(session, user.email, new).id == user.id
        with pytest.raises(InvalidLink, match="Ce lien a déjà servi"):
            accounts.user_for_token(session, token, accounts.RESET, secret_key=SECRET)
    with pytest.raises(InvalidInput):
        accounts.authenticate(session, user.email, PASSWORD)


def test_a_reset_link_expires_after_two_hours(session):
    user = confirmed(session)
    with time_machine.travel(NOW, tick=False), transaction(session):
        accounts.request_password_reset(session, user.email, secret_key=SECRET)
    token = reset_token(session)
    with (
        time_machine.travel(NOW + dt.timedelta(hours=2, seconds=5), tick=False),
        pytest.raises(InvalidLink, match="2 heures"),
    ):
        accounts.user_for_token(session, token, accounts.RESET, secret_key=SECRET)


def test_asking_a_reset_for_an_unknown_address_queues_nothing(session):
    with time_machine.travel(NOW, tick=False), transaction(session):
        accounts.request_password_reset(session, "personne@example.fr", secret_key=SECRET)
    assert outbox(session, "reinitialisation_mot_de_passe") == []


def test_a_reset_link_confirms_an_address_never_confirmed(session):
    user = register(session)
    with time_machine.travel(NOW, tick=False):
        with transaction(session):
            accounts.request_password_reset(session, user.email, secret_key=SECRET)
        new = "Nouveau-Mot-De-Passe-2026"
        with transaction(session):
            accounts.set_password_from_link(
                session, reset_token(session), accounts.RESET, new, new, secret_key=SECRET
            )
    assert user.email_confirmed_at is not None


def test_changing_ones_password_asks_for_the_current_one(session):
    user = confirmed(session)
    new = "Nouveau-Mot-De-Passe-2026"
    with pytest.raises(InvalidInput) as refused, transaction(session):
        accounts.change_password(session, user, "pas-le-bon", new, new)
    assert refused.value.errors == {"current_password": "Le mot de passe actuel est incorrect."}
    with transaction(session):
        other_browser = open_session(session, user)
        accounts.change_password(session, user, PASSWORD, new, new)
    assert resume(session, other_browser).user is None  # other sessions end
    assert accounts.authenticate(session, user.email, new).id == user.id


def test_a_colleague_invited_shares_the_organisation_and_chooses_a_password(session):
    user = confirmed(session)
    with time_machine.travel(NOW, tick=False), transaction(session):
        colleague = accounts.invite_member(
            session, user, "adjointe@ch-gonesse.example.fr", secret_key=SECRET
        )
    assert colleague.organisation_id == user.organisation_id
    with pytest.raises(InvalidInput):  # no password opens it yet
        accounts.authenticate(session, colleague.email, "")
    (mail,) = outbox(session, "invitation_compte")
    new = "Bureau-Medical-Gonesse-2026"
    with time_machine.travel(NOW, tick=False), transaction(session):
        accounts.set_password_from_link(
            session, mail.context["token"], accounts.INVITATION, new, new, secret_key=SECRET
        )
    assert accounts.authenticate(session, colleague.email, new).id == colleague.id
    assert {m.email for m in accounts.members(session, user.organisation_id)} == {
        user.email,
        colleague.email,
    }


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("confirmation_compte", "/compte/confirmer/"),
        ("reinitialisation_mot_de_passe", "/compte/mot-de-passe/"),
        ("invitation_compte", "/compte/invitation/"),
    ],
)
def test_the_account_mails_arrive_with_their_link(template, path, sqlite_url, smtp_server):
    from workflow.mail.sender import parse_smtp_url, send_pending
    from workflow.plumbing.db import make_engine, make_session_factory

    sessions = make_session_factory(make_engine(sqlite_url))
    with sessions() as session:
        user = confirmed(session)
        with time_machine.travel(NOW, tick=False), transaction(session):
            if template == "reinitialisation_mot_de_passe":
                accounts.request_password_reset(session, user.email, secret_key=SECRET)
            if template == "invitation_compte":
                accounts.invite_member(session, user, "collegue@example.fr", secret_key=SECRET)
        token = outbox(session, template)[-1].context["token"]
    report = send_pending(
        sessions,
        parse_smtp_url(smtp_server.url),
        mail_from="ne-pas-repondre@ars.example.fr",
        base_url="https://postes.example.fr",
    )
    assert report.failed == []
    message = next(m for m in smtp_server.messages if token in m.get_body(("plain",)).get_content())
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"https://postes.example.fr{path}{token}" in text
    assert f"https://postes.example.fr{path}{token}" in html
    assert "None" not in text and re.search(r"valable \d+ (jours|heures)", text)
