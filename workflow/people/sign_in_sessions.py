"""Sign-in sessions kept server-side: one row per sign-in, named in the browser's cookie by a
random id of which only the hash is stored. A session ends when its user signs out, when the
account is deactivated, changes role or changes password, after an idle time, and in any
case after a lifetime, both set per role.

`last_seen_at` is written at most once every TOUCH_EVERY: writing it on every request would
put a write lock on each page view of the deadline rush.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from workflow.models import Role, SignInSession, User
from workflow.people.actors import Actor
from workflow.people.security_journal import record_security_event
from workflow.plumbing import clock
from workflow.plumbing.db import transaction

# The ARS's people see every dossier of their campaigns (candidates' health-care careers,
# other organisations' projects), often from shared office computers: a session left open
# ends after 2 hours without a request, and a working day (12 hours) at most.
STAFF_IDLE = dt.timedelta(hours=2)
STAFF_LIFETIME = dt.timedelta(hours=12)
# A déposant sees only its organisation's dossiers and may type a volet for hours before
# saving it (a session ending under the typing would lose the text): 8 hours without a
# request, and a week at most, about the span of a deposit.
DEPOSANT_IDLE = dt.timedelta(hours=8)
DEPOSANT_LIFETIME = dt.timedelta(days=7)
LIMITS: dict[str, tuple[dt.timedelta, dt.timedelta]] = {
    Role.INSTRUCTEUR.value: (STAFF_IDLE, STAFF_LIFETIME),
    Role.ADMINISTRATEUR.value: (STAFF_IDLE, STAFF_LIFETIME),
    Role.DEPOSANT.value: (DEPOSANT_IDLE, DEPOSANT_LIFETIME),
}
TOUCH_EVERY = dt.timedelta(minutes=1)

# One Core statement for the session and its user, with only the columns that the checks
# and `Account` need: every request runs it, and as an ORM query of the three whole rows
# (session, user, organisation: 28 columns, three objects) it cost a quarter of the CPU of
# a volet's save (profiled in bench/rush_profile.py). Built once, for its cache key.
_SESSIONS, _USERS = SignInSession.__table__, User.__table__
_RESUME = (
    select(
        _SESSIONS.c.id,
        _SESSIONS.c.role,
        _SESSIONS.c.created_at,
        _SESSIONS.c.last_seen_at,
        _SESSIONS.c.ended_at,
        _USERS.c.id.label("user_id"),
        _USERS.c.email,
        _USERS.c.role.label("user_role"),
        _USERS.c.organisation_id,
        _USERS.c.active,
        _USERS.c.email_confirmed_at,
    )
    .select_from(_SESSIONS.outerjoin(_USERS, _USERS.c.id == _SESSIONS.c.user_id))
    .where(_SESSIONS.c.token_hash == bindparam("token_hash"))
)

# Why a session ended (end_reason).
SIGNED_OUT = "deconnexion"
IDLE = "inactivite"
TOO_OLD = "duree_maximale"
DEACTIVATED = "compte_desactive"
ROLE_CHANGED = "role_change"
PASSWORD_CHANGED = "mot_de_passe_change"
PASSWORD_RESET = "mot_de_passe_reinitialise"


def hash_token(token: str) -> str:
    """What is stored of a session id: its SHA-256 (the id is random, no salt is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    session: Session,
    user: User,
    *,
    client_address: str | None = None,
    user_agent: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Opens a session for `user` in the caller's transaction; returns the id the cookie
    carries (never stored as such)."""
    now = now or clock.now()
    token = secrets.token_urlsafe(32)
    session.add(
        SignInSession(
            token_hash=hash_token(token),
            user_id=user.id,
            role=user.role,
            created_at=now,
            last_seen_at=now,
            client_address=(client_address or None) and client_address[:45],
            user_agent=(user_agent or None) and user_agent[:200],
        )
    )
    session.flush()
    return token


@dataclass(frozen=True)
class Account:
    """The signed-in user as every request needs it (who, which role, which organisation),
    without an ORM object: a page that needs the `User` itself loads it by its id. `active`
    is always true for a live session; it is here for the checks that take a `User` too."""

    id: int
    email: str
    role: str
    organisation_id: int | None
    active: bool = True

    @classmethod
    def of(cls, user: User) -> Account:
        return cls(user.id, user.email, user.role, user.organisation_id, user.active)


@dataclass(frozen=True)
class Resumed:
    """A request's session: the user if it is live; `ended` says that the cookie named a
    session that has ended (to tell the visitor it expired), as opposed to none at all."""

    user: Account | None
    ended: bool = False


def _why_over(row: Row, now: dt.datetime) -> str | None:  # type: ignore[type-arg]
    if row.user_id is None or not row.active or row.email_confirmed_at is None:
        return DEACTIVATED
    if row.user_role != row.role:
        return ROLE_CHANGED
    idle, lifetime = LIMITS.get(row.role, (STAFF_IDLE, STAFF_LIFETIME))
    if now - row.created_at >= lifetime:
        return TOO_OLD
    if now - row.last_seen_at >= idle:
        return IDLE
    return None


def resume(
    session: Session,
    token: str,
    *,
    client_address: str | None = None,
    now: dt.datetime | None = None,
) -> Resumed:
    """The user of a session id, if its session is live. Reads only, except when the session
    must end now (idle, too old, account changed: the end is journaled) or `last_seen_at` is
    older than TOUCH_EVERY; then it writes in a short transaction of its own, so call it
    outside any transaction."""
    now = now or clock.now()
    row = session.connection().execute(_RESUME, {"token_hash": hash_token(token)}).first()
    if row is None:
        return Resumed(None)
    if row.ended_at is not None:
        return Resumed(None, ended=True)
    reason = _why_over(row, now)
    if reason is not None:
        with transaction(session):
            if _end(session, [row.id], reason, now) and reason in (IDLE, TOO_OLD):
                # Rare enough to load the whole account for the journal.
                user = session.get(User, row.user_id)
                record_security_event(
                    session,
                    "session_expiree",
                    user=user,
                    actor=Actor.of(user) if user is not None else None,
                    client_address=client_address,
                    detail={"motif": reason, "ouverte_le": row.created_at.isoformat()},
                    now=now,
                )
        return Resumed(None, ended=True)
    if now - row.last_seen_at >= TOUCH_EVERY:
        with transaction(session):
            # Conditional: of two requests racing, one writes.
            session.execute(
                update(SignInSession)
                .where(SignInSession.id == row.id, SignInSession.last_seen_at < now)
                .values(last_seen_at=now)
                .execution_options(synchronize_session=False)
            )
    return Resumed(Account(row.user_id, row.email, row.user_role, row.organisation_id))


def end_session(session: Session, token: str, reason: str, now: dt.datetime | None = None) -> bool:
    """Ends one session, in the caller's transaction; False if it was not live."""
    row_id = session.scalar(
        select(SignInSession.id).where(SignInSession.token_hash == hash_token(token))
    )
    return row_id is not None and _end(session, [row_id], reason, now or clock.now()) > 0


def end_all_sessions(
    session: Session, user_id: int, reason: str, now: dt.datetime | None = None
) -> int:
    """Ends every live session of a user, in the caller's transaction; returns how many."""
    ids = list(
        session.scalars(
            select(SignInSession.id).where(
                SignInSession.user_id == user_id, SignInSession.ended_at.is_(None)
            )
        )
    )
    return _end(session, ids, reason, now or clock.now()) if ids else 0


def _end(session: Session, ids: list[int], reason: str, now: dt.datetime) -> int:
    result = session.execute(
        update(SignInSession)
        .where(SignInSession.id.in_(ids), SignInSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
