"""The avis giver's page, reached from the personal link of the mail and with no account: the
dossier of that link read-only, its pieces, and the form favorable / défavorable, comment and
an optional signed PDF. The link opens this one dossier and nothing else.

An avis the déposant asked before deposit has the campaign's annex instead: its blanks, then
the signature (the signed annex as a PDF, or « je certifie » with name and function), and
once given it is read-only."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from web.shared import throttling
from web.shared.db import db_session
from web.shared.files import send_piece, storage
from web.shared.throttling import Throttled
from workflow.campaigns.avis_defs import AvisDef
from workflow.campaigns.store import definition_of
from workflow.instruction.avis import VERDICTS, answer_avis, avis_from_token
from workflow.instruction.avis_collected import (
    SIGNATURE_LABELS,
    Signature,
    answer_collected,
    answer_fields,
    answers_read,
)
from workflow.instruction.readable import shown_volets
from workflow.models import Avis, Dossier
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput, InvalidLink
from workflow.plumbing.storage import MAX_PDF_LABEL

bp = Blueprint("avis", __name__, template_folder="templates", url_prefix="/avis")

Page = str | Response | tuple[str, int]
LABELS = {"verdict": "Votre avis", "comment": "Commentaire", "fichier": "Avis signé (PDF)"}


def _avis(token: str) -> tuple[Avis, Dossier] | InvalidLink:
    s = db_session()
    try:
        avis = avis_from_token(s, token, current_app.config["SECRET_KEY"])
    except InvalidLink as invalid:
        return invalid
    dossier = s.get(Dossier, avis.dossier_id)
    assert dossier is not None
    return avis, dossier


def _invalid(invalid: InvalidLink) -> tuple[str, int]:
    return render_template("avis/invalid.html", message=invalid.message), 404


def _page(avis: Avis, dossier: Dossier, token: str, status: int = 200, **extra: object) -> Page:
    s = db_session()
    definition = definition_of(s, dossier.campaign_version_id)
    kind = next((a for a in definition.avis if a.key == avis.avis_key), None)
    attachments = {a.piece_key: a for a in dossier.attachments}
    context: dict[str, object] = {
        "avis": avis,
        "kind": kind,
        "dossier": dossier,
        "campaign": dossier.campaign,
        "organisation": dossier.organisation,
        "volets": shown_volets(definition, dossier.values or {}),
        "pieces": [(p, attachments.get(p.key)) for p in definition.pieces],
        "token": token,
        "verdicts": VERDICTS,
        "labels": LABELS,
        "errors": {},
        "message": None,
        "posted": {},
        "max_size": MAX_PDF_LABEL,
    }
    if avis.invited_by == "deposant" and kind is not None:
        context |= {
            "inputs": answer_fields(kind),
            "answers_read": answers_read,
            "signature_labels": SIGNATURE_LABELS,
            "labels": _annex_labels(kind),
        }
        context.update(extra)
        return render_template("avis/annex.html", **context), status
    context.update(extra)
    return render_template("avis/page.html", **context), status


def _annex_labels(kind: AvisDef) -> dict[str, str]:
    """The label of each input of the annex's form, for the error summary."""
    labels = {
        "signature_mode": "Signature",
        "fichier": "Annexe signée (PDF)",
        "certifie": "Je certifie",
        "certified_name": "Nom et prénom",
        "certified_function": "Fonction",
    }
    for annex_field, names in answer_fields(kind):
        for index, name in enumerate(names):
            suffix = ("", " (du)", " (au)")[index + 1 if len(names) > 1 else 0]
            labels[name] = annex_field.label + suffix
    return labels


def _annex_answer(avis: Avis, signed: tuple[str, bytes] | None) -> None:
    """Records the answer to an annex from the posted form (raises as `answer_collected`)."""
    s = db_session()
    form = request.form
    signature = Signature(
        mode=form.get("signature_mode", ""),
        certified=form.get("certifie") == "oui",
        name=form.get("certified_name", ""),
        function=form.get("certified_function", ""),
        pdf=signed,
    )
    answers = {k: v for k, v in form.items() if k != "csrf_token"}
    with transaction(s):
        answer_collected(s, avis, answers, signature, storage(), clock.now())


@bp.route("/<token>", methods=["GET", "POST"])
def page(token: str) -> Page:
    found = _avis(token)
    if isinstance(found, InvalidLink):
        return _invalid(found)
    avis, dossier = found
    if request.method != "POST":  # GET, and HEAD: never the POST branch without CSRF
        return _page(avis, dossier, token)
    s = db_session()
    collected = avis.invited_by == "deposant"
    upload = request.files.get("fichier")
    signed = (upload.filename, upload.read()) if upload and upload.filename else None
    posted = {k: request.form.get(k, "") for k in ("verdict", "comment")}
    if collected:
        posted = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        throttling.spend("avis", token)
    except Throttled as refused:
        page, _ = _page(avis, dossier, token, message=refused.message, posted=posted)
        return throttling.answer(refused, page)
    try:
        if collected:
            _annex_answer(avis, signed)
        else:
            with transaction(s):
                answer_avis(
                    s, avis, posted["verdict"], posted["comment"], signed, storage(), clock.now()
                )
    except InvalidLink as withdrawn:
        return _invalid(withdrawn)
    except InvalidInput as invalid:
        found = _avis(token)
        if isinstance(found, InvalidLink):
            return _invalid(found)
        avis, dossier = found
        return _page(
            avis, dossier, token, 422, errors=invalid.errors, message=invalid.message, posted=posted
        )
    if collected:
        flash("Merci : votre réponse est enregistrée et transmise au déposant.", "success")
        return redirect(url_for(".page", token=token))
    flash("Merci : votre avis est enregistré et transmis à l'ARS.", "success")
    return redirect(url_for(".page", token=token))


@bp.get("/<token>/pieces/<piece_key>")
def piece(token: str, piece_key: str) -> Response:
    """A piece of the link's dossier, to read before giving the avis."""
    found = _avis(token)
    if isinstance(found, InvalidLink):
        abort(404)
    _, dossier = found
    return send_piece(dossier, piece_key)
