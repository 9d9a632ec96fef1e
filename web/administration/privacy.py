"""The administrator's pages on agents' sign-in and personal data: « ProConnect obligatoire
pour les agents »; the purge's dry-run report (what each campaign's retention will remove,
and when); a person's data exported (JSON and pieces in a ZIP); an account closed. Each
action is written to the security journal by the workflow."""

from __future__ import annotations

import io
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from web.shared import proconnect
from web.shared.access import admin_required
from web.shared.db import db_session
from web.shared.parsing import parse_date
from web.shared.security import client_address
from workflow.models import User
from workflow.people.accounts import normalise_email
from workflow.people.agent_sign_in import proconnect_required, set_proconnect_required
from workflow.plumbing import clock, identifiers
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, TransitionRefused
from workflow.plumbing.storage_url import open_storage
from workflow.privacy import purge
from workflow.privacy.access_export import check_person, export_person
from workflow.privacy.closure import close_account, is_closed

bp = Blueprint("admin_privacy", __name__, template_folder="templates", url_prefix="/admin")

Page = str | Response | tuple[str, int]
EXPORT_LABELS = {
    "user_id": "Compte",
    "rpps": "N° RPPS du candidat",
    "nom": "Nom et prénom du candidat",
    "naissance": "Date de naissance du candidat",
}


@bp.get("/connexion-agents")
@admin_required
def agents_sign_in() -> str:
    return render_template(
        "admin/agents_sign_in.html",
        configured=proconnect.enabled(),
        required=proconnect_required(db_session()),
    )


@bp.post("/connexion-agents")
@admin_required
def agents_sign_in_set() -> Response:
    s = db_session()
    required = request.form.get("obligatoire") == "1"
    if required and not proconnect.enabled():
        flash(
            "ProConnect n'est pas configuré sur ce service : il ne peut pas être rendu "
            "obligatoire.",
            "error",
        )
        return redirect(url_for(".agents_sign_in"))
    try:
        with transaction(s):
            changed = set_proconnect_required(
                s, required, current_user.actor, client_address=client_address(), now=clock.now()
            )
    except TransitionRefused as refused:
        flash(refused.message, "error")
    else:
        if changed and required:
            flash(
                "ProConnect est obligatoire pour les agents : leur mot de passe ne suffit plus.",
                "success",
            )
        elif changed:
            flash("Les agents peuvent de nouveau se connecter avec leur mot de passe.", "success")
    return redirect(url_for(".agents_sign_in"))


def _privacy_page(status: int = 200, **extra: Any) -> tuple[str, int]:
    s = db_session()
    accounts = s.scalars(select(User).order_by(User.role, User.email)).all()
    context: dict[str, Any] = {
        "report": purge.report(s),
        "today": clock.now(),
        "accounts": [u for u in accounts if not is_closed(u)],
        "errors": {},
        "posted": {},
        "labels": EXPORT_LABELS,
    }
    context.update(extra)
    return render_template("admin/privacy.html", **context), status


@bp.get("/donnees-personnelles")
@admin_required
def privacy() -> Page:
    return _privacy_page()


@bp.post("/donnees-personnelles/export")
@admin_required
def privacy_export() -> Page:
    form = request.form
    typed_day = form.get("naissance", "").strip()
    born = parse_date(typed_day) if typed_day else None
    s = db_session()
    try:
        if typed_day and born is None:
            raise InvalidInput(
                "La demande n'a pas été faite : corrigez les champs signalés.",
                {"naissance": "Date illisible : saisissez-la comme 04/11/1990."},
            )
        person = check_person(
            form.get("user_id", ""), form.get("rpps", ""), form.get("nom", ""), born
        )
        storage = open_storage(current_app.config["STORAGE_URL"])
        with transaction(s):
            archive = export_person(
                s,
                storage,
                person,
                current_user.actor,
                client_address=client_address(),
                now=clock.now(),
            )
    except InvalidInput as invalid:
        return _privacy_page(422, errors=invalid.errors, message=invalid.message, posted=form)
    name = f"donnees-personnelles-{clock.now():%Y%m%d-%H%M}.zip"
    return send_file(
        io.BytesIO(archive), mimetype="application/zip", as_attachment=True, download_name=name
    )


@bp.post("/donnees-personnelles/fermeture")
@admin_required
def privacy_close() -> Page:
    s = db_session()
    typed = request.form.get("adresse", "")
    try:
        address = normalise_email(typed)
    except identifiers.IdentifierError as exc:
        return _privacy_page(422, close_error=exc.message, close_posted=typed)
    user = s.scalar(select(User).where(User.email == address))
    if user is None:
        return _privacy_page(422, close_error="Aucun compte n'a cette adresse.", close_posted=typed)
    try:
        with transaction(s):
            ended = close_account(
                s, user, current_user.actor, client_address=client_address(), now=clock.now()
            )
    except TransitionRefused as refused:
        return _privacy_page(422, close_error=refused.message, close_posted=typed)
    flash(
        f"Le compte de {address} est fermé : il ne peut plus se connecter ({ended} session(s) "
        "terminée(s)), son nom et son adresse sont effacés.",
        "success",
    )
    return redirect(url_for(".privacy"))
