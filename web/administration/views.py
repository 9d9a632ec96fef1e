"""The administrator's pages: campaigns loaded or updated from an uploaded YAML file (the
loader's errors shown with their file, line and key), opened, closed or given a new
deadline with a reason; instructeur accounts and the campaigns each one follows; and the
dossier state machine drawn from states.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

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
from sqlalchemy import select
from werkzeug.wrappers import Response

from web.shared import throttling
from web.shared.access import admin_only_hidden, admin_required
from web.shared.db import db_session
from web.shared.formatting import campaign_status
from web.shared.headers import inline_styles_allowed
from web.shared.parsing import parse_date, parse_int
from web.shared.security import client_address
from web.shared.throttling import Throttled
from workflow.administration.campaigns import (
    change_deadline,
    close_now,
    load_campaign_upload,
    open_now,
)
from workflow.administration.instructors import (
    create_instructor,
    followed_ids,
    followers,
    has_password,
    instructors,
    resend_invitation,
    set_active,
    set_followed,
)
from workflow.campaigns.loader import MAX_CAMPAIGN_BYTES, CampaignFileError, LoadProblem
from workflow.campaigns.store import current_version, definition_of
from workflow.instruction.timeline import campaign_timeline
from workflow.machine.states import for_campaign, mermaid, workflow
from workflow.models import Campaign, CampaignVersion, Role, User
from workflow.people.security_journal import KINDS, JournalFilter, security_events
from workflow.plumbing import clock
from workflow.plumbing.dates import deadline_text
from workflow.plumbing.db import ROOT, transaction
from workflow.plumbing.errors import ConflictError, InvalidInput, TransitionRefused

bp = Blueprint("admin", __name__, template_folder="templates", url_prefix="/admin")

Page = str | Response | tuple[str, int]
MERMAID_JS = ROOT / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"


# --- campaigns ------------------------------------------------------------------------------


def _campaigns_page(status: int = 200, **extra: Any) -> tuple[str, int]:
    s = db_session()
    now = clock.now()
    campaigns = s.scalars(select(Campaign).order_by(Campaign.deadline_at.desc())).all()
    context: dict[str, Any] = {
        "rows": [(c, campaign_status(c, now), len(followers(s, c.id))) for c in campaigns],
        "problems": [],
    }
    context.update(extra)
    return render_template("admin/home.html", **context), status


@bp.get("/")
@admin_required
def home() -> Page:
    return _campaigns_page()


# --- security journal -----------------------------------------------------------------------


@bp.get("/journal-securite")
@admin_only_hidden
def security_journal() -> Page:
    """The account events, newest first, filtered by kind, address and Paris days."""
    args = request.args
    errors: dict[str, str] = {}
    days: dict[str, dt.date | None] = {}
    for key in ("du", "au"):
        typed = args.get(key, "").strip()
        days[key] = parse_date(typed) if typed else None
        if typed and days[key] is None:
            errors[key] = "Date illisible : saisissez-la comme 04/11/2026."
    kind = args.get("type", "")
    if kind and kind not in KINDS:
        errors["type"] = "Type d'événement inconnu."
    wanted = JournalFilter(
        kind=kind if kind in KINDS else None,
        email_contains=args.get("adresse", "").strip()[:254] or None,
        since=days["du"],
        until=days["au"],
    )
    before = parse_int(args.get("avant"), minimum=1)
    events, next_before = security_events(db_session(), wanted, before_id=before)
    filters = {k: args.get(k, "") for k in ("type", "adresse", "du", "au")}
    kept = {k: v for k, v in filters.items() if v}
    next_url = url_for(".security_journal", **kept, avant=next_before) if next_before else None
    page = render_template(
        "admin/security_journal.html",
        events=events,
        kinds=KINDS,
        filters=filters,
        newest_url=url_for(".security_journal", **kept),
        errors=errors,
        next_url=next_url,
        first_page=before is None,
    )
    return page, 422 if errors else 200


@bp.post("/campagnes/charger")
@admin_required
def upload_campaign() -> Page:
    """Loads or updates a campaign from its YAML file."""
    s = db_session()
    upload = request.files.get("fichier")
    if upload is None or not upload.filename:
        problem = LoadProblem("", None, "", "Choisissez le fichier YAML de la campagne.")
        return _campaigns_page(422, problems=[problem])
    data = upload.read(MAX_CAMPAIGN_BYTES + 1)
    if len(data) > MAX_CAMPAIGN_BYTES:
        problem = LoadProblem(upload.filename, None, "", "Le fichier dépasse 1 Mo.")
        return _campaigns_page(422, problems=[problem])
    try:
        with transaction(s):
            loaded = load_campaign_upload(
                s,
                data,
                upload.filename,
                current_user.actor,
                clock.now(),
                campaigns_dir=current_app.config["CAMPAIGNS_DIR"],
            )
    except CampaignFileError as refused:
        return _campaigns_page(422, problems=refused.problems)
    except TransitionRefused as refused:
        problem = LoadProblem(upload.filename, None, "", " ".join(refused.reasons))
        return _campaigns_page(422, problems=[problem])
    campaign, version = loaded.campaign, loaded.version.version
    if loaded.created:
        text = f"La campagne « {campaign.title} » est créée (version {version} du formulaire)."
    elif loaded.new_version:
        text = (
            f"La campagne « {campaign.title} » passe à la version {version} du formulaire : "
            "les nouveaux dossiers la suivent, les dossiers déjà commencés gardent la leur."
        )
    else:
        text = (
            f"Le formulaire de « {campaign.title} » est inchangé (version {version}) ; "
            "son titre, ses contacts et ses dates sont à jour."
        )
    flash(text, "success")
    return redirect(url_for(".campaign", slug=campaign.slug))


def _campaign(slug: str) -> Campaign:
    return db_session().scalar(select(Campaign).where(Campaign.slug == slug)) or abort(404)


def _campaign_page(campaign: Campaign, status: int = 200, **extra: Any) -> tuple[str, int]:
    s = db_session()
    now = clock.now()
    versions = s.scalars(
        select(CampaignVersion)
        .where(CampaignVersion.campaign_id == campaign.id)
        .order_by(CampaignVersion.version.desc())
    ).all()
    context: dict[str, Any] = {
        "campaign": campaign,
        "status": campaign_status(campaign, now),
        "not_yet_open": now < campaign.opens_at,
        "versions": versions,
        "followers": followers(s, campaign.id),
        "timeline": campaign_timeline(s, campaign.id),
        "reasons": [],
        "refused": None,
        "posted": {},
    }
    context.update(extra)
    return render_template("admin/campaign.html", **context), status


@bp.get("/campagnes/<slug>")
@admin_required
def campaign(slug: str) -> Page:
    return _campaign_page(_campaign(slug))


def _dates_action(slug: str, label: str, action: Any) -> Page:
    """Runs one audited change of the campaign's dates; its refusal stays on the page."""
    s = db_session()
    found = _campaign(slug)
    try:
        with transaction(s):
            done = action(s, found)
    except TransitionRefused as refused:
        found = _campaign(slug)
        posted = {k: request.form.get(k, "") for k in ("reason", "date", "time")}
        return _campaign_page(found, 422, reasons=refused.reasons, refused=label, posted=posted)
    except ConflictError as conflict:
        flash(conflict.message, "error")
        return redirect(url_for(".campaign", slug=slug))
    flash(done, "success")
    return redirect(url_for(".campaign", slug=slug))


@bp.post("/campagnes/<slug>/ouvrir")
@admin_required
def open_campaign(slug: str) -> Page:
    reason = request.form.get("reason", "")

    def action(s: Any, found: Campaign) -> str:
        open_now(s, found, current_user.actor, reason, clock.now())
        return "La campagne est ouverte aux dépôts dès maintenant."

    return _dates_action(slug, "Ouvrir la campagne maintenant", action)


@bp.post("/campagnes/<slug>/clore")
@admin_required
def close_campaign(slug: str) -> Page:
    reason = request.form.get("reason", "")

    def action(s: Any, found: Campaign) -> str:
        closed = close_now(s, found, current_user.actor, reason, clock.now())
        moved = f" {closed.moved} dossier(s) passé(s) en instruction." if closed.moved else ""
        return f"La campagne est close : plus aucun dépôt ni modification.{moved}"

    return _dates_action(slug, "Clore la campagne maintenant", action)


@bp.post("/campagnes/<slug>/date-limite")
@admin_required
def deadline(slug: str) -> Page:
    reason = request.form.get("reason", "")
    day = _parse_day(request.form.get("date", ""))
    time = _parse_time(request.form.get("time", ""))

    def action(s: Any, found: Campaign) -> str:
        label = "Modifier la date limite"
        if day is None:
            raise TransitionRefused(label, ["La nouvelle date est obligatoire."])
        if time is False:
            raise TransitionRefused(label, ["L'heure s'écrit comme 12:00."])
        new: dt.date | dt.datetime = dt.datetime.combine(day, time) if time else day
        change_deadline(s, found, new, current_user.actor, reason, clock.now())
        return f"Nouvelle date limite : dépôt {deadline_text(found.deadline_at, new == day)}."

    return _dates_action(slug, "Modifier la date limite", action)


def _parse_day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def _parse_time(text: str) -> dt.time | None | bool:
    """None when no time is given (the whole day), False when it cannot be read."""
    if not text.strip():
        return None
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        return False


# --- instructeurs ---------------------------------------------------------------------------


def _instructors_page(status: int = 200, **extra: Any) -> tuple[str, int]:
    s = db_session()
    context: dict[str, Any] = {
        "instructors": instructors(s),
        "followed": {u.id: followed_ids(s, u.id) for u in instructors(s)},
        "campaigns": {c.id: c for c in s.scalars(select(Campaign).order_by(Campaign.title))},
        "has_password": has_password,
        "errors": {},
        "message": None,
        "posted": {},
    }
    context.update(extra)
    return render_template("admin/instructors.html", **context), status


@bp.get("/instructeurs")
@admin_required
def instructor_list() -> Page:
    return _instructors_page()


@bp.post("/instructeurs")
@admin_required
def instructor_create() -> Page:
    s = db_session()
    posted = {k: request.form.get(k, "") for k in ("email", "full_name")}
    campaign_ids = _campaign_ids()
    try:
        throttling.spend("invitation_instructeur")
        with transaction(s):
            user = create_instructor(
                s,
                posted["email"],
                posted["full_name"],
                current_user.actor,
                secret_key=current_app.config["SECRET_KEY"],
                campaign_ids=campaign_ids,
                now=clock.now(),
                client_address=client_address(),
            )
            throttling.spend("invitation_instructeur", user.email, client=False)
    except InvalidInput as invalid:
        return _instructors_page(422, errors=invalid.errors, message=invalid.message, posted=posted)
    except Throttled as refused:
        page, _ = _instructors_page(message=refused.message, posted=posted)
        return throttling.answer(refused, page)
    flash(
        f"Le compte de {user.full_name} est créé : un mail avec un lien pour choisir son mot "
        f"de passe est envoyé à {user.email}.",
        "success",
    )
    return redirect(url_for(".instructor", user_id=user.id))


def _campaign_ids() -> list[int]:
    """The campaigns ticked in the form (a value that is not an id is ignored)."""
    ids = (parse_int(value) for value in request.form.getlist("campagnes"))
    return [campaign_id for campaign_id in ids if campaign_id is not None]


def _instructor(user_id: int) -> User:
    user = db_session().get(User, user_id)
    if user is None or user.role != Role.INSTRUCTEUR.value:
        abort(404)
    return user


@bp.route("/instructeurs/<int:user_id>", methods=["GET", "POST"])
@admin_required
def instructor(user_id: int) -> Page:
    """The campaigns an instructeur follows, ticked and saved at once."""
    s = db_session()
    user = _instructor(user_id)
    if request.method == "POST":
        wanted = _campaign_ids()
        try:
            with transaction(s):
                added, removed = set_followed(s, user, wanted, current_user.actor, clock.now())
        except (InvalidInput, TransitionRefused) as refused:
            flash(refused.message, "error")
        else:
            flash(
                f"Campagnes suivies enregistrées ({len(added)} ajoutée(s), "
                f"{len(removed)} retirée(s)).",
                "success",
            )
        return redirect(url_for(".instructor", user_id=user.id))
    campaigns = s.scalars(select(Campaign).order_by(Campaign.deadline_at.desc())).all()
    return render_template(
        "admin/instructor.html",
        user=user,
        campaigns=campaigns,
        followed=followed_ids(s, user.id),
        has_password=has_password(user),
    )


@bp.post("/instructeurs/<int:user_id>/activation")
@admin_required
def instructor_activation(user_id: int) -> Response:
    s = db_session()
    user = _instructor(user_id)
    active = request.form.get("active") == "1"
    try:
        with transaction(s):
            set_active(s, user, active, current_user.actor, client_address=client_address())
    except TransitionRefused as refused:
        flash(refused.message, "error")
    else:
        if active:
            flash(f"Le compte de {user.email} est réactivé.", "success")
        else:
            flash(
                f"Le compte de {user.email} est désactivé : il ne peut plus se connecter.",
                "success",
            )
    return redirect(url_for(".instructor", user_id=user.id))


@bp.post("/instructeurs/<int:user_id>/invitation")
@admin_required
def instructor_invitation(user_id: int) -> Response:
    s = db_session()
    user = _instructor(user_id)
    try:
        throttling.spend("invitation_instructeur", user.email)
        with transaction(s):
            resend_invitation(
                s,
                user,
                current_user.actor,
                secret_key=current_app.config["SECRET_KEY"],
                now=clock.now(),
            )
    except TransitionRefused as refused:
        flash(refused.message, "error")
    else:
        flash(f"Un nouveau lien pour choisir le mot de passe est envoyé à {user.email}.", "success")
    return redirect(url_for(".instructor", user_id=user.id))


# --- the state machine ----------------------------------------------------------------------


@bp.get("/machine")
@admin_required
@inline_styles_allowed
def machine() -> str:
    """The dossier state machine, generated from states.yaml: a drawing (Mermaid, when its
    script is installed and JavaScript runs), its source as text, and the table of events."""
    s = db_session()
    campaigns = s.scalars(select(Campaign).order_by(Campaign.slug)).all()
    chosen = None
    flow = workflow()
    slug = request.args.get("campagne")
    if slug:
        chosen = next((c for c in campaigns if c.slug == slug), None)
        if chosen is None:
            abort(404)
        # The campaign's own steps: the AUMG campaign ends at the decision.
        flow = for_campaign(definition_of(s, current_version(s, chosen).id), flow)
    return render_template(
        "admin/machine.html",
        source=mermaid(flow),
        flow=flow,
        drawn=_mermaid_path() is not None,
        campaigns=campaigns,
        chosen=chosen,
    )


def _mermaid_path() -> Path | None:
    path = Path(current_app.config.get("MERMAID_JS") or MERMAID_JS)
    return path if path.is_file() else None


@bp.get("/machine/mermaid.min.js")
@admin_required
def mermaid_js() -> Response:
    path = _mermaid_path()
    if path is None:
        abort(404)
    return send_file(path, mimetype="text/javascript", max_age=7 * 24 * 3600)
