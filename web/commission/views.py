"""The commission's pages. ARS pages: a campaign's sessions and its promotions awaiting
confirmation, a session's agenda by group with the opinion, rank and score forms, the
proposals from the quotas (adjusted with a motivation, applied in one transaction), the
minutes. The administrator sets the funded posts (audited). An invited member reads the
agenda through a signed link (and scores, where the campaign lets invited members score).
Each view checks access, reads the form and calls one workflow function."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from web.shared.access import admin_required, followed_campaign, staff_required
from web.shared.db import db_session
from web.shared.files import send_pdf, storage
from web.shared.parsing import parse_date, parse_int
from workflow.administration.instructors import followers, may_instruct
from workflow.commission.assessments import (
    OPINION_LABELS,
    may_score,
    record_opinion,
    record_scores,
    score_summaries,
)
from workflow.commission.groups import commission_of, group_label, quotas_of, set_funded_posts
from workflow.commission.links import member_from_token
from workflow.commission.minutes import minutes_of
from workflow.commission.proposals import (
    PROPOSAL_LABELS,
    adjust,
    apply_proposals,
    assessment_of,
    propose,
)
from workflow.commission.sessions import (
    add_instructor,
    agenda,
    create_session,
    invite_member,
    sessions_of,
)
from workflow.commission.waitlist import confirm_promotion, pending_promotions
from workflow.documents.minutes import minutes_document
from workflow.models import (
    Campaign,
    CommissionMember,
    CommissionSession,
    Dossier,
    Promotion,
    Score,
    User,
)
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import ConflictError, InvalidInput, InvalidLink, TransitionRefused

bp = Blueprint("commission", __name__, template_folder="templates")

Page = str | Response | tuple[str, int]


def _sitting(sitting_id: int) -> tuple[CommissionSession, Campaign]:
    """The session if the signed-in user may instruct its campaign; a 404 otherwise."""
    s = db_session()
    sitting = s.get(CommissionSession, sitting_id)
    if sitting is None or not may_instruct(s, current_user.account, sitting.campaign_id):
        abort(404)
    campaign = s.get(Campaign, sitting.campaign_id)
    assert campaign is not None
    return sitting, campaign


def _refused(error: TransitionRefused | InvalidInput | ConflictError) -> None:
    if isinstance(error, TransitionRefused):
        for reason in error.reasons:
            flash(reason, "error")
    else:
        flash(error.message, "error")


def _own_seat(sitting: CommissionSession) -> CommissionMember | None:
    return db_session().scalar(
        select(CommissionMember).where(
            CommissionMember.session_id == sitting.id,
            CommissionMember.user_id == current_user.account.id,
        )
    )


def _scores_of(sitting: CommissionSession, member: CommissionMember | None) -> dict:
    """A member's own scores, by dossier then criterion, to fill its forms."""
    if member is None:
        return {}
    found: dict[int, dict[str, float]] = {}
    for score in db_session().scalars(
        select(Score).where(Score.session_id == sitting.id, Score.member_id == member.id)
    ):
        found.setdefault(score.dossier_id, {})[score.criterion] = score.value
    return found


# --- a campaign's sessions -------------------------------------------------------------------


@bp.get("/instruction/campagnes/<slug>/commission")
@staff_required
def sessions(slug: str) -> str:
    s = db_session()
    campaign = followed_campaign(slug)
    definition, commission = commission_of(s, campaign)
    quotas = quotas_of(s, campaign)
    promotions = pending_promotions(s, campaign)
    dossiers = {
        d.id: d
        for d in s.scalars(
            select(Dossier).where(
                Dossier.id.in_(
                    [p.vacated_dossier_id for p in promotions]
                    + [p.promoted_dossier_id for p in promotions if p.promoted_dossier_id]
                )
            )
        )
    }
    return render_template(
        "commission/sessions.html",
        campaign=campaign,
        commission=commission,
        quotas=quotas,
        group_names={
            g.value: group_label(definition, commission, g.value) for g in commission.groups
        },
        sittings=sessions_of(s, campaign),
        promotions=promotions,
        dossiers=dossiers,
        today=clock.now().date(),
    )


@bp.post("/instruction/campagnes/<slug>/commission")
@staff_required
def create(slug: str) -> Response:
    s = db_session()
    campaign = followed_campaign(slug)
    held_on = parse_date(request.form.get("held_on", ""))
    if held_on is None:
        flash("La date de la séance est obligatoire (jj/mm/aaaa).", "error")
        return redirect(url_for(".sessions", slug=slug))
    try:
        with transaction(s):
            sitting = create_session(
                s, campaign, current_user.actor, request.form.get("title", ""), held_on
            )
    except (TransitionRefused, InvalidInput, ConflictError) as error:
        _refused(error)
        return redirect(url_for(".sessions", slug=slug))
    flash("Séance créée : son ordre du jour tient les dossiers en instruction.", "success")
    return redirect(url_for(".session_page", sitting_id=sitting.id))


@bp.post("/instruction/commission/promotions/<int:promotion_id>/confirmer")
@staff_required
def confirm(promotion_id: int) -> Response:
    s = db_session()
    promotion = s.get(Promotion, promotion_id)
    if promotion is None or not may_instruct(s, current_user.account, promotion.campaign_id):
        abort(404)
    campaign = s.get(Campaign, promotion.campaign_id)
    assert campaign is not None
    try:
        with transaction(s):
            dossier = confirm_promotion(s, promotion, current_user.actor)
    except (TransitionRefused, ConflictError) as error:
        _refused(error)
    else:
        flash(
            f"Dossier n° {dossier.number} retenu depuis la liste complémentaire : le déposant, "
            "le partenaire et le contact ARS sont prévenus.",
            "success",
        )
    return redirect(url_for(".sessions", slug=campaign.slug))


# --- a session -------------------------------------------------------------------------------


def _session_context(sitting: CommissionSession, campaign: Campaign) -> dict:
    s = db_session()
    _, commission = commission_of(s, campaign)
    seat = _own_seat(sitting)
    return {
        "campaign": campaign,
        "sitting": sitting,
        "commission": commission,
        "groups": agenda(s, sitting),
        "scores": score_summaries(s, sitting, commission),
        "own_scores": _scores_of(sitting, seat),
        "opinions": OPINION_LABELS,
        "proposals": PROPOSAL_LABELS,
        "candidates": [
            u for u in followers(s, campaign.id) if u.id not in {m.user_id for m in sitting.members}
        ],
    }


@bp.get("/instruction/commission/<int:sitting_id>")
@staff_required
def session_page(sitting_id: int) -> str:
    sitting, campaign = _sitting(sitting_id)
    return render_template("commission/session.html", **_session_context(sitting, campaign))


@bp.post("/instruction/commission/<int:sitting_id>/membres")
@staff_required
def members(sitting_id: int) -> Response:
    s = db_session()
    sitting, campaign = _sitting(sitting_id)
    back = redirect(url_for(".session_page", sitting_id=sitting.id) + "#membres")
    user_id = parse_int(request.form.get("user_id"))
    try:
        with transaction(s):
            if user_id is not None:
                user = s.get(User, user_id)
                if user is None or not may_instruct(s, user, campaign.id):
                    flash("Cet utilisateur ne suit pas la campagne.", "error")
                    return back
                add_instructor(s, sitting, user, current_user.actor, clock.now())
            else:
                invite_member(
                    s,
                    sitting,
                    request.form.get("name", ""),
                    request.form.get("quality", ""),
                    request.form.get("email", ""),
                    current_user.actor,
                    secret_key=current_app.config["SECRET_KEY"],
                    base_url=current_app.config["BASE_URL"],
                )
    except (TransitionRefused, InvalidInput, ConflictError) as error:
        _refused(error)
        return back
    flash("Membre ajouté à la séance.", "success")
    return back


def _agenda_dossier(sitting: CommissionSession, dossier_id: int):  # type: ignore[no-untyped-def]
    try:
        return assessment_of(db_session(), sitting, dossier_id)
    except LookupError:
        abort(404)


@bp.post("/instruction/commission/<int:sitting_id>/dossiers/<int:dossier_id>/avis")
@staff_required
def opinion(sitting_id: int, dossier_id: int) -> Response:
    s = db_session()
    sitting, _ = _sitting(sitting_id)
    assessment = _agenda_dossier(sitting, dossier_id)
    rank_text = request.form.get("rank", "").strip()
    rank = parse_int(rank_text, minimum=1) if rank_text else None
    if rank_text and rank is None:
        flash("Le rang est un nombre entier à partir de 1.", "error")
        return redirect(url_for(".session_page", sitting_id=sitting.id) + f"#d-{dossier_id}")
    try:
        with transaction(s):
            record_opinion(
                s,
                sitting,
                assessment,
                current_user.actor,
                request.form.get("opinion") or None,
                request.form.get("reason", ""),
                rank,
            )
    except (TransitionRefused, InvalidInput, ConflictError) as error:
        _refused(error)
    else:
        flash("Avis de la commission enregistré.", "success")
    return redirect(url_for(".session_page", sitting_id=sitting.id) + f"#d-{dossier_id}")


def _posted_scores(commission) -> dict[str, float]:  # type: ignore[no-untyped-def]
    values: dict[str, float] = {}
    for criterion in commission.scoring:
        text = request.form.get(f"note-{criterion.key}", "").strip().replace(",", ".")
        try:
            values[criterion.key] = float(text)
        except ValueError:
            continue
    return values


@bp.post("/instruction/commission/<int:sitting_id>/dossiers/<int:dossier_id>/notes")
@staff_required
def score(sitting_id: int, dossier_id: int) -> Response:
    s = db_session()
    sitting, campaign = _sitting(sitting_id)
    _agenda_dossier(sitting, dossier_id)
    _, commission = commission_of(s, campaign)
    back = redirect(url_for(".session_page", sitting_id=sitting.id) + f"#d-{dossier_id}")
    try:
        with transaction(s):
            # An instructor of the campaign who scores sits in the session.
            seat = _own_seat(sitting) or add_instructor(
                s, sitting, current_user.user, current_user.actor, clock.now()
            )
            record_scores(
                s, sitting, seat, commission, dossier_id, _posted_scores(commission),
                current_user.actor,
            )  # fmt: skip
    except (TransitionRefused, InvalidInput, ConflictError) as error:
        _refused(error)
    else:
        flash("Vos notes sont enregistrées.", "success")
    return back


# --- proposals, application, minutes ---------------------------------------------------------


@bp.get("/instruction/commission/<int:sitting_id>/propositions")
@staff_required
def proposals_page(sitting_id: int) -> str:
    sitting, campaign = _sitting(sitting_id)
    return render_template("commission/proposals.html", **_session_context(sitting, campaign))


@bp.post("/instruction/commission/<int:sitting_id>/propositions")
@staff_required
def make_proposals(sitting_id: int) -> Response:
    s = db_session()
    sitting, _ = _sitting(sitting_id)
    try:
        with transaction(s):
            groups = propose(s, sitting, current_user.actor)
    except (TransitionRefused, ConflictError) as error:
        _refused(error)
    else:
        flash("Décisions proposées d'après les rangs et les postes financés.", "success")
        for group in groups:
            for note in group.ties:
                flash(f"{group.label} — {note}", "info")
    return redirect(url_for(".proposals_page", sitting_id=sitting.id))


@bp.post("/instruction/commission/<int:sitting_id>/propositions/<int:dossier_id>")
@staff_required
def adjust_proposal(sitting_id: int, dossier_id: int) -> Response:
    s = db_session()
    sitting, _ = _sitting(sitting_id)
    assessment = _agenda_dossier(sitting, dossier_id)
    try:
        with transaction(s):
            adjust(
                s,
                sitting,
                assessment,
                current_user.actor,
                request.form.get("proposal", ""),
                request.form.get("motivation", ""),
            )
    except (TransitionRefused, InvalidInput, ConflictError) as error:
        _refused(error)
    else:
        flash("Proposition modifiée.", "success")
    return redirect(url_for(".proposals_page", sitting_id=sitting.id) + f"#p-{dossier_id}")


@bp.post("/instruction/commission/<int:sitting_id>/appliquer")
@staff_required
def apply(sitting_id: int) -> Response:
    s = db_session()
    sitting, campaign = _sitting(sitting_id)
    try:
        with transaction(s):
            applied = apply_proposals(s, sitting, current_user.actor)
    except (TransitionRefused, ConflictError) as error:
        _refused(error)
        return redirect(url_for(".proposals_page", sitting_id=sitting.id))
    flash(
        f"Décisions appliquées : {applied.accepted} accepté(s), {applied.waiting} sur liste "
        f"complémentaire, {applied.refused} refusé(s). Publiez les résultats pour les envoyer.",
        "success",
    )
    return redirect(url_for("instruction.campaign", slug=campaign.slug) + "#publication")


@bp.get("/instruction/commission/<int:sitting_id>/proces-verbal")
@staff_required
def minutes(sitting_id: int) -> str:
    sitting, campaign = _sitting(sitting_id)
    return render_template(
        "commission/minutes.html",
        campaign=campaign,
        sitting=sitting,
        minutes=minutes_of(db_session(), sitting.id),
    )


@bp.get("/instruction/commission/<int:sitting_id>/proces-verbal.pdf")
@staff_required
def minutes_pdf(sitting_id: int) -> Response:
    """The procès-verbal as a PDF, archived with its hash the first time these minutes are
    downloaded (minutes that changed since are a new document)."""
    sitting, campaign = _sitting(sitting_id)
    s = db_session()
    with transaction(s):
        document = minutes_document(
            s,
            storage(),
            minutes_of(s, sitting.id),
            campaign_id=campaign.id,
            commission_session_id=sitting.id,
            actor=current_user.actor,
            now=clock.now(),
        )
    return send_pdf(document.storage_name, document.filename)


# --- the administrator's funded posts --------------------------------------------------------


@bp.route("/admin/campagnes/<slug>/postes-finances", methods=["GET", "POST"])
@admin_required
def funded_posts(slug: str) -> Page:
    s = db_session()
    campaign = s.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        abort(404)
    definition, commission = commission_of(s, campaign)
    if request.method == "POST":
        total_text = request.form.get("total", "").strip()
        total = parse_int(total_text) if total_text else None
        per_group: dict[str, int] = {}
        bad = total_text != "" and total is None
        for index, group in enumerate(commission.groups):
            text = request.form.get(f"groupe-{index}", "").strip()
            value = parse_int(text)
            if value is None:
                bad = True
            else:
                per_group[group.value] = value
        if bad:
            flash("Chaque nombre de postes est un entier positif ou nul.", "error")
        else:
            try:
                with transaction(s):
                    set_funded_posts(
                        s, campaign, current_user.actor, total, per_group,
                        request.form.get("reason", ""),
                    )  # fmt: skip
            except (TransitionRefused, ConflictError) as error:
                _refused(error)
            else:
                flash("Postes financés enregistrés (journalisé).", "success")
                return redirect(url_for(".funded_posts", slug=slug))
    quotas = quotas_of(s, campaign)
    return render_template(
        "commission/funded_posts.html",
        campaign=campaign,
        commission=commission,
        quotas=quotas,
        groups=[
            (index, g, group_label(definition, commission, g.value))
            for index, g in enumerate(commission.groups)
        ],
    )


# --- the invited member's link ---------------------------------------------------------------


def _member(token: str) -> CommissionMember | InvalidLink:
    try:
        return member_from_token(db_session(), token, current_app.config["SECRET_KEY"])
    except InvalidLink as invalid:
        return invalid


def _invalid(invalid: InvalidLink) -> tuple[str, int]:
    return render_template("commission/invalid.html", message=invalid.message), 404


@bp.get("/commission/<token>")
def member_page(token: str) -> Page:
    member = _member(token)
    if isinstance(member, InvalidLink):
        return _invalid(member)
    s = db_session()
    sitting = s.get(CommissionSession, member.session_id)
    assert sitting is not None
    campaign = s.get(Campaign, sitting.campaign_id)
    assert campaign is not None
    _, commission = commission_of(s, campaign)
    return render_template(
        "commission/member.html",
        token=token,
        member=member,
        campaign=campaign,
        sitting=sitting,
        commission=commission,
        may_score=may_score(member, commission) and sitting.applied_at is None,
        groups=agenda(s, sitting),
        scores=score_summaries(s, sitting, commission),
        own_scores=_scores_of(sitting, member),
        opinions=OPINION_LABELS,
    )


@bp.post("/commission/<token>/dossiers/<int:dossier_id>/notes")
def member_score(token: str, dossier_id: int) -> Page:
    member = _member(token)
    if isinstance(member, InvalidLink):
        return _invalid(member)
    s = db_session()
    sitting = s.get(CommissionSession, member.session_id)
    assert sitting is not None
    campaign = s.get(Campaign, sitting.campaign_id)
    assert campaign is not None
    _, commission = commission_of(s, campaign)
    if not may_score(member, commission):
        abort(403)
    try:
        with transaction(s):
            record_scores(
                s, sitting, member, commission, dossier_id, _posted_scores(commission),
                Actor("membre_commission", None, None, member.email or member.name),
            )  # fmt: skip
    except (TransitionRefused, InvalidInput, ConflictError) as error:
        _refused(error)
    else:
        flash("Vos notes sont enregistrées.", "success")
    return redirect(url_for(".member_page", token=token) + f"#d-{dossier_id}")
