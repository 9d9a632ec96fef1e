"""The app's configuration: production by default, development only when asked for.

Development mode (`POSTES_PARTAGES_ENV=development`, which `make run` sets) keeps its secret
key in `instance/secret_key` and serves the development pages; anywhere else the service
refuses to start without a strong `SECRET_KEY`, since that key signs the session cookies,
the avis links and the account links.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from workflow.plumbing.db import ROOT
from workflow.plumbing.storage import MAX_PDF_BYTES

log = logging.getLogger(__name__)

MODE_VARIABLE = "POSTES_PARTAGES_ENV"
DEVELOPMENT = "development"
MIN_SECRET_LENGTH = 32
# Fewer different characters than this is a typed pattern ("aaaa…", "1234…"), not a secret.
MIN_DISTINCT_CHARACTERS = 12
# Keys published in this repository's history or in tutorials: whoever knows one forges links.
KNOWN_DEFAULTS = frozenset(
    {"dev-only-secret-change-me", "change-me", "changeme", "secret", "dev", "development"}
)
GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


class ConfigurationError(RuntimeError):
    """The service cannot start as configured; the message tells the operator what to do."""


def development_mode(environ: Mapping[str, str] = os.environ) -> bool:
    """True only when the environment explicitly asks for development mode."""
    return environ.get(MODE_VARIABLE, "").strip().lower() == DEVELOPMENT


def check_secret_key(key: str | None) -> str:
    """The key if it is strong enough to sign links; a ConfigurationError otherwise."""
    if not key:
        raise ConfigurationError(
            "SECRET_KEY is not set. Outside development mode "
            f"({MODE_VARIABLE}={DEVELOPMENT}) the service needs a secret key of at least "
            f"{MIN_SECRET_LENGTH} characters; generate one with: {GENERATE}"
        )
    stripped = key.strip()
    if (
        stripped in KNOWN_DEFAULTS
        or len(stripped) < MIN_SECRET_LENGTH
        or len(set(stripped)) < MIN_DISTINCT_CHARACTERS
    ):
        raise ConfigurationError(
            f"SECRET_KEY is too weak: it must have at least {MIN_SECRET_LENGTH} varied characters "
            f"and not be a published default; generate one with: {GENERATE}"
        )
    return key


def check_throttling_storage(config: Mapping[str, Any]) -> None:
    """In production the throttling counts need a storage chosen by the operator: per-process
    memory lets each gunicorn worker and host count apart (4 workers, 4 times the limit).
    `memory://` is accepted when written out, for a single-process deployment."""
    if not config.get("RATELIMIT_STORAGE_URI") and not config.get("TESTING"):
        raise ConfigurationError(
            "RATELIMIT_STORAGE_URI is not set. Outside development mode the sign-in and "
            "password-reset limits need a storage shared by every worker and host, e.g. "
            "RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 (or memory:// for a single process)"
        )


def proconnect_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """PROCONNECT_ISSUER (the provider's issuer: its discovery document is under
    /.well-known/openid-configuration), PROCONNECT_CLIENT_ID, PROCONNECT_CLIENT_SECRET,
    PROCONNECT_SIRETS (the ARS's establishments, comma-separated: an agent of another
    organisation is refused), PROCONNECT_REDIRECT_URI and PROCONNECT_POST_LOGOUT_URI
    (default: under BASE_URL), PROCONNECT_SCOPES."""
    return {
        "PROCONNECT_ISSUER": environ.get("PROCONNECT_ISSUER") or None,
        "PROCONNECT_CLIENT_ID": environ.get("PROCONNECT_CLIENT_ID") or None,
        "PROCONNECT_CLIENT_SECRET": environ.get("PROCONNECT_CLIENT_SECRET") or None,
        "PROCONNECT_SIRETS": environ.get("PROCONNECT_SIRETS") or "",
        "PROCONNECT_REDIRECT_URI": environ.get("PROCONNECT_REDIRECT_URI") or None,
        "PROCONNECT_POST_LOGOUT_URI": environ.get("PROCONNECT_POST_LOGOUT_URI") or None,
        # Assumption: ProConnect's scopes for an address, a name and the organisation's SIRET.
        "PROCONNECT_SCOPES": environ.get("PROCONNECT_SCOPES")
        or "openid email given_name usual_name siret",
    }


def check_proconnect(config: Mapping[str, Any]) -> None:
    """ProConnect, when configured in production, has all it needs and an https issuer
    (an http one would let anyone on the path forge identities), loopback excepted."""
    issuer = config.get("PROCONNECT_ISSUER")
    if not issuer:
        return
    missing = [
        name
        for name in ("PROCONNECT_CLIENT_ID", "PROCONNECT_CLIENT_SECRET", "PROCONNECT_SIRETS")
        if not config.get(name)
    ]
    if missing:
        raise ConfigurationError(
            f"PROCONNECT_ISSUER is set but {', '.join(missing)} is not: set them, or unset "
            "PROCONNECT_ISSUER to turn ProConnect off"
        )
    host = urlsplit(str(issuer)).hostname or ""
    # Plain http only to a provider on this very machine (a test's, on loopback): nothing
    # travels over a network there.
    loopback = host == "localhost" or host == "::1" or host.startswith("127.")
    if not str(issuer).startswith("https://") and not loopback:
        raise ConfigurationError(
            f"PROCONNECT_ISSUER must be an https:// address in production (got {issuer})"
        )


def development_secret_key(instance_path: str | Path) -> str:
    """The key of this checkout's development instance: made once, then reused, so that
    sessions and links survive a restart of `make run`."""
    path = Path(instance_path) / "secret_key"
    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created 0600 from the start: never readable by another user, not even for an instant.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(key + "\n")
    return key


def secret_key_from_environment(
    instance_path: str | Path, environ: Mapping[str, str] = os.environ
) -> str:
    """The secret key for a process outside Flask (the scheduler): the environment's, which
    must be strong, or in development mode the instance's."""
    if development_mode(environ):
        return environ.get("SECRET_KEY") or development_secret_key(instance_path)
    return check_secret_key(environ.get("SECRET_KEY"))


def configure(app: Flask, test_config: Mapping[str, Any] | None = None) -> None:
    """Fills `app.config` from the environment, then `test_config`; refuses to go on in
    production without a strong SECRET_KEY. `DEVELOPMENT` in the config says the mode."""
    overrides = dict(test_config or {})
    overrides.pop("INSTANCE_PATH", None)  # given to Flask itself, see create_app
    development = bool(overrides.pop("DEVELOPMENT", development_mode()))
    app.config.from_mapping(
        DEVELOPMENT=development,
        SECRET_KEY=os.environ.get("SECRET_KEY"),
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        BASE_URL=os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        SMTP_URL=os.environ.get("SMTP_URL"),
        UPLOAD_DIR=os.environ.get("UPLOAD_DIR") or os.path.join(app.instance_path, "uploads"),
        # Where pieces and exports are stored: s3://bucket/prefix?endpoint_url=… shared by
        # every host, or a folder (UPLOAD_DIR by default, see below).
        STORAGE_URL=os.environ.get("STORAGE_URL"),
        # A campaign of at most this many deposited dossiers is exported within the request;
        # a larger one by the export worker (a web worker never builds a large file).
        EXPORT_DIRECT_MAX=int(os.environ.get("EXPORT_DIRECT_MAX") or 500),
        # The ZIP of the pieces weighs megabytes per dossier: a lower limit.
        EXPORT_DIRECT_MAX_ZIP=int(os.environ.get("EXPORT_DIRECT_MAX_ZIP") or 50),
        CAMPAIGNS_DIR=os.environ.get("CAMPAIGNS_DIR") or str(ROOT / "campaigns"),
        # Where the throttling counts live (redis://… shared by every worker and host), and how
        # many reverse proxies in front may be believed about the client's address.
        RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI"),
        PROXY_COUNT=int(os.environ.get("PROXY_COUNT") or 0),
        # One PDF of at most 10 Mo plus the rest of the form; beyond it, a French 413 page.
        MAX_CONTENT_LENGTH=MAX_PDF_BYTES + 256 * 1024,
        # ProConnect for the ARS's agents (web/shared/proconnect.py); off while unset.
        **proconnect_settings(os.environ),
    )
    app.config.update(overrides)
    if not app.config["STORAGE_URL"]:
        app.config["STORAGE_URL"] = app.config["UPLOAD_DIR"]
    if development:
        if not app.config["SECRET_KEY"]:
            app.config["SECRET_KEY"] = development_secret_key(app.instance_path)
    else:
        check_secret_key(app.config["SECRET_KEY"])
        check_throttling_storage(app.config)
        check_proconnect(app.config)
        if not app.config["SMTP_URL"]:
            log.warning(
                "SMTP_URL is not set: mails stay queued in the outbox table and none is sent"
            )
