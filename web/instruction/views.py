"""The instructor's pages: the campaigns followed, a campaign's dashboard (counts, table,
bulk « Passer en instruction », « Publier les résultats », exports, undelivered mails), and a
dossier's page (volets read-only, pieces, avis, the actions the machine offers, the
timeline). Each view checks access, reads the form and calls one workflow function."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from web.shared.access import followed_campaign, followed_dossier, staff_required
from web.shared.db import db_session
from web.shared.files import send_pdf, send_stored, storage
from web.shared.formatting import campaign_status
from web.shared.parsing import parse_date, parse_int
from web.shared.security import safe_next
from workflow.administration.instructors import followers, may_instruct, visible_campaigns
from workflow.campaigns.missing import missing_by_kind
from workflow.campaigns.store import definition_of
from workflow.documents.letters import letter_document
from workflow.instruction import dashboard
from workflow.instruction.archives import (
    campaign_entries,
    dossier_entries,
    dossier_label,
    write_zip,
)
from workflow.instruction.avis import VERDICTS, delete_avis, invite_avis
from workflow.instruction.avis_collected import answers_read
from workflow.instruction.deposited import deposited_states
from workflow.instruction.export_jobs import KINDS as EXPORT_KINDS
from workflow.instruction.export_jobs import STATUS_LABELS as EXPORT_STATUS_LABELS
from workflow.instruction.export_jobs import (
    TooManyExports,
    campaign_jobs,
    export_storage,
    request_export,
)
from workflow.instruction.export_jobs import file_name as export_file_name
from workflow.instruction.exports import count_rows, export_csv, export_xlsx
from workflow.instruction.readable import shown_volets
from workflow.instruction.same_candidate import other_dossiers_of_candidate
from workflow.instruction.statistics import (
    days,
    funded_label,
    percent,
    statistics,
    statistics_csv,
)
from workflow.instruction.timeline import dossier_timeline
from workflow.machine.batch import Selected, fire_each
from workflow.machine.editing import volet_report
from workflow.machine.operations import allowed_events, fire, refusal_reasons
from workflow.machine.publication import publish_results
from workflow.machine.spec import EventSpec
from workflow.machine.states import workflow
from workflow.mail.sender import failed_mails
from workflow.mail.templates import render
from workflow.messagerie.messages import Upload, attachment_of, mark_read, post_message, thread
from workflow.models import Avis, Campaign, Dossier, ExportJob
from workflow.plumbing import clock
from workflow.plumbing.dates import paris_date
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import ConflictError, InvalidInput, TransitionRefused, WorkflowError

bp = Blueprint("instruction", __name__, template_folder="templates", url_prefix="/instruction")

Page = str | Response | tuple[str, int]

# The inputs a guard asks for: an event whose guards need them gets these fields.
GUARD_INPUTS = {
    "message_required": "message",
    "due_date_in_future": "due_date",
    "motivation_required": "motivation",
    "reason_required": "reason",
}
INPUT_LABELS = {
    "message": "Message au déposant : les corrections attendues",
    "due_date": "Le déposant peut corriger jusqu'au (inclus, heure de Paris)",
    "motivation": "Motivation de la décision",
    "reason": "Motif",
}
BULK_EVENT = "passer_en_instruction"
DECISION_KINDS = {
    "accepte": "Accepté",
    "refuse": "Refusé",
    "sans_suite": "Classé sans suite",
    "liste_complementaire": "Liste complémentaire",
}
SORT_LABELS = {
    "numero": "N°",
    "organisation": "Organisation",
    "partenaire": "Partenaire",
    "specialite": "Spécialité",
    "candidat": "Candidat",
    "etat": "État",
    "priorite": "Priorité",
    "modifie": "Dernière modification",
}


def _version() -> int | None:
    return parse_int(request.form.get("version"))


# --- campaigns ------------------------------------------------------------------------------


@bp.get("/")
@staff_required
def home() -> str:
    s = db_session()
    campaigns = visible_campaigns(s, current_user.account)
    counts = dashboard.counts_by_campaign(s, [c.id for c in campaigns])
    now = clock.now()
    return render_template(
        "instruction/home.html",
        rows=[(c, counts[c.id], campaign_status(c, now)) for c in campaigns],
    )


def _filters() -> dashboard.Filters:
    args = request.args
    state = args.get("etat") or None
    return dashboard.Filters(
        state=state if state in deposited_states() else None,
        speciality=args.get("specialite") or None,
        search=args.get("q") or None,
        sort=args.get("tri") if args.get("tri") in dashboard.SORTS else "numero",
        descending=args.get("ordre") == "desc",
        after=parse_int(args.get("apres"), minimum=1),
        before=parse_int(args.get("avant"), minimum=1),
        last=args.get("fin") == "1",
        marker=args.get("suivi") if args.get("suivi") in dashboard.MARKERS else None,
    )


@bp.get("/campagnes/<slug>")
@staff_required
def campaign(slug: str) -> str:
    s = db_session()
    found = followed_campaign(slug)
    filters = _filters()
    counted = dashboard.overview(s, found.id)
    page = dashboard.dossier_page(s, found.id, filters, counted)
    reports = dashboard.completeness_of(s, [d for d, _ in page.rows])
    bulk = workflow().events[BULK_EVENT]
    role = current_user.account.role
    failed = failed_mails(s, found.id, limit=50)
    base_url = current_app.config["BASE_URL"]
    return render_template(
        "instruction/campaign.html",
        campaign=found,
        counts=counted.by_state(),
        states=deposited_states(),
        specialities=counted.specialities(),
        filters=filters,
        page=page,
        reports=reports,
        missing={d.id: missing_by_kind(reports[d.id], d.values or {}) for d, _ in page.rows},
        bulk=bulk if role in bulk.who else None,
        sorts=SORT_LABELS,
        markers=dashboard.MARKERS,
        unpublished=dashboard.unpublished_decisions(s, found.id),
        failed=[(mail, render(s, mail, base_url).subject) for mail in failed],
        status=campaign_status(found, clock.now()),
        followers=followers(s, found.id),
        query=_query_args(filters),
    )


# --- statistics -----------------------------------------------------------------------------


@bp.get("/statistiques")
@staff_required
def all_statistics() -> str:
    """The figures of every campaign the reader may see (an instructeur: those it follows)."""
    campaigns = visible_campaigns(db_session(), current_user.account)
    return _statistics_page(campaigns, None)


@bp.get("/statistiques.csv")
@staff_required
def all_statistics_csv() -> Response:
    campaigns = visible_campaigns(db_session(), current_user.account)
    data = statistics_csv(statistics(db_session(), campaigns))
    return _download(data, "text/csv; charset=utf-8", "statistiques-campagnes.csv")


@bp.get("/campagnes/<slug>/statistiques")
@staff_required
def campaign_statistics(slug: str) -> str:
    return _statistics_page([followed_campaign(slug)], followed_campaign(slug))


@bp.get("/campagnes/<slug>/statistiques.csv")
@staff_required
def campaign_statistics_csv(slug: str) -> Response:
    found = followed_campaign(slug)
    data = statistics_csv(statistics(db_session(), [found]))
    return _download(data, "text/csv; charset=utf-8", f"{found.slug}-statistiques.csv")


def _statistics_page(campaigns: list[Campaign], campaign: Campaign | None) -> str:
    stats = statistics(db_session(), campaigns)
    return render_template(
        "instruction/statistics.html",
        stats=stats,
        campaign=campaign,
        percent=percent,
        days=days,
        funded_label=funded_label,
    )


def _query_args(filters: dashboard.Filters) -> dict[str, Any]:
    """The current filters and sort as query arguments, for the sort and page links (which
    add where the page starts)."""
    args: dict[str, Any] = {}
    if filters.state:
        args["etat"] = filters.state
    if filters.speciality:
        args["specialite"] = filters.speciality
    if filters.search:
        args["q"] = filters.search
    if filters.marker:
        args["suivi"] = filters.marker
    if filters.sort != "numero":
        args["tri"] = filters.sort
    if filters.descending:
        args["ordre"] = "desc"
    return args


@bp.post("/campagnes/<slug>/passer-en-instruction")
@staff_required
def pass_selected(slug: str) -> Response:
    """« Passer en instruction » on the dossiers ticked in the table."""
    s = db_session()
    found = followed_campaign(slug)
    selected = []
    for value in request.form.getlist("dossiers"):
        dossier_id, _, version = value.partition(":")
        number = parse_int(dossier_id)
        if number is not None:
            selected.append(Selected(number, parse_int(version)))
    back = redirect(safe_next(request.form.get("retour")) or url_for(".campaign", slug=slug))
    if not selected:
        flash("Cochez au moins un dossier à passer en instruction.", "warning")
        return back
    outcome = fire_each(s, found.id, selected, BULK_EVENT, current_user.actor, now=clock.now())
    if outcome.done:
        numbers = ", ".join(f"n° {n}" for n in outcome.done)
        flash(f"Passés en instruction ({len(outcome.done)}) : {numbers}.", "success")
    for number, reason in outcome.refused:
        flash(f"Dossier n° {number} non passé en instruction : {reason}", "error")
    return back


@bp.post("/campagnes/<slug>/publier")
@staff_required
def publish(slug: str) -> Response:
    """« Publier les résultats »: every decision recorded and not yet published, with the
    mails to both partner organisations; a second click publishes nothing twice."""
    s = db_session()
    found = followed_campaign(slug)
    if found.publication != "grouped":
        flash("Cette campagne publie chaque décision dès qu'elle est prise.", "info")
        return redirect(url_for(".campaign", slug=slug))
    try:
        with transaction(s):
            published = publish_results(s, found, current_user.actor, clock.now())
    except (TransitionRefused, ConflictError) as refused:
        flash(refused.message, "error")
        return redirect(url_for(".campaign", slug=slug))
    if published.decisions:
        flash(
            f"Résultats publiés : {published.decisions} décision(s). Les déposants les voient "
            "dans l'onglet « Décision » et les deux organisations partenaires de chaque "
            "dossier reçoivent le mail de décision.",
            "success",
        )
    else:
        flash("Aucune nouvelle décision à publier : rien n'a été envoyé une seconde fois.", "info")
    return redirect(url_for(".campaign", slug=slug))


def _download(data: bytes, mimetype: str, name: str) -> Response:
    response = send_file(BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/campagnes/<slug>/export.csv")
@staff_required
def export_campaign_csv(slug: str) -> Response:
    found = followed_campaign(slug)
    if (queued := _too_large_for_the_request(found)) is not None:
        return queued
    data = export_csv(db_session(), found.id)
    return _download(data, "text/csv; charset=utf-8", f"{found.slug}-dossiers.csv")


@bp.get("/campagnes/<slug>/export.xlsx")
@staff_required
def export_campaign_xlsx(slug: str) -> Response:
    found = followed_campaign(slug)
    if (queued := _too_large_for_the_request(found)) is not None:
        return queued
    data = export_xlsx(db_session(), found.id)
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(data, kind, f"{found.slug}-dossiers.xlsx")


@bp.get("/campagnes/<slug>/pieces.zip")
@staff_required
def campaign_zip(slug: str) -> Response:
    found = followed_campaign(slug)
    if (queued := _too_large_for_the_request(found, "EXPORT_DIRECT_MAX_ZIP")) is not None:
        return queued
    archive = write_zip(campaign_entries(db_session(), found.id), storage())
    return _zip(archive, f"{found.slug}-pieces.zip")


def _too_large_for_the_request(
    found: Campaign, limit: str = "EXPORT_DIRECT_MAX"
) -> Response | None:
    """A campaign past the `limit` of dossiers is exported by the worker, never by a web
    worker: the instructor is sent to the exports page to ask for it."""
    count = count_rows(db_session(), found.id)
    if count <= current_app.config[limit]:
        return None
    flash(
        f"Cette campagne compte {count} dossiers déposés : son export est préparé en "
        "arrière-plan. Demandez-le ci-dessous ; vous recevrez un mail quand il sera prêt.",
        "info",
    )
    return redirect(url_for(".exports_page", slug=found.slug))


@bp.get("/campagnes/<slug>/exports")
@staff_required
def exports_page(slug: str) -> str:
    """The campaign's export jobs with their progress, and the forms that ask for one."""
    found = followed_campaign(slug)
    jobs = campaign_jobs(db_session(), found.id)
    return render_template(
        "instruction/exports.html",
        campaign=found,
        jobs=jobs,
        kinds=EXPORT_KINDS,
        labels=EXPORT_STATUS_LABELS,
        pending=any(job.status in ("queued", "running") for job in jobs),
        file_name=export_file_name,
    )


@bp.post("/campagnes/<slug>/exports")
@staff_required
def request_campaign_export(slug: str) -> Response:
    """« Exporter »: queues a job for the worker; the page shows its progress."""
    found = followed_campaign(slug)
    kind = request.form.get("kind", "")
    if kind not in EXPORT_KINDS:
        flash("Choisissez un export : CSV, XLSX ou ZIP des pièces.", "error")
        return redirect(url_for(".exports_page", slug=slug))
    s = db_session()
    try:
        with transaction(s):
            job = request_export(s, found, kind, current_user.user, clock.now())
            number = job.id
    except TooManyExports as refused:
        flash(refused.message, "error")
        return redirect(url_for(".exports_page", slug=slug))
    flash(
        f"Export n° {number} ({EXPORT_KINDS[kind].label}) demandé : il est préparé en "
        "arrière-plan, vous recevrez un mail avec le lien quand il sera prêt.",
        "success",
    )
    return redirect(url_for(".exports_page", slug=slug))


def _followed_job(job_id: int) -> tuple[ExportJob, Campaign]:
    """The export job if the signed-in user may instruct its campaign; a 404 otherwise."""
    s = db_session()
    job = s.get(ExportJob, job_id)
    found = s.get(Campaign, job.campaign_id) if job else None
    if job is None or found is None or not may_instruct(s, current_user.account, found.id):
        abort(404)
    return job, found


@bp.get("/exports/<int:job_id>/etat")
@staff_required
def export_status(job_id: int) -> Response:
    """The progress of one job, for the page's small script."""
    job, _ = _followed_job(job_id)
    response = jsonify(
        status=job.status,
        label=EXPORT_STATUS_LABELS[job.status],
        done=job.progress_done,
        total=job.progress_total,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/exports/<int:job_id>/fichier")
@staff_required
def export_file(job_id: int) -> Response:
    """The file of a finished export, streamed from storage; 404 once it has expired."""
    job, found = _followed_job(job_id)
    if job.status != "done" or not job.storage_name:
        abort(404)
    return send_stored(
        job.storage_name,
        export_file_name(found, job),
        EXPORT_KINDS[job.kind].mimetype,
        export_storage(storage()),
    )


def _zip(archive: Any, name: str) -> Response:
    response = send_file(
        archive, mimetype="application/zip", as_attachment=True, download_name=name
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.call_on_close(archive.close)
    return response


# --- one dossier ----------------------------------------------------------------------------


@dataclass
class ActionForm:
    """One form of the dossier page: the events sharing the same inputs (accepter, refuser
    and classer sans suite share the motivation), or why none of them can be done now."""

    key: str
    title: str
    inputs: tuple[str, ...]
    events: list[EventSpec] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)


def _inputs(spec: EventSpec) -> tuple[str, ...]:
    return tuple(GUARD_INPUTS[g] for g in spec.guards if g in GUARD_INPUTS)


def action_forms(s: Any, dossier: Dossier, now: dt.datetime) -> list[ActionForm]:
    """The actions the machine offers this user on the dossier now, grouped by inputs; an
    action whose guards refuse whatever is typed shows their reasons instead of a button."""
    actor = current_user.actor
    probe = {"message": "-", "due_date": paris_date(now), "motivation": "-", "reason": "-"}
    forms: dict[tuple[str, ...], ActionForm] = {}
    for spec in allowed_events(dossier, actor):
        inputs = _inputs(spec)
        title = "Décision" if inputs == ("motivation",) else spec.label
        form = forms.setdefault(inputs, ActionForm(f"action-{spec.name}", title, inputs))
        reasons = refusal_reasons(s, dossier, spec.name, actor, probe, now)
        if reasons:
            form.closed += [r for r in reasons if r not in form.closed]
        else:
            form.events.append(spec)
    return list(forms.values())


def _dossier_page(dossier: Dossier, status: int = 200, **extra: Any) -> tuple[str, int]:
    s = db_session()
    now = clock.now()
    definition = definition_of(s, dossier.campaign_version_id)
    attachments = {a.piece_key: a for a in dossier.attachments}
    avis = s.scalars(select(Avis).where(Avis.dossier_id == dossier.id).order_by(Avis.id)).all()
    context: dict[str, Any] = {
        "dossier": dossier,
        "campaign": dossier.campaign,
        "definition": definition,
        "report": volet_report(definition, dossier),
        "volets": shown_volets(definition, dossier.values or {}),
        "pieces": [(p, attachments.get(p.key)) for p in definition.pieces],
        "avis": avis,
        "avis_labels": {a.key: a.label for a in definition.avis},
        "avis_kinds": {a.key: a for a in definition.avis},
        "answers_read": answers_read,
        "verdicts": VERDICTS,
        "timeline": dossier_timeline(s, dossier.id, definition),
        "forms": action_forms(s, dossier, now),
        "labels": INPUT_LABELS,
        "decision_kinds": DECISION_KINDS,
        "organisation": dossier.organisation,
        "same_candidate": other_dossiers_of_candidate(s, dossier),
        "now": now,
        "reasons": [],
        "refused": None,
        "message": None,
        "posted": {},
        "avis_errors": {},
        "avis_posted": {},
        "messages": thread(s, dossier.id),
        "message_errors": {},
        "message_refusal": None,
        "message_posted": "",
    }
    context.update(extra)
    refused = context["refused"]
    context["refused_in_form"] = any(refused in f.events for f in context["forms"])
    return render_template("instruction/dossier.html", **context), status


@bp.get("/dossiers/<int:dossier_id>")
@staff_required
def dossier(dossier_id: int) -> Page:
    found = followed_dossier(dossier_id)
    s = db_session()
    # Shown before being marked: what was unread still reads « nouveau » this once.
    page = _dossier_page(found)
    with transaction(s):
        mark_read(s, found.id, current_user.actor, clock.now())
    return page


@bp.post("/dossiers/<int:dossier_id>/actions")
@staff_required
def act(dossier_id: int) -> Page:
    """Fires the event of the button pressed, with the inputs its guards ask for and the
    version of the dossier the page showed."""
    s = db_session()
    found = followed_dossier(dossier_id)
    spec = workflow().events.get(request.form.get("event", ""))
    if spec is None:
        abort(400)
    payload: dict[str, Any] = {}
    for name in _inputs(spec):
        value = request.form.get(name, "")
        payload[name] = parse_date(value) if name == "due_date" else value
    try:
        with transaction(s):
            fire(
                s,
                found,
                spec.name,
                current_user.actor,
                payload,
                expected_version=_version(),
                now=clock.now(),
            )
    except TransitionRefused as refused:
        found = followed_dossier(dossier_id)
        posted = {k: request.form.get(k, "") for k in INPUT_LABELS}
        return _dossier_page(
            found, 422, reasons=refused.reasons, refused=spec, posted=posted, anchor=spec.name
        )
    except ConflictError as conflict:
        found = followed_dossier(dossier_id)
        posted = {k: request.form.get(k, "") for k in INPUT_LABELS}
        return _dossier_page(found, 409, message=conflict.message, posted=posted)
    state = workflow().state_labels[found.state]
    note = ""
    decision = found.decision
    if spec.dest in DECISION_KINDS and decision is not None and decision.published_at is None:
        note = " La décision sera visible du déposant à la publication des résultats."
    flash(f"« {spec.label} » : c'est fait, le dossier est « {state} ».{note}", "success")
    return redirect(url_for(".dossier", dossier_id=found.id))


@bp.get("/dossiers/<int:dossier_id>/pieces/<piece_key>")
@staff_required
def piece(dossier_id: int, piece_key: str) -> Response:
    found = followed_dossier(dossier_id)
    attachment = next((a for a in found.attachments if a.piece_key == piece_key), None)
    if attachment is None:
        abort(404)
    return send_pdf(attachment.storage_name, attachment.filename)


@bp.get("/dossiers/<int:dossier_id>/lettre-decision.pdf")
@staff_required
def decision_letter(dossier_id: int) -> Response:
    """The decision letter of a decided dossier (published or not yet), as the partners
    receive it; archived the first time it is sent or downloaded."""
    s = db_session()
    found = followed_dossier(dossier_id)
    if found.decision is None or found.purged_at is not None:
        abort(404)  # no decision, or the RGPD purge deleted the letter with the dossier's data
    with transaction(s):
        document = letter_document(s, storage(), found, current_user.actor, clock.now())
    return send_pdf(document.storage_name, document.filename)


@bp.get("/dossiers/<int:dossier_id>/pieces.zip")
@staff_required
def dossier_zip(dossier_id: int) -> Response:
    found = followed_dossier(dossier_id)
    archive = write_zip(dossier_entries(db_session(), found), storage())
    return _zip(archive, f"dossier-{dossier_label(found)}.zip")


# --- messagerie -----------------------------------------------------------------------------


@bp.post("/dossiers/<int:dossier_id>/messages")
@staff_required
def post_dossier_message(dossier_id: int) -> Page:
    """« Envoyer le message »: the ARS writes to the déposant, with a PDF if need be."""
    s = db_session()
    found = followed_dossier(dossier_id)
    upload = request.files.get("piece_jointe")
    given = Upload(upload.filename, upload.read()) if upload and upload.filename else None
    body = request.form.get("body", "")
    try:
        with transaction(s):
            post_message(
                s, found, current_user.actor, body, upload=given, storage=storage(), now=clock.now()
            )
    except InvalidInput as invalid:
        found = followed_dossier(dossier_id)
        return _dossier_page(
            found,
            422,
            message_errors=invalid.errors,
            message_refusal=invalid.message,
            message_posted=body,
        )
    except TransitionRefused as refused:
        found = followed_dossier(dossier_id)
        refusal = " ".join(refused.reasons)
        return _dossier_page(found, 422, message_refusal=refusal, message_posted=body)
    flash("Le message est envoyé au déposant, qui en est informé par mail.", "success")
    return redirect(url_for(".dossier", dossier_id=found.id) + "#messagerie")


@bp.get("/dossiers/<int:dossier_id>/messages/<int:message_id>/fichier")
@staff_required
def message_file(dossier_id: int, message_id: int) -> Response:
    """The PDF joined to a message of the dossier's messagerie."""
    found = followed_dossier(dossier_id)
    attached = attachment_of(db_session(), found.id, message_id)
    if attached is None or attached.attachment_storage_name is None:
        abort(404)
    return send_pdf(attached.attachment_storage_name, attached.attachment_filename or "piece.pdf")


# --- avis -----------------------------------------------------------------------------------


@bp.post("/dossiers/<int:dossier_id>/avis")
@staff_required
def ask_avis(dossier_id: int) -> Page:
    """« Indiquer l'avis »: asks a person for an avis the campaign lists, by mail."""
    s = db_session()
    found = followed_dossier(dossier_id)
    form = request.form
    posted = {k: form.get(k, "") for k in ("avis_key", "giver_name", "giver_email")}
    try:
        with transaction(s):
            avis = invite_avis(
                s,
                found,
                posted["avis_key"],
                posted["giver_email"],
                posted["giver_name"],
                current_user.actor,
                secret_key=current_app.config["SECRET_KEY"],
                base_url=current_app.config["BASE_URL"],
                now=clock.now(),
            )
    except InvalidInput as invalid:
        found = followed_dossier(dossier_id)
        errors = invalid.errors or {"avis_key": invalid.message}
        return _dossier_page(found, 422, avis_errors=errors, avis_posted=posted)
    except TransitionRefused as refused:
        found = followed_dossier(dossier_id)
        errors = {"avis_key": " ".join(refused.reasons)}
        return _dossier_page(found, 422, avis_errors=errors, avis_posted=posted)
    flash(
        f"La demande d'avis est envoyée par mail à {avis.giver_email}, avec son lien personnel.",
        "success",
    )
    return redirect(url_for(".dossier", dossier_id=found.id) + "#avis")


def _followed_avis(avis_id: int) -> tuple[Avis, Dossier]:
    avis = db_session().get(Avis, avis_id)
    if avis is None:
        abort(404)
    return avis, followed_dossier(avis.dossier_id)


@bp.post("/avis/<int:avis_id>/supprimer")
@staff_required
def remove_avis(avis_id: int) -> Response:
    """« Supprimer l'avis »: withdraws the request or the avis given; its link stops."""
    s = db_session()
    avis, found = _followed_avis(avis_id)
    try:
        with transaction(s):
            delete_avis(s, avis, current_user.actor, clock.now(), storage=storage())
    except (TransitionRefused, WorkflowError) as refused:
        flash(refused.message, "error")
    else:
        flash("L'avis est supprimé ; le lien envoyé ne fonctionne plus.", "success")
    return redirect(url_for(".dossier", dossier_id=found.id) + "#avis")


@bp.get("/avis/<int:avis_id>/fichier")
@staff_required
def avis_file(avis_id: int) -> Response:
    """The signed avis the giver attached, as a PDF."""
    avis, found = _followed_avis(avis_id)
    if not avis.storage_name:
        abort(404)
    return send_pdf(avis.storage_name, f"avis-{avis.avis_key}-dossier-{dossier_label(found)}.pdf")
