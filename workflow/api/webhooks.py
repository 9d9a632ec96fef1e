"""Webhooks an administrator registers: a URL per campaign, the events it wants
(`workflow.journal.webhooks.EVENTS`), a secret shown once to check the signatures; and the
history of their deliveries with the receiver's answer.

Only https URLs are accepted, never to an internal address written as an IP (private,
loopback, link-local), except http to this machine itself (127.0.0.0/8, ::1, localhost) when
`allow_loopback_http` is given (development and tests): a webhook must not become a way to
make the server call into the network it sits in."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.journal.webhooks import EVENTS
from workflow.models import Campaign, Role, Webhook, WebhookDelivery
from workflow.people.actors import Actor
from workflow.people.security_journal import record_security_event
from workflow.plumbing import clock
from workflow.plumbing.errors import InvalidInput

HISTORY_SIZE = 50


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine itself."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str, allow_loopback_http: bool) -> str | None:
    """Why this URL may not receive webhooks, in French; None when it may."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "Adresse invalide."
    if not parts.hostname or parts.username or parts.password:
        return "Donnez une adresse complète, sans identifiant : https://exemple.fr/chemin."
    if parts.scheme == "http" and allow_loopback_http and is_loopback(parts.hostname):
        return None
    if parts.scheme != "https":
        return "L'adresse doit commencer par https://."
    if _internal_address(parts.hostname):
        return (
            "L'adresse doit être celle d'un service joignable sur Internet, pas du réseau interne."
        )
    return None


def _internal_address(host: str) -> bool:
    """An address written as a private, loopback or link-local IP (a cloud's metadata service
    at 169.254.169.254, for one). A name is not resolved here: DNS may answer differently at
    sending time."""
    if is_loopback(host):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_link_local or address.is_reserved


def register_webhook(
    session: Session,
    campaign_id: int,
    url: str,
    events: Iterable[str],
    actor: Actor,
    *,
    allow_loopback_http: bool = False,
    client_address: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Webhook, str]:
    """Registers a webhook and returns it with its signing secret (shown once), written to
    the security journal (where the campaign's events will go; never the secret). Raises
    InvalidInput with the fields to correct."""
    if actor.role != Role.ADMINISTRATEUR.value:
        raise InvalidInput("Seul un administrateur enregistre des webhooks.")
    errors: dict[str, str] = {}
    url = url.strip()
    if len(url) > 500:
        errors["url"] = "500 caractères au plus."
    elif problem := url_problem(url, allow_loopback_http):
        errors["url"] = problem
    chosen = sorted(set(events))
    if not chosen:
        errors["events"] = "Choisissez au moins un événement."
    elif any(e not in EVENTS for e in chosen):
        errors["events"] = "Événement inconnu."
    if session.get(Campaign, campaign_id) is None:
        errors["campaign"] = "Campagne inconnue."
    if errors:
        raise InvalidInput(
            "Le webhook n'est pas enregistré : corrigez les champs signalés.", errors
        )
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(
        campaign_id=campaign_id,
        url=url,
        events=chosen,
        secret=secret,
        active=True,
        created_by_id=actor.user_id,
        created_at=now or clock.now(),
    )
    session.add(hook)
    session.flush()
    record_security_event(
        session,
        "webhook_enregistre",
        actor=actor,
        client_address=client_address,
        detail=_described(hook),
        now=hook.created_at,
    )
    return hook, secret


def _described(hook: Webhook) -> dict[str, object]:
    """What the security journal says of a webhook: where the events go, not its secret."""
    return {
        "webhook": hook.id,
        "campagne": hook.campaign_id,
        "url": hook.url,
        "evenements": list(hook.events or []),
    }


def deactivate_webhook(
    session: Session,
    webhook_id: int,
    actor: Actor,
    *,
    client_address: str | None = None,
    now: dt.datetime | None = None,
) -> Webhook | None:
    """Stops a webhook: nothing more is queued for it (deliveries already queued still go).
    Journaled once, by whom; stopping a stopped webhook changes nothing."""
    hook = session.get(Webhook, webhook_id)
    if hook is not None and hook.active:
        hook.active = False
        session.flush()
        record_security_event(
            session,
            "webhook_arrete",
            actor=actor,
            client_address=client_address,
            detail=_described(hook),
            now=now,
        )
    return hook


def all_webhooks(session: Session) -> list[Webhook]:
    """Every webhook, newest first."""
    return list(session.scalars(select(Webhook).order_by(Webhook.id.desc())))


def delivery_history(
    session: Session, webhook_id: int, limit: int = HISTORY_SIZE
) -> list[WebhookDelivery]:
    """The webhook's latest deliveries, newest first, with their answer code."""
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )
