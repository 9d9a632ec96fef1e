"""The development outbox: mails readable as they would arrive, for `make run` without SMTP.

These pages show every mail, password reset links included: whoever reads them can take any
account. So they are registered only in development mode (never because SMTP_URL is
missing), and even there answer only a signed-in administrator or a browser on this very
machine; anyone else gets the 404 of a page that does not exist.
"""

from __future__ import annotations

import ipaddress

from flask import Blueprint, Response, abort, current_app, render_template, request
from sqlalchemy import select

from web.shared.access import is_admin
from web.shared.db import db_session
from workflow.mail.templates import render
from workflow.models import OutboxMail

bp = Blueprint("dev", __name__, template_folder="templates", url_prefix="/dev")

# Headers a reverse proxy adds: a request carrying one came from elsewhere, even though the
# connection itself is from loopback.
PROXY_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Forwarded-Host")


def from_loopback() -> bool:
    """The connection comes from this machine, directly (not relayed by a proxy)."""
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.environ.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@bp.before_request
def only_for_this_machine_or_an_administrator() -> None:
    if not (from_loopback() or is_admin()):
        abort(404)


@bp.get("/outbox")
def outbox() -> str:
    mails = db_session().scalars(select(OutboxMail).order_by(OutboxMail.id.desc()).limit(200))
    return render_template("dev/outbox.html", mails=list(mails))


@bp.get("/outbox/<int:mail_id>")
def mail(mail_id: int) -> str:
    session = db_session()
    found = session.get(OutboxMail, mail_id) or abort(404)
    rendered = render(
        session, found, current_app.config["BASE_URL"], secret_key=current_app.secret_key
    )
    return render_template("dev/mail.html", mail=found, rendered=rendered)


@bp.get("/outbox/<int:mail_id>/html")
def mail_html(mail_id: int) -> Response:
    session = db_session()
    found = session.get(OutboxMail, mail_id) or abort(404)
    html = render(
        session, found, current_app.config["BASE_URL"], secret_key=current_app.secret_key
    ).html
    # Shown in a sandboxed frame of the mail's page: the mail's HTML runs no script.
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
