"""Opening and closing a browser's session, and the security journal written from a request
(who acts and from which address come from the request)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user, login_user, logout_user

from web.shared.db import db_session
from web.shared.security import SignedIn, client_address
from workflow.models import User
from workflow.people import sign_in_sessions
from workflow.people.accounts import user_by_email
from workflow.people.actors import Actor
from workflow.people.security_journal import record_security_event
from workflow.plumbing import clock
from workflow.plumbing.db import transaction


def journal(kind: str, user: User | None = None, **extra: Any) -> None:
    """Records a security event in the caller's transaction: the signed-in visitor is the
    actor (anonymous otherwise), the request's address is the client's."""
    actor = current_user.actor if current_user.is_authenticated else None
    extra.setdefault("actor", actor)
    record_security_event(
        db_session(), kind, user=user, client_address=client_address(), now=clock.now(), **extra
    )


def start_session(
    user: User, *, journaled: bool = True, detail: dict[str, Any] | None = None
) -> None:
    """Signs this browser in as `user` on a new server-side session (journaled as a
    successful sign-in, with `detail`, unless it only replaces one, after a change of
    password)."""
    s = db_session()
    with transaction(s):
        session_id = sign_in_sessions.open_session(
            s,
            user,
            client_address=client_address(),
            user_agent=request.user_agent.string,
            now=clock.now(),
        )
        if journaled:
            journal("connexion_reussie", user, actor=Actor.of(user), detail=detail)
    login_user(SignedIn(user, session_id))


def end_session() -> None:
    """Signs this browser out: its server-side session ends, so a copy of the cookie opens
    nothing any more."""
    if current_user.is_authenticated:
        s = db_session()
        with transaction(s):
            if sign_in_sessions.end_session(
                s, current_user.session_id, sign_in_sessions.SIGNED_OUT
            ):
                journal("deconnexion", current_user.user)
    logout_user()


def record_refused_sign_in(email: str, why: str) -> None:
    """Journals a refused sign-in in a transaction of its own (nothing else is written)."""
    s = db_session()
    typed = email.strip()
    with transaction(s):
        user = user_by_email(s, typed) if typed else None
        if user is None:
            detail = {"motif": "adresse inconnue"}
        elif not user.active:
            detail = {"motif": "compte désactivé"}
        else:
            detail = {"motif": why}
        journal("connexion_echouee", user, email=typed, detail=detail)
