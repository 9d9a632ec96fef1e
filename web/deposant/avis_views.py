"""« Avis et signatures » of a dossier, before deposit (IdF ASP « Indiquer l'avis | Consulter
avis »; Normandie's annexes « impérativement » signed): each avis the campaign asks the
déposant to collect, its status, the invitation of its giver, a reminder, and what was given,
read-only. Another organisation's dossier is a 404; each view calls one workflow function."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from web.deposant.dossier_page import DossierPage
from web.deposant.views import _own_dossier
from web.shared import throttling
from web.shared.db import db_session
from web.shared.files import send_pdf
from web.shared.security import deposant_required
from web.shared.throttling import Throttled
from workflow.instruction.avis_collected import (
    SIGNATURE_LABELS,
    answers_read,
    collected_avis,
    invite_giver,
    remind_giver,
)
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, TransitionRefused

bp = Blueprint("deposant_avis", __name__, template_folder="templates")

Page = str | Response | tuple[str, int]


def _page(dossier_id: int, status: int = 200, **extra: object) -> tuple[str, int]:
    s = db_session()
    found = _own_dossier(dossier_id)
    page = DossierPage.build(s, found, current_user.actor)
    context: dict[str, object] = {
        "page": page,
        "rows": collected_avis(s, found, page.now),
        "answers_read": answers_read,
        "signature_labels": SIGNATURE_LABELS,
        "errors": {},
        "posted": {},
        "failed_key": None,
        "message": None,
    }
    context.update(extra)
    return render_template("deposant/avis.html", **context), status


def _back(dossier_id: int, avis_key: str) -> Response:
    return redirect(url_for(".avis_list", dossier_id=dossier_id) + f"#avis-{avis_key}")


@bp.get("/dossiers/<int:dossier_id>/avis")
@deposant_required
def avis_list(dossier_id: int) -> Page:
    return _page(dossier_id)


@bp.post("/dossiers/<int:dossier_id>/avis/<avis_key>/inviter")
@deposant_required
def invite(dossier_id: int, avis_key: str) -> Page:
    """« Inviter » or « Inviter de nouveau »: the giver receives a personal link by mail."""
    s = db_session()
    found = _own_dossier(dossier_id)
    posted = {k: request.form.get(k, "") for k in ("giver_name", "giver_email")}
    try:
        throttling.spend("invitation_avis")
        with transaction(s):
            avis = invite_giver(
                s,
                found,
                avis_key,
                posted["giver_name"],
                posted["giver_email"],
                current_user.actor,
                secret_key=current_app.config["SECRET_KEY"],
                base_url=current_app.config["BASE_URL"],
                now=clock.now(),
            )
            throttling.spend("invitation_avis", avis.giver_email, client=False)
    except Throttled as refused:
        page, _ = _page(dossier_id, posted=posted, failed_key=avis_key, message=refused.message)
        return throttling.answer(refused, page)
    except InvalidInput as invalid:
        errors = invalid.errors or {"giver_email": invalid.message}
        return _page(
            dossier_id,
            422,
            errors=errors,
            posted=posted,
            failed_key=avis_key,
            message=invalid.message,
        )
    except TransitionRefused as refused:
        message = " ".join(refused.reasons)
        return _page(dossier_id, 422, posted=posted, failed_key=avis_key, message=message)
    flash(
        f"L'invitation est envoyée par mail à {avis.giver_email}, avec son lien personnel.",
        "success",
    )
    return _back(found.id, avis_key)


@bp.post("/dossiers/<int:dossier_id>/avis/<avis_key>/relancer")
@deposant_required
def remind(dossier_id: int, avis_key: str) -> Page:
    """« Relancer »: the giver receives their link again."""
    s = db_session()
    found = _own_dossier(dossier_id)
    try:
        throttling.spend("invitation_avis")
        with transaction(s):
            avis = remind_giver(
                s,
                found,
                avis_key,
                current_user.actor,
                secret_key=current_app.config["SECRET_KEY"],
                base_url=current_app.config["BASE_URL"],
                now=clock.now(),
            )
            throttling.spend("invitation_avis", avis.giver_email, client=False)
    except Throttled as refused:
        page, _ = _page(dossier_id, failed_key=avis_key, message=refused.message)
        return throttling.answer(refused, page)
    except (InvalidInput, TransitionRefused) as refused:
        message = (
            " ".join(refused.reasons) if isinstance(refused, TransitionRefused) else refused.message
        )
        return _page(dossier_id, 422, failed_key=avis_key, message=message)
    flash(f"La relance est envoyée par mail à {avis.giver_email}.", "success")
    return _back(found.id, avis_key)


@bp.get("/dossiers/<int:dossier_id>/avis/<avis_key>/fichier")
@deposant_required
def signed_file(dossier_id: int, avis_key: str) -> Response:
    """The annex signed and sent by its giver, to read."""
    found = _own_dossier(dossier_id)
    rows = collected_avis(db_session(), found, clock.now())
    row = next((r for r in rows if r.definition.key == avis_key), None)
    if row is None or row.avis is None or row.avis.given_at is None or not row.avis.storage_name:
        abort(404)
    return send_pdf(row.avis.storage_name, f"{avis_key}-signe.pdf")
