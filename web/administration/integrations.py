"""The administrator's pages for outside tools: API tokens (created with their secret shown
once, listed with scope, expiry and last use, revoked) and webhooks per campaign (registered
with their signing secret shown once, stopped, and their deliveries with the receiver's
answer code). Each view checks the role, reads the form and calls one workflow function."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from web.shared.access import admin_required
from web.shared.db import db_session
from web.shared.parsing import parse_date, parse_int
from web.shared.security import client_address
from workflow.api.tokens import (
    SCOPE_LABELS,
    all_tokens,
    create_token,
    recent_calls,
    revoke_token,
)
from workflow.api.webhooks import (
    all_webhooks,
    deactivate_webhook,
    delivery_history,
    register_webhook,
)
from workflow.journal.webhooks import EVENTS
from workflow.models import ApiToken, Campaign, Webhook
from workflow.plumbing import clock
from workflow.plumbing.dates import end_instant
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput

bp = Blueprint("admin_api", __name__, template_folder="templates", url_prefix="/admin/api")

Page = str | Response | tuple[str, int]


def _campaigns() -> dict[int, Campaign]:
    s = db_session()
    return {c.id: c for c in s.scalars(select(Campaign).order_by(Campaign.title))}


def _ids(name: str) -> list[int]:
    ids = (parse_int(value) for value in request.form.getlist(name))
    return [i for i in ids if i is not None]


# --- tokens ---------------------------------------------------------------------------------


def _tokens_page(status: int = 200, **extra: Any) -> tuple[str, int]:
    context: dict[str, Any] = {
        "tokens": all_tokens(db_session()),
        "campaigns": _campaigns(),
        "scopes": SCOPE_LABELS,
        "errors": {},
        "message": None,
        "posted": {},
        "secret": None,
        "now": clock.now(),
    }
    context.update(extra)
    return render_template("admin/api_tokens.html", **context), status


@bp.get("/jetons")
@admin_required
def tokens() -> Page:
    return _tokens_page()


@bp.post("/jetons")
@admin_required
def token_create() -> Page:
    """Creates a token; the page shows its secret this once (never stored in clear)."""
    s = db_session()
    posted = {k: request.form.get(k, "") for k in ("name", "scope", "expires_on")}
    expires_at = None
    if posted["expires_on"].strip():
        day = parse_date(posted["expires_on"])
        if day is None:
            errors = {"expires_on": "Date invalide (JJ/MM/AAAA)."}
            return _tokens_page(422, errors=errors, message="Date invalide.", posted=posted)
        expires_at = end_instant(day)
    try:
        with transaction(s):
            token, secret = create_token(
                s,
                posted["name"],
                posted["scope"],
                _ids("campagnes"),
                current_user.actor,
                expires_at=expires_at,
                client_address=client_address(),
                now=clock.now(),
            )
    except InvalidInput as invalid:
        return _tokens_page(422, errors=invalid.errors, message=invalid.message, posted=posted)
    current_app.logger.info("API token %r created by %s", token.name, current_user.actor.label)
    return _tokens_page(created=token, secret=secret)


@bp.post("/jetons/<int:token_id>/revoquer")
@admin_required
def token_revoke(token_id: int) -> Response:
    s = db_session()
    with transaction(s):
        token = revoke_token(
            s, token_id, current_user.actor, clock.now(), client_address=client_address()
        )
    if token is None:
        abort(404)
    flash(f"Le jeton « {token.name} » est révoqué : il ne permet plus aucun appel.", "success")
    return redirect(url_for(".tokens"))


@bp.get("/jetons/<int:token_id>/appels")
@admin_required
def token_calls(token_id: int) -> str:
    """The token's journal: its last calls, reads included, with their answers' status."""
    s = db_session()
    token = s.get(ApiToken, token_id)
    if token is None:
        abort(404)
    return render_template("admin/api_calls.html", token=token, calls=recent_calls(s, token.id))


# --- webhooks -------------------------------------------------------------------------------


def _allow_loopback_http() -> bool:
    # http:// to this machine only in development and tests; production webhooks are https.
    return bool(current_app.config.get("DEVELOPMENT") or current_app.testing)


def _webhooks_page(status: int = 200, **extra: Any) -> tuple[str, int]:
    context: dict[str, Any] = {
        "webhooks": all_webhooks(db_session()),
        "campaigns": _campaigns(),
        "events": EVENTS,
        "errors": {},
        "message": None,
        "posted": {},
        "secret": None,
    }
    context.update(extra)
    return render_template("admin/api_webhooks.html", **context), status


@bp.get("/webhooks")
@admin_required
def webhooks() -> Page:
    return _webhooks_page()


@bp.post("/webhooks")
@admin_required
def webhook_create() -> Page:
    """Registers a webhook; the page shows its signing secret this once."""
    s = db_session()
    posted = {k: request.form.get(k, "") for k in ("url", "campagne")}
    campaign_id = parse_int(posted["campagne"]) or 0
    try:
        with transaction(s):
            hook, secret = register_webhook(
                s,
                campaign_id,
                posted["url"],
                request.form.getlist("evenements"),
                current_user.actor,
                allow_loopback_http=_allow_loopback_http(),
                client_address=client_address(),
                now=clock.now(),
            )
    except InvalidInput as invalid:
        return _webhooks_page(422, errors=invalid.errors, message=invalid.message, posted=posted)
    current_app.logger.info("webhook %s registered by %s", hook.url, current_user.actor.label)
    return _webhooks_page(created=hook, secret=secret)


@bp.post("/webhooks/<int:webhook_id>/arreter")
@admin_required
def webhook_stop(webhook_id: int) -> Response:
    s = db_session()
    with transaction(s):
        hook = deactivate_webhook(
            s, webhook_id, current_user.actor, client_address=client_address(), now=clock.now()
        )
    if hook is None:
        abort(404)
    flash("Le webhook est arrêté : plus aucun événement ne lui sera envoyé.", "success")
    return redirect(url_for(".webhooks"))


@bp.get("/webhooks/<int:webhook_id>")
@admin_required
def webhook(webhook_id: int) -> Page:
    """A webhook's latest deliveries, with the receiver's answer code."""
    s = db_session()
    hook = s.get(Webhook, webhook_id)
    if hook is None:
        abort(404)
    return render_template(
        "admin/api_webhook.html",
        hook=hook,
        campaign=s.get(Campaign, hook.campaign_id),
        deliveries=delivery_history(s, hook.id),
        events=EVENTS,
    )
