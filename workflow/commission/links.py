"""Invited members' signed read links, made and checked as the avis links are
(`workflow.instruction.avis`): no account, a personal token, an expiry."""

from __future__ import annotations

import datetime as dt
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from workflow.models import CommissionMember
from workflow.plumbing.errors import InvalidLink

# Assumption: a commission sits within weeks of its invitation; the link lives 60 days.
LINK_LIFETIME = dt.timedelta(days=60)


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="postes-partages/commission")


def member_token(member_id: int, secret_key: str) -> str:
    """The token of an invited member's personal link."""
    return _serializer(secret_key).dumps({"membre": member_id})


def member_from_token(session: Session, token: str, secret_key: str) -> CommissionMember:
    """The invited member of a personal link; InvalidLink, in French, if it cannot be used."""
    try:
        data: Any = _serializer(secret_key).loads(token, max_age=int(LINK_LIFETIME.total_seconds()))
    except SignatureExpired as exc:
        raise InvalidLink("Ce lien a expiré : demandez-en un nouveau à l'ARS.") from exc
    except BadSignature as exc:
        raise InvalidLink("Ce lien n'est pas valide : vérifiez qu'il est complet.") from exc
    member = session.get(CommissionMember, data.get("membre")) if isinstance(data, dict) else None
    if member is None or member.user_id is not None:
        raise InvalidLink("Cette invitation a été retirée par l'ARS.")
    return member
