"""The ProConnect client (OpenID Connect, Authlib's Flask client), present only where the
deployment configures PROCONNECT_ISSUER.

The flow: discovery (the issuer's /.well-known/openid-configuration), authorization code
with PKCE (S256); the state, the nonce and the PKCE verifier are kept by Authlib in the
signed session cookie between the two requests, and the callback checks them. The ID
token's signature (the provider's published keys), issuer, audience, expiry and nonce are
checked by Authlib; then the userinfo endpoint gives the address and the SIRET (ProConnect
answers with a signed JWT, whose signature and subject are checked here too). Logout goes
through the provider's end_session_endpoint with the ID token as hint.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, session
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from requests import RequestException
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)
NAME = "proconnect"
ID_TOKEN = "proconnect_id_token"
LOGOUT_STATE = "proconnect_logout_state"
CALLBACK_PATH = "/connexion/proconnect/retour"
LOGOUT_PATH = "/deconnexion/proconnect"
# Algorithms a ProConnect token may be signed with; never "none", never a shared secret.
ALGORITHMS = ["RS256", "ES256"]


class ProConnectFailed(Exception):
    """The provider's answer cannot be trusted (tampered, expired, for another client,
    state or nonce not ours) or could not be had; `reason` is for the security journal."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def enabled(app: Flask | None = None) -> bool:
    """Whether ProConnect is configured here."""
    config = (app or current_app).config
    return bool(config.get("PROCONNECT_ISSUER"))


def init_app(app: Flask) -> None:
    """Registers the client when PROCONNECT_ISSUER is set."""
    if not enabled(app):
        return
    oauth = OAuth(app)
    issuer = app.config["PROCONNECT_ISSUER"].rstrip("/")
    oauth.register(
        NAME,
        client_id=app.config["PROCONNECT_CLIENT_ID"],
        client_secret=app.config["PROCONNECT_CLIENT_SECRET"],
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": app.config["PROCONNECT_SCOPES"],
            "code_challenge_method": "S256",
            "timeout": 10,
        },
    )
    app.extensions["proconnect"] = oauth


def _client() -> Any:
    return current_app.extensions["proconnect"].create_client(NAME)


def ars_sirets() -> list[str]:
    """The SIRETs of the ARS's establishments whose agents may sign in."""
    return [s.strip() for s in current_app.config["PROCONNECT_SIRETS"].split(",") if s.strip()]


def _external(setting: str, path: str) -> str:
    return current_app.config.get(setting) or current_app.config["BASE_URL"].rstrip("/") + path


def start() -> Response:
    """The redirect to ProConnect's authorization endpoint (state, nonce and PKCE kept)."""
    try:
        return _client().authorize_redirect(
            _external("PROCONNECT_REDIRECT_URI", CALLBACK_PATH), nonce=secrets.token_urlsafe(24)
        )
    except (AuthlibBaseError, RequestException, ValueError, KeyError) as exc:
        raise ProConnectFailed(f"fournisseur injoignable ({type(exc).__name__})") from exc


def finish() -> dict[str, Any]:
    """The checked claims of the identity coming back (the ID token's, completed by the
    userinfo endpoint); ProConnectFailed when anything does not hold."""
    client = _client()
    config = current_app.config
    # Authlib checks the audience only when told which one: without this, a token that
    # another service obtained from the provider (with our id as `azp`) would pass.
    options = {
        "iss": {"essential": True, "values": [config["PROCONNECT_ISSUER"].rstrip("/")]},
        "aud": {"essential": True, "values": [config["PROCONNECT_CLIENT_ID"]]},
    }
    try:
        token = client.authorize_access_token(claims_options=options)
    except (AuthlibBaseError, JoseError, RequestException, ValueError, KeyError) as exc:
        log.warning("ProConnect answer refused: %r", exc)
        raise ProConnectFailed(_why(exc)) from exc
    claims = dict(token.get("userinfo") or {})
    if not claims.get("sub"):
        raise ProConnectFailed("jeton d'identité absent")
    claims.update(_userinfo(client, token, claims["sub"]))
    session[ID_TOKEN] = token["id_token"]
    return claims


def _why(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc).lower()
    claim = getattr(exc, "claim", None)
    if claim in ("aud", "azp"):
        return "jeton d'identité destiné à un autre service (aud)"
    if claim == "iss":
        return "émetteur du jeton d'identité inattendu (iss)"
    if claim == "nonce":
        return "nonce du jeton d'identité invalide"
    if "state" in name.lower() or "state" in text:
        return "état (state) inconnu ou déjà utilisé"
    if "expired" in name.lower() or "expired" in text or getattr(exc, "claim", "") == "exp":
        return "jeton d'identité expiré"
    if "aud" in text:
        return "jeton d'identité destiné à un autre service (aud)"
    if "signature" in name.lower() or "signature" in text:
        return "signature du jeton d'identité invalide"
    if "nonce" in text:
        return "nonce du jeton d'identité invalide"
    if "iss" in text:
        return "émetteur du jeton d'identité inattendu (iss)"
    return f"réponse du fournisseur refusée ({name})"


def _userinfo(client: Any, token: dict[str, Any], subject: str) -> dict[str, Any]:
    metadata = client.load_server_metadata()
    try:
        # Straight away with the new access token: Authlib's own check would count a token
        # of ProConnect's short life (60 s) as expired already, within its minute of leeway.
        response = requests.get(
            metadata["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        )
        response.raise_for_status()
    except (AuthlibBaseError, RequestException, KeyError) as exc:
        raise ProConnectFailed(
            f"informations de l'agent indisponibles ({type(exc).__name__})"
        ) from exc
    # Assumption: ProConnect answers userinfo as a JWT signed with its ID-token keys
    # (application/jwt), carrying `email` and the organisation's `siret`; a plain JSON
    # answer is read too.
    if response.headers.get("Content-Type", "").split(";")[0].strip() == "application/jwt":
        try:
            keys = KeySet.import_key_set(client.fetch_jwk_set())
            claims = dict(jwt.decode(response.text, keys, algorithms=ALGORITHMS).claims)
        except (JoseError, ValueError) as exc:
            raise ProConnectFailed("signature des informations de l'agent invalide") from exc
    else:
        claims = response.json()
    if claims.get("sub") != subject:
        raise ProConnectFailed("informations d'un autre agent que celui du jeton")
    return claims


def logout_url() -> str | None:
    """Where to send the browser to end the ProConnect session too (None without one)."""
    id_token = session.pop(ID_TOKEN, None)
    if id_token is None or not enabled():
        return None
    try:
        endpoint = _client().load_server_metadata().get("end_session_endpoint")
    except (AuthlibBaseError, RequestException, ValueError):
        return None
    if not endpoint:
        return None
    state = secrets.token_urlsafe(16)
    session[LOGOUT_STATE] = state
    query = urlencode(
        {
            "id_token_hint": id_token,
            "state": state,
            "post_logout_redirect_uri": _external("PROCONNECT_POST_LOGOUT_URI", LOGOUT_PATH),
        }
    )
    return f"{endpoint}?{query}"
