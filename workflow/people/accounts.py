"""Déposant accounts: creating one for an organisation, confirming its address, signing in,
forgotten and changed passwords, and colleagues invited into the same organisation.

Links sent by mail carry a token signed with the application's secret key (itsdangerous),
valid for a limited time. A password-reset or invitation token also carries a fingerprint of
the password hash it was made for: once the password changes, the link no longer works.
Every function that changes an account runs inside the caller's transaction and queues its
mail in the same transaction (`outbox.queue`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.journal import outbox
from workflow.models import Organisation, Role, User
from workflow.people.passwords import hash_password, verify_password
from workflow.people.sign_in_sessions import (
    PASSWORD_CHANGED,
    PASSWORD_RESET,
    end_all_sessions,
)
from workflow.plumbing import clock, identifiers
from workflow.plumbing.errors import EmailNotConfirmed, InvalidInput, InvalidLink

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
PASSWORD_RULES = (
    f"Au moins {PASSWORD_MIN_LENGTH} caractères, dont au moins une lettre minuscule, une "
    "lettre majuscule, un chiffre et un caractère spécial (par exemple ! ? - _ @ #). "
    "Il ne doit pas contenir votre adresse électronique."
)

CONFIRMATION = "confirmation"
RESET = "reinitialisation"
INVITATION = "invitation"
# How long each kind of link works, and how the mail and the refusal say it.
MAX_AGES = {
    CONFIRMATION: (dt.timedelta(days=3), "3 jours"),
    RESET: (dt.timedelta(hours=2), "2 heures"),
    INVITATION: (dt.timedelta(days=7), "7 jours"),
}
TEMPLATES = {
    CONFIRMATION: "confirmation_compte",
    RESET: "reinitialisation_mot_de_passe",
    INVITATION: "invitation_compte",
}
# Sent to the owner of an address someone tried to create an account with.
ATTEMPTED_REGISTRATION = "tentative_creation_compte"

# Who may create an account, and the identifier each kind of organisation gives (the
# manuals: a hospital by its FINESS, a care structure or a university by its SIRET).
ORGANISATION_KINDS: dict[str, tuple[str, str | None]] = {
    "etablissement_sante": ("Établissement de santé (Bureau des Affaires Médicales)", "finess"),
    "structure_soins": (
        "Structure de soins (centre de santé, maison de santé, cabinet libéral)",
        "siret",
    ),
    "universite": ("Université (Département de Médecine Générale)", "siret"),
    "candidat": ("Candidat, à titre personnel", None),
}
# The AUMG manual's « Création de compte »: « Renseigner le mail de l'université » and « le
# mot de passe » — no SIRET. A university may still give one (then checked).
OPTIONAL_IDENTIFIER = {"universite"}

BAD_CREDENTIALS = "Adresse électronique ou mot de passe incorrect."


@cache
def _dummy_hash() -> str:
    """Verified when the address is unknown, so that a wrong address takes as long as a
    wrong password and the response time does not tell which accounts exist."""
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Registration:
    """What the « Création de compte » form asks; keys of errors are these field names."""

    organisation_type: str
    organisation_name: str
    email: str
    password: str
    password_confirmation: str
    finess: str = ""
    siret: str = ""
    full_name: str = ""


def normalise_email(raw: str) -> str:
    """The address as stored and looked up: checked, then in lower case."""
    return identifiers.check_email(raw).value.lower()


def password_problems(password: str, email: str = "") -> list[str]:
    """What the password lacks under PASSWORD_RULES, in French; empty when it is good."""
    problems: list[str] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(
            f"Le mot de passe doit comporter au moins {PASSWORD_MIN_LENGTH} caractères "
            f"({len(password)} saisis)."
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"Le mot de passe doit comporter au plus {PASSWORD_MAX_LENGTH} caractères.")
    kinds = (
        (str.islower, "une lettre minuscule"),
        (str.isupper, "une lettre majuscule"),
        (str.isdigit, "un chiffre"),
        (lambda c: not c.isalnum(), "un caractère spécial"),
    )
    missing = [name for test, name in kinds if not any(test(c) for c in password)]
    if missing:
        problems.append("Il manque au mot de passe : " + ", ".join(missing) + ".")
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in password.lower():
        problems.append("Le mot de passe ne doit pas contenir votre adresse électronique.")
    return problems


def _check_new_password(password: str, confirmation: str, email: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    problems = password_problems(password, email)
    if problems:
        errors["password"] = " ".join(problems)
    elif password != confirmation:
        errors["password_confirmation"] = "Les deux mots de passe saisis sont différents."
    return errors


def user_by_email(session: Session, email: str) -> User | None:
    """The account of an address, whatever its case."""
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def register(
    session: Session, form: Registration, *, secret_key: str, now: dt.datetime | None = None
) -> User | None:
    """Creates an organisation and its first déposant, not yet confirmed, and queues the
    confirmation mail. Raises InvalidInput mapping each form field to its French error.
    When the address already has an account, creates nothing, queues a mail telling its
    owner that someone tried (with the way to sign in or choose a new password) and returns
    None: the caller answers exactly as for a new account."""
    now = now or clock.now()
    errors: dict[str, str] = {}
    kind = ORGANISATION_KINDS.get(form.organisation_type)
    if kind is None:
        errors["organisation_type"] = "Choisissez le type de votre organisation."
    name = " ".join(form.organisation_name.split())
    if not name:
        label = "votre nom" if form.organisation_type == "candidat" else "le nom"
        errors["organisation_name"] = f"Renseignez {label}."
    elif len(name) > 200:
        errors["organisation_name"] = "200 caractères au maximum."
    identifier_field = kind[1] if kind else None
    identifier = None
    if identifier_field == "finess":
        identifier = _identifier(form.finess, identifiers.check_finess, "finess", errors)
    elif identifier_field == "siret":
        optional = form.organisation_type in OPTIONAL_IDENTIFIER
        if not (optional and not form.siret.strip()):
            identifier = _identifier(form.siret, identifiers.check_siret, "siret", errors)
    email = ""
    try:
        email = normalise_email(form.email)
    except identifiers.IdentifierError as exc:
        errors["email"] = exc.message
    errors.update(_check_new_password(form.password, form.password_confirmation, email))
    # An address already in use is not an error shown on the page: that would tell anyone
    # which addresses have an account. Its owner is told by mail instead.
    owner = user_by_email(session, email) if email and "email" not in errors else None
    if identifier and identifier_field:
        column = getattr(Organisation, identifier_field)
        if session.scalar(select(Organisation.id).where(column == identifier)):
            what = "n° FINESS" if identifier_field == "finess" else "n° SIRET"
            errors[identifier_field] = (
                f"Un compte existe déjà pour l'organisation de {what} {identifier} : demandez à "
                "l'un de ses utilisateurs de vous ajouter depuis sa page « Mon compte »."
            )
    if errors:
        raise InvalidInput("Le compte n'a pas pu être créé : corrigez les champs signalés.", errors)
    if owner is not None:
        context = {"email": owner.email, "valid_for": MAX_AGES[RESET][1]}
        outbox.queue(session, ATTEMPTED_REGISTRATION, [owner.email], context=context, now=now)
        return None
    organisation = Organisation(
        type=form.organisation_type,
        name=name,
        finess=identifier if identifier_field == "finess" else None,
        siret=identifier if identifier_field == "siret" else None,
    )
    session.add(organisation)
    session.flush()
    user = User(
        email=email,
        password_hash=hash_password(form.password),
        role=Role.DEPOSANT.value,
        organisation_id=organisation.id,
        full_name=" ".join(form.full_name.split()) or None,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    _send_link(session, user, CONFIRMATION, secret_key, now, organisation=organisation.name)
    return user


def _identifier(raw: str, check: Any, field: str, errors: dict[str, str]) -> str | None:
    try:
        return check(raw or "").value
    except identifiers.IdentifierError as exc:
        errors[field] = exc.message
        return None


# --- links -----------------------------------------------------------------------------------


def _serializer(secret_key: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=f"postes-partages/{purpose}")


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:20]


def make_token(secret_key: str, purpose: str, user: User) -> str:
    """A signed link token for `user`: confirmation names the address; reset and invitation
    name the current password, so that they work once."""
    if purpose == CONFIRMATION:
        payload = {"u": user.id, "e": user.email}
    else:
        payload = {"u": user.id, "p": _fingerprint(user.password_hash)}
    return _serializer(secret_key, purpose).dumps(payload)


def user_for_token(session: Session, token: str, purpose: str, *, secret_key: str) -> User:
    """The account a link is for; raises InvalidLink when it is forged, expired or used."""
    max_age, age_label = MAX_AGES[purpose]
    try:
        payload = _serializer(secret_key, purpose).loads(
            token, max_age=int(max_age.total_seconds())
        )
    except SignatureExpired:
        raise InvalidLink(
            f"Ce lien a expiré : il n'était valable que {age_label}. " + _ask_again(purpose)
        ) from None
    except BadSignature:
        raise InvalidLink(
            "Ce lien n'est pas valide : vérifiez que vous l'avez copié en entier depuis le "
            "mail. " + _ask_again(purpose)
        ) from None
    user = session.get(User, payload.get("u")) if isinstance(payload, dict) else None
    if user is None or not user.active:
        raise InvalidLink("Ce lien ne correspond à aucun compte actif. " + _ask_again(purpose))
    if purpose == CONFIRMATION:
        if payload.get("e") != user.email:
            raise InvalidLink("Ce lien confirmait une autre adresse. " + _ask_again(purpose))
    elif not hmac.compare_digest(str(payload.get("p")), _fingerprint(user.password_hash)):
        raise InvalidLink(
            "Ce lien a déjà servi : le mot de passe a été choisi depuis. " + _ask_again(purpose)
        )
    return user


def _ask_again(purpose: str) -> str:
    if purpose == CONFIRMATION:
        return "Connectez-vous pour recevoir un nouveau lien de confirmation."
    if purpose == INVITATION:
        return "Demandez à votre collègue de vous inviter à nouveau."
    return "Demandez un nouveau lien depuis « Mot de passe oublié ? »."


def _send_link(
    session: Session, user: User, purpose: str, secret_key: str, now: dt.datetime, **extra: Any
) -> None:
    context = {
        "token": make_token(secret_key, purpose, user),
        "email": user.email,
        "valid_for": MAX_AGES[purpose][1],
        **extra,
    }
    outbox.queue(session, TEMPLATES[purpose], [user.email], context=context, now=now)


# --- the flows -------------------------------------------------------------------------------


def confirm_email(
    session: Session, token: str, *, secret_key: str, now: dt.datetime | None = None
) -> User:
    """Confirms the address a confirmation link was sent to (again: harmless)."""
    user = user_for_token(session, token, CONFIRMATION, secret_key=secret_key)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = now or clock.now()
    return user


def resend_confirmation(
    session: Session, email: str, *, secret_key: str, now: dt.datetime | None = None
) -> None:
    """Sends a new confirmation link if the address has an unconfirmed account; says nothing
    either way."""
    user = user_by_email(session, email)
    if user is not None and user.active and user.email_confirmed_at is None:
        _send_link(session, user, CONFIRMATION, secret_key, now or clock.now())


def authenticate(session: Session, email: str, password: str) -> User:
    """The account for an address and password. Raises InvalidInput with one message for any
    wrong pair (an unknown address is not told apart), and EmailNotConfirmed when the pair is
    right but the address has not been confirmed yet."""
    user = user_by_email(session, email) if email.strip() else None
    if user is None:
        verify_password(_dummy_hash(), password)
        raise InvalidInput(BAD_CREDENTIALS)
    if not verify_password(user.password_hash, password) or not user.active:
        raise InvalidInput(BAD_CREDENTIALS)
    if user.email_confirmed_at is None:
        raise EmailNotConfirmed(
            "Votre adresse électronique n'est pas encore confirmée : cliquez sur le lien du "
            "mail de confirmation (vérifiez aussi vos courriers indésirables)."
        )
    return user


def request_password_reset(
    session: Session, email: str, *, secret_key: str, now: dt.datetime | None = None
) -> None:
    """Queues a reset link if the address has an active account; the caller answers the same
    whether it does or not."""
    user = user_by_email(session, email) if email.strip() else None
    known = user is not None and user.active
    # An unknown address does the same work — a token signed, a mail written in a savepoint —
    # and then undoes it, so that the time taken does not tell whether the address has an
    # account (bench/reset_timing.py compares the two).
    target = user if known else User(id=0, email=email.strip(), password_hash=_dummy_hash())
    with session.begin_nested() as step:
        _send_link(session, target, RESET, secret_key, now or clock.now())
        if not known:
            step.rollback()


def set_password_from_link(
    session: Session,
    token: str,
    purpose: str,
    password: str,
    confirmation: str,
    *,
    secret_key: str,
    now: dt.datetime | None = None,
) -> User:
    """Chooses a new password through a reset or invitation link, which then stops working.
    The link came to the mailbox, so the address counts as confirmed."""
    user = user_for_token(session, token, purpose, secret_key=secret_key)
    errors = _check_new_password(password, confirmation, user.email)
    if errors:
        raise InvalidInput("Le mot de passe n'a pas été changé.", errors)
    user.password_hash = hash_password(password)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = now or clock.now()
    end_all_sessions(session, user.id, PASSWORD_RESET, now)
    return user


def change_password(
    session: Session, user: User, current: str, password: str, confirmation: str
) -> None:
    """Changes a signed-in user's password, the current one given again; every session of
    the user ends (the caller opens a new one for the browser that asked)."""
    if not verify_password(user.password_hash, current):
        raise InvalidInput(
            "Le mot de passe n'a pas été changé.",
            {"current_password": "Le mot de passe actuel est incorrect."},
        )
    errors = _check_new_password(password, confirmation, user.email)
    if errors:
        raise InvalidInput("Le mot de passe n'a pas été changé.", errors)
    user.password_hash = hash_password(password)
    end_all_sessions(session, user.id, PASSWORD_CHANGED)


def members(session: Session, organisation_id: int) -> list[User]:
    """The users of an organisation, who share its dossiers."""
    return list(
        session.scalars(
            select(User).where(User.organisation_id == organisation_id).order_by(User.email)
        )
    )


def invite_member(
    session: Session,
    inviter: User,
    email: str,
    *,
    secret_key: str,
    full_name: str = "",
    now: dt.datetime | None = None,
) -> User:
    """Adds a colleague to the inviter's organisation: an account without a password yet,
    and a mail with a link to choose one."""
    now = now or clock.now()
    if inviter.role != Role.DEPOSANT.value or inviter.organisation_id is None:
        raise InvalidInput("Seul un déposant peut inviter un collègue dans son organisation.")
    try:
        address = normalise_email(email)
    except identifiers.IdentifierError as exc:
        raise InvalidInput("L'invitation n'a pas été envoyée.", {"email": exc.message}) from None
    if user_by_email(session, address):
        raise InvalidInput(
            "L'invitation n'a pas été envoyée.",
            {"email": "Un compte existe déjà avec cette adresse."},
        )
    user = User(
        email=address,
        # Not an argon2 hash: no password opens it until one is chosen through the link.
        password_hash="!" + secrets.token_hex(20),
        role=Role.DEPOSANT.value,
        organisation_id=inviter.organisation_id,
        full_name=" ".join(full_name.split()) or None,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    organisation = session.get(Organisation, inviter.organisation_id)
    _send_link(
        session,
        user,
        INVITATION,
        secret_key,
        now,
        organisation=organisation.name if organisation else "",
        inviter=inviter.full_name or inviter.email,
    )
    return user
