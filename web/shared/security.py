"""Sign-in (Flask-Login) on server-side sessions, CSRF on every form (Flask-WTF) and session
cookies (the headers every response carries are in `headers`).

The session cookie names a row of `sign_in_sessions` (workflow.people.sign_in_sessions); each
request resumes it at its start, outside any transaction, and an ended one sends the visitor
to « Connexion » saying that the session expired."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from web.shared.session_cookie import SignedCookieSessions
from workflow.models import Role, User
from workflow.people import sign_in_sessions
from workflow.people.actors import Actor
from workflow.people.sign_in_sessions import Account

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Connectez-vous pour accéder à cette page."
login_manager.login_message_category = "info"
SESSION_ENDED = "Votre session a expiré, reconnectez-vous."


class SignedIn(UserMixin):
    """The signed-in user of a request. Its id is the id of its server-side session, which
    Flask-Login keeps in the (signed) cookie.

    `account` is what resuming the session read (id, role, organisation, address), enough
    for the access checks and the actor of every change; `user`, the ORM object, is loaded
    on first use by the few pages that need more (the account's own page, the organisation's
    name): building it on every request cost more than the rest of the sign-in check."""

    def __init__(self, user: User | Account, session_id: str):
        if isinstance(user, User):
            self.account, self._user = Account.of(user), user
        else:
            self.account, self._user = user, None
        self.session_id = session_id
        self.actor = Actor(
            self.account.role, self.account.id, self.account.organisation_id, self.account.email
        )
        self.is_deposant = self.account.role == Role.DEPOSANT.value

    def get_id(self) -> str:
        return self.session_id

    @property
    def user(self) -> User:
        if self._user is None:
            from web.shared.db import db_session

            found = db_session().get(User, self.account.id)
            if found is None:  # deleted since the session was resumed, a moment ago
                abort(404)
            self._user = found
        return self._user


def client_address() -> str | None:
    """The visitor's address as this app sees it (its proxy's, unless one is configured)."""
    return request.remote_addr


@login_manager.user_loader
def load_user(value: str) -> SignedIn | None:
    from web.shared.db import db_session

    resumed = sign_in_sessions.resume(db_session(), value, client_address=client_address())
    if resumed.user is None:
        # Forget the dead id: the next requests need not look it up again.
        session.pop("_user_id", None)
        g.session_ended = resumed.ended
        return None
    return SignedIn(resumed.user, value)


@login_manager.unauthorized_handler
def sign_in_first() -> Response:
    """To « Connexion », back here afterwards; saying so when the session had expired."""
    if g.get("session_ended"):
        flash(SESSION_ENDED, "warning")
    else:
        flash(login_manager.login_message, login_manager.login_message_category)
    here = request.full_path if request.query_string else request.path
    return redirect(url_for(login_manager.login_view, next=safe_next(here)))


def deposant_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in as a déposant of an organisation; anyone else is refused."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_deposant or current_user.account.organisation_id is None:
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
    environment's SESSION_COOKIE_SECURE=0/1) decides otherwise. CSRF tokens on every POST."""
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
    app.session_interface = SignedCookieSessions()
    csrf.init_app(app)
    login_manager.init_app(app)

    @app.before_request
    def resume_session() -> None:
        # Now, before any view opens a transaction: resuming may write (last seen, end).
        if request.endpoint and not request.endpoint.startswith(("static", "dsfr.")):
            _ = current_user.is_authenticated
