"""The partner's page, reached from the link of its mail and with no account: one dossier's
summary (the « Décision » screen), its decision once published, and, where the campaign asks
for it, the co-signature (« je certifie », name and function). Nothing else of the dossier
is editable, and no piece is served: the link opens this summary and nothing more."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from web.shared import throttling
from web.shared.db import db_session
from web.shared.throttling import Throttled
from workflow.campaigns.store import definition_of
from workflow.instruction.readable import decision_blocks
from workflow.machine.operations import state_for_deposant
from workflow.machine.states import workflow
from workflow.models import Dossier
from workflow.partners.cosigning import cosign
from workflow.partners.links import dossier_for_partner
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, InvalidLink

bp = Blueprint("partenaire", __name__, template_folder="templates", url_prefix="/partenaire")

Page = str | Response | tuple[str, int]
LABELS = {
    "signer_name": "Nom et prénom",
    "signer_function": "Fonction",
    "certify": "Je certifie",
}


def _dossier(token: str) -> Dossier | InvalidLink:
    try:
        return dossier_for_partner(db_session(), token, current_app.config["SECRET_KEY"])
    except InvalidLink as invalid:
        return invalid


def _invalid(invalid: InvalidLink) -> tuple[str, int]:
    return render_template("partenaire/invalid.html", message=invalid.message), 404


def _page(dossier: Dossier, token: str, status: int = 200, **extra: object) -> tuple[str, int]:
    definition = definition_of(db_session(), dossier.campaign_version_id)
    shown = state_for_deposant(dossier)
    decision = dossier.decision if shown == dossier.state else None
    context: dict[str, object] = {
        "dossier": dossier,
        "campaign": dossier.campaign,
        "organisation": dossier.organisation,
        "blocks": decision_blocks(definition, dossier.values or {}),
        "state_label": workflow().state_labels[shown],
        "decision": decision,
        "cosignature_terms": definition.cosignature,
        "cosignature": dossier.cosignature,
        "token": token,
        "labels": LABELS,
        "errors": {},
        "message": None,
        "posted": {},
    }
    context.update(extra)
    return render_template("partenaire/page.html", **context), status


@bp.route("/<token>", methods=["GET", "POST"])
def page(token: str) -> Page:
    found = _dossier(token)
    if isinstance(found, InvalidLink):
        return _invalid(found)
    if request.method != "POST":  # GET, and HEAD: never the POST branch without CSRF
        return _page(found, token)
    posted = {k: request.form.get(k, "") for k in ("signer_name", "signer_function", "certify")}
    try:
        throttling.spend("cosignature", token)
    except Throttled as refused:
        page, _ = _page(found, token, message=refused.message, posted=posted)
        return throttling.answer(refused, page)
    s = db_session()
    try:
        with transaction(s):
            cosign(
                s,
                found,
                posted["signer_name"],
                posted["signer_function"],
                certified=posted["certify"] == "oui",
                now=clock.now(),
            )
    except InvalidInput as invalid:
        again = _dossier(token)
        if isinstance(again, InvalidLink):
            return _invalid(again)
        return _page(
            again, token, 422, errors=invalid.errors, message=invalid.message, posted=posted
        )
    flash("Merci : votre co-signature est enregistrée et transmise à l'ARS.", "success")
    return redirect(url_for(".page", token=token))
