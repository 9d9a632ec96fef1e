"""The partner's personal link: the dossier id and the partner's address, signed with the
application's secret key under a salt of its own (an avis or account token never opens it),
and expiring. It stops working when the dossier's partner address changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from workflow.models import Dossier
from workflow.plumbing.errors import InvalidLink

# Assumption: long enough for a partner to come back to a decision published in the spring
# until the start in the autumn; a link older than that is asked again of the ARS.
LINK_LIFETIME = dt.timedelta(days=180)
PATH = "/partenaire/"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="postes-partages/partenaire")


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b) and a.strip().lower() == b.strip().lower()  # type: ignore[union-attr]


def partner_token(dossier: Dossier, secret_key: str) -> str:
    """The token of the dossier's partner link (the dossier has a partner address)."""
    assert dossier.partner_email, "a dossier without a partner address has no partner link"
    return _serializer(secret_key).dumps(
        {"dossier": dossier.id, "email": dossier.partner_email.strip().lower()}
    )


def partner_link(base_url: str, dossier: Dossier, secret_key: str) -> str:
    """The partner's personal link, as a mail gives it."""
    return f"{base_url.rstrip('/')}{PATH}{partner_token(dossier, secret_key)}"


def is_partner(dossier: Dossier, address: str | None) -> bool:
    """Whether `address` is the dossier's partner address (case aside)."""
    return _same(dossier.partner_email, address)


def dossier_for_partner(session: Session, token: str, secret_key: str) -> Dossier:
    """The dossier a partner link opens; InvalidLink, in French, when it cannot be used:
    forged or cut, expired, for a dossier deleted or not deposited, or for an address that
    is no longer the dossier's partner."""
    try:
        data: Any = _serializer(secret_key).loads(token, max_age=int(LINK_LIFETIME.total_seconds()))
    except SignatureExpired as exc:
        raise InvalidLink(
            "Ce lien a expiré : demandez-en un nouveau à l'ARS (adresse dans le mail reçu)."
        ) from exc
    except BadSignature as exc:
        raise InvalidLink("Ce lien n'est pas valide : vérifiez qu'il est complet.") from exc
    dossier_id = data.get("dossier") if isinstance(data, dict) else None
    dossier = session.get(Dossier, dossier_id) if isinstance(dossier_id, int) else None
    if dossier is None or dossier.number is None or not is_partner(dossier, data.get("email")):
        raise InvalidLink("Ce lien ne donne plus accès à ce dossier.")
    return dossier
