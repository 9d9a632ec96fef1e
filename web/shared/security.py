"""Sign-in (Flask-Login), CSRF on every form (Flask-WTF), session cookies and the headers
every response carries."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, request
from flask_login import LoginManager, UserMixin, current_user, login_required
from flask_wtf.csrf import CSRFProtect

from web.shared.parsing import parse_int
from workflow.models import Role, User
from workflow.people.accounts import session_fingerprint
from workflow.people.actors import Actor

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.login_message_category = "info"


class SignedIn(UserMixin):
    """The signed-in user of a request. Its id names the password it signed in with, so that
    changing the password ends the other sessions."""

    def __init__(self, user: User):
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{session_fingerprint(self.user)}"

    @property
    def actor(self) -> Actor:
        return Actor.of(self.user)

    @property
    def is_deposant(self) -> bool:
        return self.user.role == Role.DEPOSANT.value


@login_manager.user_loader
def load_user(value: str) -> SignedIn | None:
    from web.shared.db import db_session

    raw_id, _, fingerprint = value.partition(":")
    user_id = parse_int(raw_id)
    if user_id is None:
        return None
    user = db_session().get(User, user_id)
    if user is None or not user.active or user.email_confirmed_at is None:
        return None
    if fingerprint != session_fingerprint(user):
        return None
    return SignedIn(user)


def deposant_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in as a déposant of an organisation; anyone else is refused."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_deposant or current_user.user.organisation_id is None:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None) -> str | None:
    """A redirect target after sign-in, only if it stays on this site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def init_app(app: Flask) -> None:
    """Cookies HttpOnly and SameSite=Lax, and Secure unless the app is served over plain
    HTTP (BASE_URL http://..., as in development) or tested; COOKIE_SECURE (or the
    environment's SESSION_COOKIE_SECURE=0/1) decides otherwise. CSRF tokens on every POST; a
    few protective headers."""
    secure = app.config.get("COOKIE_SECURE", os.environ.get("SESSION_COOKIE_SECURE"))
    if secure is None:
        secure = not app.testing and str(app.config.get("BASE_URL", "")).startswith("https://")
    elif isinstance(secure, str):
        secure = secure.strip().lower() in ("1", "true", "yes", "oui")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(secure),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=bool(secure),
    )
    # A volet can take more than an hour to type: the token lives as long as the session
    # (Flask-WTF's default of one hour would refuse the « Enregistrer » and lose the input).
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    login_manager.init_app(app)

    @app.after_request
    def protective_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Links from mails carry tokens in their path: never send them to another site.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint and not request.endpoint.startswith(("static", "dsfr.")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
