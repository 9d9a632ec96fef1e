"""Accounts: création de compte, confirmation of the address, connexion and déconnexion,
mot de passe oublié, changing one's password, and inviting a colleague of the organisation.
The rules live in workflow.accounts; these views only read forms and show the answers."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response

from web.shared import proconnect, throttling
from web.shared.db import db_session
from web.shared.security import safe_next
from web.shared.sign_in import end_session, journal, record_refused_sign_in, start_session
from web.shared.throttling import Throttled
from workflow.models import Organisation
from workflow.people import accounts, agent_sign_in
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import EmailNotConfirmed, InvalidInput, InvalidLink

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, template_folder="templates")

REGISTRATION_LABELS = {
    "organisation_type": "Type d'organisation",
    "organisation_name": "Nom de l'organisation",
    "finess": "N° FINESS",
    "siret": "N° SIRET",
    "full_name": "Vos nom et prénom",
    "email": "Adresse électronique",
    "password": "Mot de passe",
    "password_confirmation": "Confirmation du mot de passe",
}
PASSWORD_LABELS = {
    "current_password": "Mot de passe actuel",
    "password": "Nouveau mot de passe",
    "password_confirmation": "Confirmation du nouveau mot de passe",
}
SAME_ANSWER = (
    "Si un compte existe pour l'adresse {email}, un mail vient de lui être envoyé avec un lien "
    "valable {valid_for}. Pensez à vérifier vos courriers indésirables."
)


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _home() -> str:
    """Where a user lands after signing in: their dossiers, or the ARS's campaigns."""
    if current_user.is_deposant:
        return url_for("deposant.home")
    return url_for("instruction.home")


@bp.route("/compte/creation", methods=["GET", "POST"])
def register() -> str | Response | tuple[str, int]:
    form = request.form
    if request.method != "POST":  # GET, and HEAD: never the POST branch without CSRF
        return render_template("auth/register.html", form={}, errors={}, **_register_context())
    registration = accounts.Registration(
        organisation_type=form.get("organisation_type", ""),
        organisation_name=form.get("organisation_name", ""),
        finess=form.get("finess", ""),
        siret=form.get("siret", ""),
        full_name=form.get("full_name", ""),
        email=form.get("email", ""),
        password=form.get("password", ""),
        password_confirmation=form.get("password_confirmation", ""),
    )
    s = db_session()
    try:
        throttling.spend("creation_compte")
        with transaction(s):
            user = accounts.register(s, registration, secret_key=_secret(), now=clock.now())
            if user is not None:  # None: the address has an account, its owner is warned
                journal("compte_cree", user, detail={"role": user.role})
            # Counted per address typed only when a mail leaves; a refusal here rolls the
            # account and its mail back.
            throttling.spend("creation_compte", registration.email, client=False)
    except InvalidInput as invalid:
        page = render_template(
            "auth/register.html",
            form=form,
            errors=invalid.errors,
            message=invalid.message,
            **_register_context(),
        )
        return page, 422
    except Throttled as refused:
        page = render_template(
            "auth/register.html",
            form=form,
            errors={},
            message=refused.message,
            **_register_context(),
        )
        return throttling.answer(refused, page)
    # The same page whether the address was new or already had an account (whose owner got a
    # mail instead): the answer does not tell which addresses have one.
    session["registered_email"] = accounts.normalise_email(registration.email)
    return redirect(url_for("auth.registered"))


def _register_context() -> dict[str, object]:
    return {
        "kinds": accounts.ORGANISATION_KINDS,
        "rules": accounts.PASSWORD_RULES,
        "labels": REGISTRATION_LABELS,
        "valid_for": accounts.MAX_AGES[accounts.CONFIRMATION][1],
    }


@bp.get("/compte/creation/envoye")
def registered() -> str:
    return render_template(
        "auth/registered.html",
        email=session.get("registered_email"),
        valid_for=accounts.MAX_AGES[accounts.CONFIRMATION][1],
    )


@bp.get("/compte/confirmer/<token>")
def confirm(token: str) -> str | Response | tuple[str, int]:
    s = db_session()
    now = clock.now()
    try:
        with transaction(s):
            user = accounts.confirm_email(s, token, secret_key=_secret(), now=now)
            if user.email_confirmed_at == now:  # confirmed by this click, not before
                journal("adresse_confirmee", user, actor=Actor.of(user))
    except InvalidLink as invalid:
        return render_template("auth/invalid_link.html", message=invalid.message), 400
    flash("Votre adresse électronique est confirmée : vous pouvez vous connecter.", "success")
    return redirect(url_for("auth.login"))


@bp.post("/compte/confirmation/renvoyer")
def resend_confirmation() -> Response | tuple[str, int, dict[str, str]]:
    email = request.form.get("email", "")
    try:
        throttling.spend("renvoi_confirmation", email)
    except Throttled as refused:
        page = render_template(
            "auth/login.html", email=email, next=None, error=refused.message, **_login_context()
        )
        return throttling.answer(refused, page)
    s = db_session()
    with transaction(s):
        accounts.resend_confirmation(s, email, secret_key=_secret(), now=clock.now())
    flash(
        "Si cette adresse a un compte à confirmer, un nouveau lien de confirmation vient de lui "
        "être envoyé.",
        "info",
    )
    return redirect(url_for("auth.login"))


@bp.route("/connexion", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(_home())
    next_page = safe_next(request.values.get("next"))
    if request.method != "POST":  # GET, and HEAD: never the POST branch without CSRF
        return render_template("auth/login.html", email="", next=next_page, **_login_context())
    email = request.form.get("email", "")
    s = db_session()
    try:
        # Before the password is checked: a locked account is locked for the right password
        # too, and an unknown address locks like a known one.
        throttling.spend("connexion", email)
        user = accounts.authenticate(s, email, request.form.get("password", ""))
    except Throttled as refused:
        page = render_template(
            "auth/login.html",
            email=email,
            next=next_page,
            error=refused.message,
            **_login_context(),
        )
        return throttling.answer(refused, page)
    except EmailNotConfirmed as unconfirmed:
        throttling.forgive("connexion", email)
        record_refused_sign_in(email, "adresse non confirmée")
        page = render_template(
            "auth/login.html",
            email=email,
            next=next_page,
            unconfirmed=unconfirmed.message,
            **_login_context(),
        )
        return page, 403
    except InvalidInput as invalid:
        record_refused_sign_in(email, "mot de passe incorrect")
        page = render_template(
            "auth/login.html",
            email=email,
            next=next_page,
            error=invalid.message,
            **_login_context(),
        )
        return page, 401
    throttling.forgive("connexion", email)
    if agent_sign_in.password_refused(s, user, proconnect.enabled()):
        # The password was right: said only now, so the refusal tells nothing to a guesser.
        record_refused_sign_in(email, "ProConnect obligatoire")
        page = render_template(
            "auth/login.html",
            email=email,
            next=next_page,
            error=agent_sign_in.PASSWORD_REFUSED,
            **_login_context(),
        )
        return page, 403
    session.clear()
    start_session(user)
    return redirect(next_page or _home())


def _login_context() -> dict[str, object]:
    return {"proconnect": proconnect.enabled()}


@bp.post("/connexion/proconnect")
def proconnect_start() -> Response | tuple[str, int]:
    """« S'identifier avec ProConnect »: off to the provider."""
    if not proconnect.enabled():
        abort(404)
    try:
        return proconnect.start()
    except proconnect.ProConnectFailed as failed:
        return _proconnect_refused(PROCONNECT_UNAVAILABLE, failed.reason, None, 503)


PROCONNECT_UNAVAILABLE = (
    "ProConnect ne répond pas pour le moment : réessayez dans quelques minutes."
)
PROCONNECT_UNTRUSTED = (
    "La connexion avec ProConnect n'a pas abouti : sa réponse n'a pas pu être vérifiée. "
    "Recommencez avec le bouton « S'identifier avec ProConnect »."
)


@bp.get("/connexion/proconnect/retour")
def proconnect_callback() -> Response | tuple[str, int]:
    """The provider sends the agent back here with a code: the identity is checked, then
    matched to an account an administrator created."""
    if not proconnect.enabled():
        abort(404)
    if request.args.get("error"):
        return _proconnect_refused(
            "La connexion avec ProConnect a été interrompue : recommencez si vous le souhaitez.",
            f"interrompue par le fournisseur ({request.args.get('error', '')[:60]})",
            None,
            400,
        )
    try:
        claims = proconnect.finish()
    except proconnect.ProConnectFailed as failed:
        return _proconnect_refused(PROCONNECT_UNTRUSTED, failed.reason, None, 400)
    s = db_session()
    email = str(claims.get("email") or "")
    try:
        with transaction(s):
            user = agent_sign_in.agent_for(
                s, email, claims.get("siret"), proconnect.ars_sirets(), clock.now()
            )
    except agent_sign_in.SignInRefused as refused:
        return _proconnect_refused(refused.message, refused.reason, email, 403)
    id_token = session.get(proconnect.ID_TOKEN)
    session.clear()
    start_session(user, detail={"methode": "ProConnect"})
    session[proconnect.ID_TOKEN] = id_token
    return redirect(url_for("instruction.home"))


def _proconnect_refused(
    message: str, reason: str, email: str | None, status: int
) -> tuple[str, int]:
    log.warning("ProConnect sign-in refused: %s", reason)
    s = db_session()
    session.pop(proconnect.ID_TOKEN, None)
    with transaction(s):
        user = accounts.user_by_email(s, email) if email else None
        journal(
            "connexion_echouee",
            user,
            email=email,
            detail={"motif": reason, "methode": "ProConnect"},
        )
    page = render_template(
        "auth/login.html", email="", next=None, error=message, **_login_context()
    )
    return page, status


@bp.post("/deconnexion")
def logout() -> Response:
    end_session()
    provider_logout = proconnect.logout_url()
    state = session.get(proconnect.LOGOUT_STATE)
    session.clear()
    if provider_logout is not None:
        # The provider ends its own session, then sends the browser back to the page below.
        session[proconnect.LOGOUT_STATE] = state
        return redirect(provider_logout)
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("public.index"))


@bp.get("/deconnexion/proconnect")
def proconnect_logged_out() -> Response:
    """Back from the provider's logout."""
    expected = session.pop(proconnect.LOGOUT_STATE, None)
    if expected is not None and request.args.get("state") == expected:
        flash("Vous êtes déconnecté, de ce service et de ProConnect.", "info")
    else:
        flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("public.index"))


@bp.route("/compte/mot-de-passe-oublie", methods=["GET", "POST"])
def forgot() -> str | tuple[str, int, dict[str, str]]:
    if request.method != "POST":  # GET, and HEAD: never the POST branch without CSRF
        return render_template("auth/forgot.html", sent_to=None)
    email = request.form.get("email", "").strip()
    s = db_session()
    try:
        throttling.spend("mot_de_passe_oublie", email)
    except Throttled as refused:
        page = render_template("auth/forgot.html", sent_to=None, email=email, error=refused.message)
        return throttling.answer(refused, page)
    with transaction(s):
        accounts.request_password_reset(s, email, secret_key=_secret(), now=clock.now())
    answer = SAME_ANSWER.format(email=email, valid_for=accounts.MAX_AGES[accounts.RESET][1])
    return render_template("auth/forgot.html", sent_to=answer)


@bp.route("/compte/mot-de-passe/<token>", methods=["GET", "POST"])
def reset(token: str) -> str | Response | tuple[str, int]:
    return _password_from_link(token, accounts.RESET)


@bp.route("/compte/invitation/<token>", methods=["GET", "POST"])
def invitation(token: str) -> str | Response | tuple[str, int]:
    return _password_from_link(token, accounts.INVITATION)


def _password_from_link(token: str, purpose: str) -> str | Response | tuple[str, int]:
    s = db_session()
    try:
        user = accounts.user_for_token(s, token, purpose, secret_key=_secret())
    except InvalidLink as invalid:
        return render_template("auth/invalid_link.html", message=invalid.message), 400
    context = {"email": user.email, "purpose": purpose, "rules": accounts.PASSWORD_RULES}
    if request.method != "POST":  # GET, and HEAD: never the POST branch without CSRF
        return render_template("auth/set_password.html", errors={}, **context)
    try:
        with transaction(s):
            user = accounts.set_password_from_link(
                s,
                token,
                purpose,
                request.form.get("password", ""),
                request.form.get("password_confirmation", ""),
                secret_key=_secret(),
                now=clock.now(),
            )
            kind = (
                "mot_de_passe_reinitialise" if purpose == accounts.RESET else "mot_de_passe_choisi"
            )
            journal(kind, user, actor=Actor.of(user))
    except InvalidLink as invalid:
        return render_template("auth/invalid_link.html", message=invalid.message), 400
    except InvalidInput as invalid:
        page = render_template(
            "auth/set_password.html", errors=invalid.errors, message=invalid.message, **context
        )
        return page, 422
    # The mailbox answered: the failures that locked the account are forgotten.
    throttling.forgive("connexion", user.email)
    flash("Votre mot de passe est enregistré : connectez-vous avec lui.", "success")
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/compte")
@login_required
def account() -> str:
    return _account_page()


def _account_page(**extra: object) -> str:
    user = current_user.user
    s = db_session()
    organisation = s.get(Organisation, user.organisation_id) if user.organisation_id else None
    return render_template(
        "auth/account.html",
        user=user,
        organisation=organisation,
        kinds=accounts.ORGANISATION_KINDS,
        members=accounts.members(s, organisation.id) if organisation else [],
        rules=accounts.PASSWORD_RULES,
        labels=PASSWORD_LABELS,
        password_errors=extra.pop("password_errors", {}),
        invite_errors=extra.pop("invite_errors", {}),
        invite_form=extra.pop("invite_form", {}),
        **extra,
    )


@bp.post("/compte/mot-de-passe")
@login_required
def change_password() -> str | Response | tuple[str, int]:
    s = db_session()
    user = current_user.user
    try:
        with transaction(s):
            accounts.change_password(
                s,
                user,
                request.form.get("current_password", ""),
                request.form.get("password", ""),
                request.form.get("password_confirmation", ""),
            )
            journal("mot_de_passe_change", user)
    except InvalidInput as invalid:
        page = _account_page(password_errors=invalid.errors, password_message=invalid.message)
        return page, 422
    # Changing the password ended every session of the account: this browser gets a new one.
    start_session(user, journaled=False)
    flash("Votre mot de passe est changé.", "success")
    return redirect(url_for("auth.account"))


@bp.post("/compte/invitations")
@login_required
def invite() -> str | Response | tuple[str, int]:
    s = db_session()
    email = request.form.get("email", "")
    try:
        throttling.spend("invitation_collegue")
        with transaction(s):
            invited = accounts.invite_member(
                s,
                current_user.user,
                email,
                full_name=request.form.get("full_name", ""),
                secret_key=_secret(),
                now=clock.now(),
            )
            journal("compte_cree", invited, detail={"role": invited.role, "invitation": True})
            throttling.spend("invitation_collegue", email, client=False)
    except InvalidInput as invalid:
        page = _account_page(
            invite_errors=invalid.errors, invite_message=invalid.message, invite_form=request.form
        )
        return page, 422
    except Throttled as refused:
        page = _account_page(invite_message=refused.message, invite_form=request.form)
        return throttling.answer(refused, page)
    flash(
        f"Invitation envoyée à {invited.email} : le lien reçu lui permet de choisir son mot de "
        "passe et de partager les dossiers de l'organisation.",
        "success",
    )
    return redirect(url_for("auth.account"))
