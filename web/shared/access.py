"""Who may open the ARS pages: instructeurs and administrateurs for instruction (an
instructeur only on the campaigns it follows, and only on deposited dossiers: the others are
a 404, as if they did not exist), administrateurs alone for administration. A déposant gets
a 403 on every one, except on the pages whose very existence is kept from anyone but
administrateurs (a 404)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required
from sqlalchemy import select

from web.shared.db import db_session
from workflow.administration.instructors import STAFF, may_instruct
from workflow.instruction.deposited import is_deposited
from workflow.machine.operations import load_dossier
from workflow.models import Campaign, Dossier, Role


def _role_required(
    roles: tuple[str, ...], refusal: int = 403
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.account.role not in roles:
                abort(refusal)
            return view(*args, **kwargs)

        return wrapped

    return decorator


staff_required = _role_required(STAFF)
admin_required = _role_required((Role.ADMINISTRATEUR.value,))
# The security journal: who signed in from where is nobody else's business, not even that
# the page exists.
admin_only_hidden = _role_required((Role.ADMINISTRATEUR.value,), refusal=404)


def is_admin() -> bool:
    return current_user.is_authenticated and current_user.account.role == Role.ADMINISTRATEUR.value


def followed_campaign(slug: str) -> Campaign:
    """The campaign if the signed-in user may instruct it; a 404 otherwise."""
    session = db_session()
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None or not may_instruct(session, current_user.account, campaign.id):
        abort(404)
    return campaign


def followed_dossier(dossier_id: int) -> Dossier:
    """The dossier if it is deposited and the signed-in user may instruct its campaign; a
    404 otherwise: a brouillon is its organisation's alone, as if it did not exist yet."""
    session = db_session()
    dossier = load_dossier(session, dossier_id)
    if dossier is None or not is_deposited(dossier):
        abort(404)
    if not may_instruct(session, current_user.account, dossier.campaign_id):
        abort(404)
    return dossier
