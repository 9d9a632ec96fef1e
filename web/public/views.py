"""Pages anyone can see: the campaigns open now, « Données personnelles » (drawn from the
campaigns' consent texts and retention) and « Mentions légales »."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from web.shared.db import db_session
from workflow.models import Campaign
from workflow.plumbing import clock
from workflow.plumbing.dates import deadline_text, format_instant
from workflow.privacy.notice import campaign_notices

bp = Blueprint("public", __name__, template_folder="templates")


@bp.get("/")
def index() -> str:
    now = clock.now()
    campaigns = db_session().scalars(select(Campaign).order_by(Campaign.deadline_at)).all()
    open_now = [c for c in campaigns if c.opens_at <= now < c.deadline_at and not c.closed_at]
    upcoming = [c for c in campaigns if now < c.opens_at]
    return render_template(
        "index.html",
        open_now=open_now,
        upcoming=upcoming,
        closed=[c for c in campaigns if c not in open_now and c not in upcoming],
        deadline_text=deadline_text,
        format_instant=format_instant,
    )


@bp.get("/donnees-personnelles")
def privacy() -> str:
    return render_template("privacy.html", notices=campaign_notices(db_session()))


@bp.get("/mentions-legales")
def legal() -> str:
    return render_template("legal.html")
