"""API tokens: an administrator creates a named token scoped to campaigns and to reading
(« lecture ») or reading and firing instruction events (« ecriture »). The secret is shown
once; the database keeps its SHA-256 (a high-entropy secret needs no slow hash) and its first
characters, to tell tokens apart on the list. A token acts as an instructor of its campaigns,
and the audit trail names it « jeton : <nom> »."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from workflow.models import ApiCall, ApiToken, Campaign, Role
from workflow.models.integrations import TOKEN_SCOPES
from workflow.people.actors import Actor
from workflow.people.security_journal import record_security_event
from workflow.plumbing import clock
from workflow.plumbing.errors import InvalidInput

SECRET_PREFIX = "pp_"
SCOPE_LABELS = {"lecture": "Lecture", "ecriture": "Lecture et écriture"}
# last_used_at is written at most this often: one write per call would make every read a
# write, and contend on the row under a busy client.
LAST_USE_PRECISION = dt.timedelta(minutes=1)
assert set(SCOPE_LABELS) == set(TOKEN_SCOPES)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(
    session: Session,
    name: str,
    scope: str,
    campaign_ids: Iterable[int],
    creator: Actor,
    *,
    expires_at: dt.datetime | None = None,
    client_address: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Creates a token and returns it with its secret, the only time the secret exists in
    clear, and writes it to the security journal (its name, prefix, scope and campaigns; never
    the secret). Raises InvalidInput (French, per field) on a missing or taken name, an unknown
    scope or campaign, or an expiry in the past."""
    now = now or clock.now()
    if creator.role != Role.ADMINISTRATEUR.value:
        raise InvalidInput("Seul un administrateur crée des jetons.")
    errors: dict[str, str] = {}
    name = name.strip()
    if not name:
        errors["name"] = "Donnez un nom au jeton (par exemple l'outil qui s'en servira)."
    elif len(name) > 120:
        errors["name"] = "120 caractères au plus."
    elif session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        errors["name"] = "Un jeton porte déjà ce nom."
    if scope not in TOKEN_SCOPES:
        errors["scope"] = "Choisissez « Lecture » ou « Lecture et écriture »."
    wanted = sorted(set(campaign_ids))
    known = set(session.scalars(select(Campaign.id).where(Campaign.id.in_(wanted))))
    if not wanted:
        errors["campaigns"] = "Choisissez au moins une campagne."
    elif known != set(wanted):
        errors["campaigns"] = "Une des campagnes choisies n'existe pas."
    if expires_at is not None and expires_at <= now:
        errors["expires_on"] = "La date d'expiration doit être dans le futur."
    if errors:
        raise InvalidInput("Le jeton n'est pas créé : corrigez les champs signalés.", errors)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        prefix=secret[:10],
        secret_hash=_hash(secret),
        scope=scope,
        campaign_ids=wanted,
        created_by_id=creator.user_id,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    record_security_event(
        session,
        "jeton_api_cree",
        actor=creator,
        client_address=client_address,
        detail={
            **_described(token),
            "expiration": token.expires_at.isoformat() if token.expires_at else None,
        },
        now=now,
    )
    return token, secret


def _described(token: ApiToken) -> dict[str, object]:
    """What the security journal says of a token: enough to recognise it, nothing to use it."""
    return {
        "jeton": token.id,
        "nom": token.name,
        "prefixe": token.prefix,
        "portee": token.scope,
        "campagnes": list(token.campaign_ids or []),
    }


def authenticate(session: Session, secret: str, now: dt.datetime | None = None) -> ApiToken | None:
    """The live token (neither revoked nor expired) whose secret this is; None otherwise.
    A read only. The lookup is by hash: no comparison leaks the secret's characters."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 100:
        return None
    now = now or clock.now()
    token = session.scalar(select(ApiToken).where(ApiToken.secret_hash == _hash(secret)))
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    return token


def needs_use_noted(token: ApiToken, now: dt.datetime) -> bool:
    """Whether `note_use` has something to write (a call opens no write transaction
    otherwise)."""
    return token.last_used_at is None or now - token.last_used_at >= LAST_USE_PRECISION


def note_use(session: Session, token: ApiToken, now: dt.datetime) -> None:
    """Notes the token's last use, inside the caller's transaction."""
    session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    token.last_used_at = now


def record_call(
    session: Session, token: ApiToken, method: str, path: str, status: int, now: dt.datetime
) -> None:
    """Journals one call made with the token (reads too), inside the caller's transaction."""
    session.execute(
        insert(ApiCall),
        {
            "token_id": token.id,
            "token_name": token.name,
            "method": method[:8],
            "path": path[:300],
            "status": status,
            "at": now,
        },
    )


def recent_calls(session: Session, token_id: int, limit: int = 100) -> list[ApiCall]:
    """The token's last calls, newest first."""
    return list(
        session.scalars(
            select(ApiCall)
            .where(ApiCall.token_id == token_id)
            .order_by(ApiCall.at.desc(), ApiCall.id.desc())
            .limit(limit)
        )
    )


def revoke_token(
    session: Session,
    token_id: int,
    actor: Actor,
    now: dt.datetime | None = None,
    *,
    client_address: str | None = None,
) -> ApiToken | None:
    """Revokes a token for good (its next call is refused); who and when are kept on its row
    and in the security journal. None for an unknown token; revoking twice keeps the first
    date and journals once."""
    token = session.get(ApiToken, token_id)
    if token is None:
        return None
    if token.revoked_at is None:
        token.revoked_at = now or clock.now()
        token.revoked_by_id = actor.user_id
        session.flush()
        record_security_event(
            session,
            "jeton_api_revoque",
            actor=actor,
            client_address=client_address,
            detail=_described(token),
            now=token.revoked_at,
        )
    return token


def all_tokens(session: Session) -> list[ApiToken]:
    """Every token, newest first, for the administrator's list."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def token_actor(token: ApiToken) -> Actor:
    """The actor a token fires events as: an instructor of its campaigns, named after the
    token in the audit trail."""
    return Actor(Role.INSTRUCTEUR.value, None, None, f"jeton : {token.name}")


def may_read(token: ApiToken, campaign_id: int) -> bool:
    """Whether the token's scope covers the campaign."""
    return campaign_id in (token.campaign_ids or [])


def may_write(token: ApiToken) -> bool:
    """Whether the token may fire instruction events."""
    return token.scope == "ecriture"
