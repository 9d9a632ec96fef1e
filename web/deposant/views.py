"""The déposant's pages, screen by screen as in the manuals: the campaign, « Candidature »
(one tab per volet), « Joindre fichier / Supprimer fichier », « Dossier complet / Confirmer »,
« Décision », and « Récap. candidatures ». Each view checks access (another organisation's
dossier is a 404), reads the form and calls one workflow function."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from web.deposant import volet_form
from web.deposant.dossier_page import DECISION_INPUTS, DossierPage
from web.shared.db import db_session
from web.shared.files import send_pdf, send_piece, storage
from web.shared.parsing import parse_date, parse_int
from web.shared.security import deposant_required
from workflow.campaigns.missing import missing_by_kind
from workflow.campaigns.prefill import prefilled
from workflow.campaigns.store import current_version, definition_of
from workflow.documents.letters import letter_document
from workflow.machine.editing import (
    attach_piece,
    create_dossier,
    delete_dossier,
    dossiers_of,
    first_volet_refusal,
    load_to_save,
    move_in_priority,
    other_volets_open,
    remove_piece,
    save_confirmation,
    save_volet,
    volet_report,
)
from workflow.machine.guards import campaign_open_reason
from workflow.machine.operations import fire, load_dossier, state_for_deposant
from workflow.machine.states import workflow
from workflow.messagerie.messages import Upload, attachment_of, mark_read, post_message, thread
from workflow.models import Campaign, Dossier, Organisation
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import ConflictError, InvalidInput, TransitionRefused, WorkflowError

bp = Blueprint("deposant", __name__, template_folder="templates")

Page = str | Response | tuple[str, int]


def _own_dossier(dossier_id: int, *, to_save: bool = False) -> Dossier:
    """The dossier if it belongs to the user's organisation; a 404 otherwise, so that another
    organisation's dossiers cannot even be told to exist. `to_save`: only what saving a volet
    reads."""
    s = db_session()
    dossier = load_to_save(s, dossier_id) if to_save else load_dossier(s, dossier_id)
    if dossier is None or dossier.organisation_id != current_user.account.organisation_id:
        abort(404)
    return dossier


def _organisation() -> Organisation:
    """The signed-in déposant's organisation (its name, its type): read where a page shows it,
    not with the session on every request."""
    return db_session().get(Organisation, current_user.account.organisation_id) or abort(404)


def _campaign(slug: str) -> Campaign:
    return db_session().scalar(select(Campaign).where(Campaign.slug == slug)) or abort(404)


def _version() -> int | None:
    return parse_int(request.form.get("version"))


def _dossier_url(dossier: Dossier, tab: str) -> str:
    return url_for(f".{tab}", dossier_id=dossier.id)


# --- campaigns -------------------------------------------------------------------------------


@bp.get("/mes-dossiers")
@deposant_required
def home() -> str:
    s = db_session()
    organisation = _organisation()
    counts = dict(
        s.execute(
            select(Dossier.campaign_id, func.count())
            .where(Dossier.organisation_id == organisation.id)
            .group_by(Dossier.campaign_id)
        ).all()
    )
    now = clock.now()
    rows = []
    for campaign in s.scalars(select(Campaign).order_by(Campaign.deadline_at.desc())):
        definition = definition_of(s, current_version(s, campaign).id)
        is_open = campaign_open_reason(campaign, now) is None
        if definition.depositor == organisation.type and (is_open or campaign.id in counts):
            rows.append((campaign, is_open, counts.get(campaign.id, 0)))
    return render_template("deposant/home.html", rows=rows, organisation=organisation, now=now)


@bp.get("/campagnes/<slug>")
def campaign_page(slug: str) -> str:
    s = db_session()
    campaign = _campaign(slug)
    definition = definition_of(s, current_version(s, campaign).id)
    now = clock.now()
    dossiers, refusal = [], None
    signed_in = current_user.is_authenticated and current_user.is_deposant
    if signed_in:
        organisation = _organisation()
        dossiers = dossiers_of(s, campaign, organisation.id)
        if organisation.type != definition.depositor:
            refusal = f"Cette campagne est réservée au {definition.depositor_label}."
    refusal = refusal or campaign_open_reason(campaign, now)
    return render_template(
        "deposant/campaign.html",
        campaign=campaign,
        definition=definition,
        dossiers=[_row(s, d) for d in dossiers],
        refusal=refusal,
        signed_in=signed_in,
        now=now,
    )


def _row(s, dossier: Dossier) -> dict[str, object]:  # type: ignore[no-untyped-def]
    report = volet_report(definition_of(s, dossier.campaign_version_id), dossier)
    return {
        "dossier": dossier,
        "state": state_for_deposant(dossier),
        "report": report,
        "missing": missing_by_kind(report, dossier.values or {}),
    }


@bp.post("/campagnes/<slug>/dossiers")
@deposant_required
def new_dossier(slug: str) -> Response:
    s = db_session()
    campaign = _campaign(slug)
    try:
        with transaction(s):
            dossier = create_dossier(s, campaign, current_user.actor, clock.now())
    except TransitionRefused as refused:
        flash(refused.message, "error")
        return redirect(url_for(".campaign_page", slug=slug))
    definition = definition_of(s, dossier.campaign_version_id)
    flash("Nouveau dossier créé : commencez par le volet « Identification ».", "success")
    first = definition.volets[0].key
    return redirect(url_for(".volet", dossier_id=dossier.id, volet_key=first))


@bp.get("/campagnes/<slug>/modeles/<piece_key>")
def model_document(slug: str, piece_key: str) -> Response:
    """A model document to download, fill in and attach, or a reference document of the
    campaign (shipped under campaigns/models/)."""
    s = db_session()
    definition = definition_of(s, current_version(s, _campaign(slug)).id)
    models = {p.key: p.model for p in definition.pieces if p.model}
    models |= {d.key: d.model for d in definition.reference_documents if d.model}
    model = models.get(piece_key)
    if model is None:
        abort(404)
    base = Path(current_app.config["CAMPAIGNS_DIR"]).resolve()
    path = (base / model).resolve()
    if base not in path.parents or not path.is_file():
        abort(404)
    return send_file(path, as_attachment=True, download_name=path.name)


@bp.get("/campagnes/<slug>/recapitulatif")
@deposant_required
def recap(slug: str) -> str:
    s = db_session()
    campaign = _campaign(slug)
    dossiers = dossiers_of(s, campaign, current_user.account.organisation_id)
    return render_template(
        "deposant/recap.html",
        campaign=campaign,
        organisation=_organisation(),
        definition=definition_of(s, current_version(s, campaign).id),
        rows=[_row(s, d) for d in dossiers],
        closed=campaign_open_reason(campaign, clock.now()),
        now=clock.now(),
    )


@bp.post("/campagnes/<slug>/recapitulatif/<int:dossier_id>")
@deposant_required
def move(slug: str, dossier_id: int) -> Response:
    s = db_session()
    dossier = _own_dossier(dossier_id)
    if dossier.campaign.slug != slug:
        abort(404)
    offset = -1 if request.form.get("direction") == "haut" else 1
    try:
        with transaction(s):
            move_in_priority(s, dossier, current_user.actor, offset, clock.now())
    except (TransitionRefused, ConflictError) as refused:
        flash(refused.message, "error")
    return redirect(url_for(".recap", slug=slug) + f"#dossier-{dossier.id}")


# --- one dossier -----------------------------------------------------------------------------


@bp.get("/dossiers/<int:dossier_id>")
@deposant_required
def dossier(dossier_id: int) -> Response:
    """« Afficher »: the first volet while the dossier can be edited, else its decision."""
    found = _own_dossier(dossier_id)
    page = DossierPage.build(db_session(), found, current_user.actor)
    if page.editable:
        return redirect(url_for(".volet", dossier_id=found.id, volet_key=page.first.key))
    return redirect(_dossier_url(found, "decision"))


@bp.route("/dossiers/<int:dossier_id>/volets/<volet_key>", methods=["GET", "POST"])
@deposant_required
def volet(dossier_id: int, volet_key: str) -> Page:
    s = db_session()
    found = _own_dossier(dossier_id, to_save=request.method == "POST")
    definition = definition_of(s, found.campaign_version_id)
    try:
        current = definition.volet(volet_key)
    except KeyError:
        abort(404)
    first = definition.volets[0]
    if current.key != first.key and not other_volets_open(definition, found):
        flash(first_volet_refusal(definition), "warning")
        return redirect(url_for(".volet", dossier_id=found.id, volet_key=first.key))
    if current.key in (found.values or {}):
        values = found.values[current.key] or {}
    elif request.method == "GET":
        # Never saved: what the account already knows is shown, to be kept or changed.
        values = prefilled(current, found.organisation)
    else:
        values = {}  # a form posted is shown as posted (below), never the prefilled values
    from_account = set(values) if current.key not in (found.values or {}) else set()
    errors: dict[str, str] = {}
    message = notice = None
    status = 200
    if request.method == "POST":
        raw = volet_form.parse(current, request.form)
        notice = volet_form.row_action(current, request.form, raw)
        if notice is None:
            try:
                with transaction(s):
                    cleaning_warnings = save_volet(
                        s,
                        found,
                        current_user.actor,
                        current.key,
                        raw,
                        expected_version=_version(),
                        now=clock.now(),
                    )
            except InvalidInput as invalid:
                errors, message, status = invalid.errors, invalid.message, 422
            except ConflictError as conflict:
                message, status = conflict.message, 409
            except TransitionRefused as refused:
                message, status = " ".join(refused.reasons), 422
            else:
                flash(f"Le volet « {current.title} » est enregistré.", "success")
                saved_warnings = volet_form.warnings(
                    current, (found.values or {})[current.key], cleaning_warnings
                )
                warned = [f.label for f in current.fields if f.key in saved_warnings]
                if warned:
                    names = ", ".join(f"« {label} »" for label in warned)
                    flash(f"Vérifiez {names} : voir l'avertissement sous le champ.", "warning")
                return redirect(url_for(".volet", dossier_id=found.id, volet_key=current.key))
        values = raw
        # The page again (a refusal, a row added): the whole dossier, as its GET reads it. One
        # deleted meanwhile is not found: the expired copy then raises ObjectDeletedError when
        # read, whose handler answers the French page of a deleted dossier, as before.
        found = load_dossier(s, found.id, whole=True) or found
    page = DossierPage.build(s, found, current_user.actor)
    fields = volet_form.field_views(definition, current, values, found.values or {}, errors)
    for view in fields:
        view.prefilled = request.method == "GET" and view.field.key in from_account
    html = render_template(
        "deposant/volet.html",
        page=page,
        volet=current,
        fields=fields,
        errors=errors,
        labels={f.key: f.label for f in current.fields},
        message=message,
        notice=notice,
        pieces=[p for p in definition.pieces if p.volet == current.key],
        piece_errors={},
    )
    return html, status


@bp.get("/dossiers/<int:dossier_id>/pieces")
@deposant_required
def pieces(dossier_id: int) -> str:
    found = _own_dossier(dossier_id)
    page = DossierPage.build(db_session(), found, current_user.actor)
    return render_template("deposant/pieces.html", page=page, piece_errors={})


@bp.post("/dossiers/<int:dossier_id>/pieces/<piece_key>")
@deposant_required
def upload(dossier_id: int, piece_key: str) -> Page:
    s = db_session()
    found = _own_dossier(dossier_id)
    upload = request.files.get("fichier")
    back = request.form.get("retour", "")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput("Choisissez un fichier PDF à joindre.")
        with transaction(s):
            attached = attach_piece(
                s,
                found,
                current_user.actor,
                piece_key,
                upload.filename,
                upload.read(),
                storage(),
                expected_version=_version(),
                now=clock.now(),
            )
    except (InvalidInput, TransitionRefused, ConflictError) as refused:
        text = refused.message
        if isinstance(refused, TransitionRefused):
            text = " ".join(refused.reasons)
        return _piece_page(found, back, {piece_key: text}), 422
    except WorkflowError:
        abort(404)
    flash(f"Le fichier « {attached.filename} » est joint au dossier.", "success")
    return redirect(_back_to(found, back, piece_key))


def _back_to(found: Dossier, back: str, piece_key: str) -> str:
    definition = definition_of(db_session(), found.campaign_version_id)
    if back in {v.key for v in definition.volets}:
        url = url_for(".volet", dossier_id=found.id, volet_key=back)
    else:
        url = _dossier_url(found, "pieces")
    return f"{url}#piece-{piece_key}"


def _piece_page(found: Dossier, back: str, piece_errors: dict[str, str]) -> str:
    s = db_session()
    page = DossierPage.build(s, found, current_user.actor)
    definition = page.definition
    if back in {v.key for v in definition.volets}:
        current = definition.volet(back)
        values = (found.values or {}).get(current.key) or {}
        return render_template(
            "deposant/volet.html",
            page=page,
            volet=current,
            fields=volet_form.field_views(definition, current, values, found.values or {}, {}),
            errors={},
            labels={},
            message=None,
            notice=None,
            pieces=[p for p in definition.pieces if p.volet == current.key],
            piece_errors=piece_errors,
        )
    return render_template("deposant/pieces.html", page=page, piece_errors=piece_errors)


@bp.get("/dossiers/<int:dossier_id>/pieces/<piece_key>/fichier")
@deposant_required
def download(dossier_id: int, piece_key: str) -> Response:
    return send_piece(_own_dossier(dossier_id), piece_key)


@bp.post("/dossiers/<int:dossier_id>/pieces/<piece_key>/supprimer")
@deposant_required
def remove(dossier_id: int, piece_key: str) -> Page:
    s = db_session()
    found = _own_dossier(dossier_id)
    back = request.form.get("retour", "")
    try:
        with transaction(s):
            remove_piece(
                s,
                found,
                current_user.actor,
                piece_key,
                storage(),
                expected_version=_version(),
                now=clock.now(),
            )
    except TransitionRefused as refused:
        return _piece_page(found, back, {piece_key: " ".join(refused.reasons)}), 422
    except ConflictError as conflict:
        return _piece_page(found, back, {piece_key: conflict.message}), 409
    except WorkflowError:
        abort(404)
    flash("Le fichier est supprimé du dossier.", "success")
    return redirect(_back_to(found, back, piece_key))


@bp.route("/dossiers/<int:dossier_id>/confirmer", methods=["GET", "POST"])
@deposant_required
def confirm(dossier_id: int) -> Page:
    """« Dossier complet / Confirmer »: what is missing, the boxes to tick, and the deposit."""
    s = db_session()
    found = _own_dossier(dossier_id)
    reasons: list[str] = []
    message = None
    status = 200
    if request.method == "POST":
        actor = current_user.actor
        try:
            with transaction(s):
                save_confirmation(
                    s,
                    found,
                    actor,
                    request.form.getlist("attestations"),
                    request.form.get("consent") == "oui",
                    clock.now(),
                )
        except (InvalidInput, ConflictError) as invalid:
            message, status = invalid.message, 422
        except TransitionRefused as refused:
            reasons, status = refused.reasons, 422
        else:
            if request.form.get("action") != "deposer":
                flash("Vos réponses de l'onglet « Confirmer » sont enregistrées.", "success")
                return redirect(_dossier_url(found, "confirm"))
            # The boxes stay ticked (committed above) even if the deposit is refused.
            try:
                with transaction(s):
                    fire(s, found, "deposer", actor, now=clock.now())
            except TransitionRefused as refused:
                reasons, status = refused.reasons, 422
            except ConflictError as conflict:
                message, status = conflict.message, 409
            else:
                flash(
                    f"Votre dossier n° {found.number} a bien été déposé. Un accusé de "
                    "réception est envoyé par mail (pensez à vérifier vos courriers "
                    "indésirables).",
                    "success",
                )
                return redirect(_dossier_url(found, "confirm"))
    page = DossierPage.build(s, found, current_user.actor)
    html = render_template(
        "deposant/confirm.html", page=page, reasons=reasons, message=message, form=request.form
    )
    return html, status


@bp.get("/dossiers/<int:dossier_id>/decision")
@deposant_required
def decision(dossier_id: int) -> str:
    found = _own_dossier(dossier_id)
    page = DossierPage.build(db_session(), found, current_user.actor)
    return render_template("deposant/decision.html", page=page, reasons=[], refused_event=None)


@bp.get("/dossiers/<int:dossier_id>/decision/lettre.pdf")
@deposant_required
def decision_letter(dossier_id: int) -> Response:
    """The decision letter, once the decision is published (before, a 404: the déposant
    still sees « en instruction »); archived the first time it is sent or downloaded."""
    s = db_session()
    found = _own_dossier(dossier_id)
    if found.decision is None or found.decision.published_at is None:
        abort(404)
    if found.purged_at is not None:
        abort(404)  # the RGPD purge deleted the letter's file with the dossier's data
    with transaction(s):
        document = letter_document(s, storage(), found, current_user.actor, clock.now())
    return send_pdf(document.storage_name, document.filename)


@bp.post("/dossiers/<int:dossier_id>/actions/<event>")
@deposant_required
def act(dossier_id: int, event: str) -> Page:
    """The déposant's transitions after the decision (maintien, prise de poste, renoncer)."""
    s = db_session()
    found = _own_dossier(dossier_id)
    spec = workflow().events.get(event)
    if spec is None or event == "deposer" or "deposant" not in spec.who:
        abort(404)
    payload: dict[str, object] = {}
    for name in (DECISION_INPUTS[g] for g in spec.guards if g in DECISION_INPUTS):
        value = request.form.get(name, "")
        payload[name] = parse_date(value) if name == "start_date" else value
    try:
        if state_for_deposant(found) != found.state:
            # A decision not yet published is not the déposant's to act on, nor to learn of.
            shown = workflow().state_labels[state_for_deposant(found)]
            raise TransitionRefused(spec.label, [f"Le dossier est « {shown} »."])
        with transaction(s):
            fire(
                s,
                found,
                event,
                current_user.actor,
                payload,
                expected_version=_version(),
                now=clock.now(),
            )
    except TransitionRefused as refused:
        page = DossierPage.build(s, found, current_user.actor)
        html = render_template(
            "deposant/decision.html", page=page, reasons=refused.reasons, refused_event=spec
        )
        return html, 422
    except ConflictError as conflict:
        flash(conflict.message, "error")
        return redirect(_dossier_url(found, "decision"))
    flash(f"« {spec.label} » : c'est enregistré, et l'ARS en est informée par mail.", "success")
    return redirect(_dossier_url(found, "decision"))


# --- messagerie -------------------------------------------------------------------------------


@bp.route("/dossiers/<int:dossier_id>/messagerie", methods=["GET", "POST"])
@deposant_required
def messagerie(dossier_id: int) -> Page:
    """« Messagerie »: the thread with the ARS (correction requests included), read on
    opening, and the form that answers, with a PDF if need be."""
    s = db_session()
    found = _own_dossier(dossier_id)
    if found.number is None:
        abort(404)  # a brouillon has no exchange with the ARS yet
    errors: dict[str, str] = {}
    message, status = None, 200
    if request.method == "POST":
        upload = request.files.get("piece_jointe")
        given = Upload(upload.filename, upload.read()) if upload and upload.filename else None
        try:
            with transaction(s):
                post_message(
                    s,
                    found,
                    current_user.actor,
                    request.form.get("body", ""),
                    upload=given,
                    storage=storage(),
                    now=clock.now(),
                )
        except InvalidInput as invalid:
            errors, message, status = invalid.errors, invalid.message, 422
        except TransitionRefused as refused:
            message, status = " ".join(refused.reasons), 422
        else:
            flash("Votre message est envoyé à l'ARS, qui en est informée par mail.", "success")
            return redirect(url_for(".messagerie", dossier_id=found.id) + "#messages")
    messages = thread(s, found.id)
    with transaction(s):
        mark_read(s, found.id, current_user.actor, clock.now())
    page = DossierPage.build(s, found, current_user.actor)
    html = render_template(
        "deposant/messagerie.html",
        page=page,
        messages=messages,
        errors=errors,
        message=message,
        posted=request.form.get("body", "") if status != 200 else "",
    )
    return html, status


@bp.get("/dossiers/<int:dossier_id>/messagerie/<int:message_id>/fichier")
@deposant_required
def message_file(dossier_id: int, message_id: int) -> Response:
    found = _own_dossier(dossier_id)
    attached = attachment_of(db_session(), found.id, message_id)
    if attached is None or attached.attachment_storage_name is None:
        abort(404)
    return send_pdf(attached.attachment_storage_name, attached.attachment_filename or "piece.pdf")


@bp.route("/dossiers/<int:dossier_id>/supprimer", methods=["GET", "POST"])
@deposant_required
def delete(dossier_id: int) -> Page:
    s = db_session()
    found = _own_dossier(dossier_id)
    slug = found.campaign.slug
    reasons: list[str] = []
    if request.method == "POST":
        try:
            with transaction(s):
                delete_dossier(s, found, current_user.actor, clock.now(), storage=storage())
        except TransitionRefused as refused:
            reasons = refused.reasons
        else:
            flash("Le dossier est supprimé, avec ses pièces justificatives.", "success")
            return redirect(url_for(".campaign_page", slug=slug))
    page = DossierPage.build(s, found, current_user.actor)
    html = render_template("deposant/delete.html", page=page, reasons=reasons)
    return html, (422 if reasons else 200)
