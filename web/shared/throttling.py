"""Throttling: how often a client address, and how often anyone for one target account, may
sign in, ask a new password, create an account, answer an avis link or send an invitation.

`limits` holds the storage and the strategy (moving window: exact counts, so that two
gunicorn workers or two hosts together allow no more than the limit). Flask-Limiter, built
on it, is not used: its hooks look on every request for route limits this app never
declares, a cost the deadline rush pays on each « Enregistrer ». The views call
`spend` before the work they guard (an attempt counts even when it is answered in
parallel elsewhere: the storage's hit is atomic), and sign-in calls `forgive` after a right
password, so that only failures accumulate on an account. A refusal is a `Throttled` (429)
answered by a French page that says how long to wait, with a `Retry-After` header, and is
logged by `report_throttled`, the one place that records it.

The storage is `RATELIMIT_STORAGE_URI` (`redis://hôte:6379/0` in production). Without it
the counts live in the process's memory: right for tests and development, wrong behind
several workers, so a production app without it says so loudly in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, current_app, g, render_template, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter, RateLimiter
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from web.shared.db import db_session
from web.shared.sign_in import journal
from workflow.people.accounts import user_by_email
from workflow.plumbing.db import transaction

security_log = logging.getLogger("postes_partages.security")

# Per client address and per target account, in the notation of `limits` ("5 per 15
# minutes", several separated by ";"). Chosen so that a real person never meets them: a
# Bureau des Affaires Médicales signs in a few times a day, asks a new password once, fills
# the account form once or twice, and an avis giver answers once. Overridden as a whole or
# rule by rule with the app's THROTTLE_LIMITS.
LIMITS: dict[str, tuple[str, str]] = {
    # Failures on one account since its last right password: the lock. Per address, every
    # attempt counts (a success cannot be taken back atomically across workers); a hospital
    # behind one NAT does not sign in 20 times a minute.
    "connexion": ("20 per minute; 200 per hour", "5 per 15 minutes"),
    # Every request counts: each one mails the account's owner.
    "mot_de_passe_oublie": ("10 per hour", "3 per hour; 10 per day"),
    # « Recevoir un nouveau lien de confirmation »: the same, for the same reason.
    "renvoi_confirmation": ("10 per hour", "3 per hour; 10 per day"),
    # Per address every form sent (a person correcting a FINESS sends it a few times); per
    # address typed only the forms that send a mail (a confirmation, or a warning to the
    # owner of an address already in use).
    "creation_compte": ("20 per hour", "3 per hour; 10 per day"),
    # Per link (its token) and per address, every answer sent.
    "avis": ("30 per hour", "10 per hour"),
    # The partner's co-signature through its link: per link and per address, forms sent.
    "cosignature": ("30 per hour", "10 per hour"),
    # Per inviting address every form sent; per invited address the invitations sent.
    "invitation_collegue": ("30 per hour", "3 per hour; 10 per day"),
    "invitation_instructeur": ("30 per hour", "3 per hour; 10 per day"),
    # « Avis et signatures »: per déposant's address every invitation or reminder sent (eight
    # annexes per ASR dossier, several dossiers an afternoon); per giver's address the mails.
    "invitation_avis": ("120 per hour", "5 per hour; 20 per day"),
    # Per API token, every call (the API counts no address, `client=False`: a data team's
    # tools share one); a script reading thousands of dossiers page by page stays under it.
    "api": ("600 per minute", "300 per minute; 10000 per hour"),
}
# What the log calls each rule's route.
ROUTES = {
    "connexion": "/connexion",
    "mot_de_passe_oublie": "/compte/mot-de-passe-oublie",
    "renvoi_confirmation": "/compte/confirmation/renvoyer",
    "creation_compte": "/compte/creation",
    "avis": "/avis/<token>",
    "cosignature": "/partenaire/<token>",
    "invitation_collegue": "/compte/invitations",
    "invitation_instructeur": "/admin/instructeurs",
    "invitation_avis": "/dossiers/<id>/avis",
    "api": "/api/v1",
}


class Throttled(TooManyRequests):
    """Too many attempts: the French message says how long to wait, in `retry_after`
    seconds."""

    retry_after: int

    def __init__(self, retry_after: int):
        self.message = f"Trop de tentatives. Réessayez dans {wait_text(retry_after)}."
        super().__init__(self.message, retry_after=retry_after)


def wait_text(seconds: int) -> str:
    """A wait in French words, rounded up: « 45 secondes », « 12 minutes », « 3 heures »."""
    if seconds < 60:
        return f"{seconds} seconde" + ("s" if seconds > 1 else "")
    if seconds <= 90 * 60:
        minutes = math.ceil(seconds / 60)
        return f"{minutes} minute" + ("s" if minutes > 1 else "")
    hours = math.ceil(seconds / 3600)
    return f"{hours} heures"


@dataclass(frozen=True)
class _Rule:
    per_client: list[RateLimitItem]
    per_account: list[RateLimitItem]


def _rules(app: Flask) -> dict[str, _Rule]:
    configured = {**LIMITS, **app.config.get("THROTTLE_LIMITS", {})}
    return {
        name: _Rule(parse_many(client), parse_many(account))
        for name, (client, account) in configured.items()
    }


def client_address() -> str:
    """The client's address as the limits count it: an IPv6 client by its /64 network (one
    subscriber holds the whole of it)."""
    raw = request.remote_addr or "inconnue"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def account_key(account: str) -> str:
    """The target account as stored in the counters: the address typed (or the link's
    token), normalised and hashed with the secret key, never in clear."""
    normalised = account.strip().lower().encode()
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, normalised, hashlib.sha256).hexdigest()[:32]


def masked(account: str) -> str:
    """An address for the log: its first letter and its domain (« b***@ch-gonesse.fr »)."""
    local, at, domain = account.strip().lower().partition("@")
    if not at:
        return f"{local[:1]}***" if local else "(vide)"
    return f"{local[:1]}***@{domain}"


def report_throttled(rule: str, client: str, account: str | None, retry_after: int) -> None:
    """The one log point of a throttled or locked answer. It also goes into the security
    journal, written once the request's own transaction is over (a refusal inside it rolls
    that transaction back, and a second connection would wait on SQLite's write lock)."""
    g.setdefault("throttled", []).append((rule, account, retry_after))
    security_log.warning(
        "throttled route=%s rule=%s client=%s account=%s account_hash=%s retry_after=%ss",
        ROUTES.get(rule, request.path),
        rule,
        client,
        masked(account) if account is not None else "-",
        account_key(account)[:12] if account is not None else "-",
        retry_after,
    )


def _limiter() -> RateLimiter | None:
    return current_app.extensions.get("throttling")


def _identifiers(rule: str, side: str, value: str) -> tuple[str, ...]:
    return (current_app.config["RATELIMIT_KEY_PREFIX"], rule, side, value)


def _targets(rule: str, account: str | None, client: bool) -> list[tuple[RateLimitItem, tuple]]:
    rules: dict[str, _Rule] = current_app.extensions["throttling_rules"]
    targets: list[tuple[RateLimitItem, tuple]] = []
    if client:
        ids = _identifiers(rule, "client", client_address())
        targets += [(item, ids) for item in rules[rule].per_client]
    if account is not None:
        ids = _identifiers(rule, "compte", account_key(account))
        targets += [(item, ids) for item in rules[rule].per_account]
    return targets


def spend(rule: str, account: str | None = None, *, client: bool = True) -> None:
    """Counts one attempt of `rule` for the client address (unless `client` is False) and for
    the target `account` (an address or a token, when given); raises Throttled, logged, when
    one of their limits is already used up. A refused attempt is not counted, so hammering a
    lock does not lengthen it. If the storage cannot be reached the attempt passes and the
    failure is logged: a Redis outage must not lock everyone out."""
    limiter = _limiter()
    if limiter is None:
        return
    refused: list[tuple[RateLimitItem, tuple]] = []
    try:
        for item, ids in _targets(rule, account, client):
            if not limiter.hit(item, *ids):
                refused.append((item, ids))
        waits = [
            limiter.get_window_stats(item, *ids).reset_time - time.time() for item, ids in refused
        ]
    except Exception:  # noqa: BLE001 - any storage failure: let the attempt through, loudly
        security_log.exception("rate-limit storage unreachable: %s not throttled", rule)
        return
    if refused:
        retry_after = max(1, math.ceil(max(waits)))
        report_throttled(rule, client_address(), account, retry_after)
        raise Throttled(retry_after)


def forgive(rule: str, account: str) -> None:
    """Forgets the failures counted on `account` (a right password was given)."""
    limiter = _limiter()
    if limiter is None:
        return
    try:
        for item, ids in _targets(rule, account, client=False):
            limiter.clear(item, *ids)
    except Exception:  # noqa: BLE001 - a counter left behind only delays, never breaks
        security_log.exception("rate-limit storage unreachable: %s not cleared", rule)


def answer(refused: Throttled, page: str) -> tuple[str, int, dict[str, str]]:
    """A view's own page (its form still filled) answered as a 429 with `Retry-After`."""
    return page, 429, {"Retry-After": str(refused.retry_after)}


def init_app(app: Flask) -> None:
    """The limiter on the configured storage, the client address behind PROXY_COUNT trusted
    reverse proxies (X-Forwarded-For is read only then), and the French 429 page."""
    storage = app.config.get("RATELIMIT_STORAGE_URI")
    if not storage:
        if not app.testing:
            security_log.warning(
                "RATELIMIT_STORAGE_URI is not set: rate limits are counted in this process's "
                "memory only, so each gunicorn worker and host counts apart. Set it to "
                "redis://host:6379/0 in production."
            )
        storage = "memory://"
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "postes-partages")
    app.config.setdefault("RATELIMIT_ENABLED", True)
    if app.config["RATELIMIT_ENABLED"]:
        app.extensions["throttling"] = MovingWindowRateLimiter(storage_from_string(storage))
    app.extensions["throttling_rules"] = _rules(app)
    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    @app.after_request
    def journal_throttled(response):  # type: ignore[no-untyped-def]
        if g.get("throttled"):
            _journal(g.pop("throttled"))
        return response

    @app.errorhandler(Throttled)
    def throttled(refused: Throttled):  # type: ignore[no-untyped-def]
        page = render_template(
            "error.html", title="Trop de tentatives", message=refused.message, status=429
        )
        return answer(refused, page)


def _journal(refusals: list[tuple[str, str | None, int]]) -> None:
    s = db_session()
    try:
        with transaction(s):
            for rule, account, retry_after in refusals:
                typed = (account or "").strip()
                user = user_by_email(s, typed) if typed else None
                detail = {"regle": rule, "attente_secondes": retry_after}
                journal("acces_limite", user, email=typed or None, detail=detail)
    except Exception:  # the answer is already decided: a journal failure must not change it
        security_log.exception("the throttled answers could not be journaled")
