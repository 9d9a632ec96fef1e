"""The development outbox: with no SMTP_URL, mails stay here, readable as they would arrive.

Registered only when no SMTP server is configured: these pages show every mail, password
reset links included, so they never exist where mails really leave.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template
from sqlalchemy import select

from web.shared.db import db_session
from workflow.mail.templates import render
from workflow.models import OutboxMail

bp = Blueprint("dev", __name__, template_folder="templates", url_prefix="/dev")


@bp.get("/outbox")
def outbox() -> str:
    mails = db_session().scalars(select(OutboxMail).order_by(OutboxMail.id.desc()).limit(200))
    return render_template("dev/outbox.html", mails=list(mails))


@bp.get("/outbox/<int:mail_id>")
def mail(mail_id: int) -> str:
    session = db_session()
    found = session.get(OutboxMail, mail_id) or abort(404)
    rendered = render(session, found, current_app.config["BASE_URL"])
    return render_template("dev/mail.html", mail=found, rendered=rendered)


@bp.get("/outbox/<int:mail_id>/html")
def mail_html(mail_id: int) -> Response:
    session = db_session()
    found = session.get(OutboxMail, mail_id) or abort(404)
    html = render(session, found, current_app.config["BASE_URL"]).html
    # Shown in a sandboxed frame: the mail's HTML runs no script of ours.
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'"
    )
    return response
