"""A small OpenID Connect provider for the tests, standing in for ProConnect on loopback:
discovery, authorization code with PKCE (S256), nonce and state, ID tokens signed with an
RSA key made at start, a userinfo endpoint answering a signed JWT (as ProConnect does), and
logout through end_session_endpoint. Built on joserfc (Authlib's JOSE library).

It signs in whoever the test names (`identity`), without a login page, and can misbehave on
request (`fault`): a tampered ID token, one for another audience, or an expired one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "postes-partages-test"
CLIENT_SECRET = "secret-du-client-de-test-0123456789"
# The SIRET of the ARS in the tests (a made-up one with a valid Luhn key).
ARS_SIRET = "13002922100016"


@dataclass
class Identity:
    """Who the provider says signs in."""

    email: str
    siret: str = ARS_SIRET
    given_name: str = "Camille"
    usual_name: str = "Agent"
    sub: str = field(default_factory=lambda: secrets.token_hex(8))


class Provider:
    """The provider served on 127.0.0.1 (a port of its own) in a thread."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(
            2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True
        )
        self.key_id = self.key.kid
        self.identity: Identity | None = None
        self.fault: str | None = None  # "tampered", "wrong_audience", "expired"
        self.redirect_uris: set[str] = set()
        self.codes: dict[str, dict[str, Any]] = {}
        self.authorizations: list[dict[str, str]] = []
        self.logouts: list[dict[str, str]] = []
        self.app = self._build()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Provider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)

    def _sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "kid": self.key_id}
        return jwt.encode(header, claims, self.key)

    def _id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time())
        identity: Identity = grant["identity"]
        claims = {
            "iss": self.issuer,
            "sub": identity.sub,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 60,
            "nonce": grant["nonce"],
            "acr": "eidas1",
            "azp": CLIENT_ID,
        }
        if self.fault == "wrong_audience":
            claims["aud"] = "un-autre-service"
        if self.fault == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        token = self._sign(claims)
        if self.fault == "tampered":
            # Another subject in the payload, the signature of the original left in place.
            head, _, signature = token.split(".")
            forged = dict(claims, sub="quelqu-un-d-autre")
            payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=")
            token = f"{head}.{payload.decode()}.{signature}"
        return token

    def _build(self) -> Flask:
        app = Flask("oidc_provider")

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                issuer=self.issuer,
                authorization_endpoint=f"{self.issuer}/authorize",
                token_endpoint=f"{self.issuer}/token",
                userinfo_endpoint=f"{self.issuer}/userinfo",
                jwks_uri=f"{self.issuer}/jwks",
                end_session_endpoint=f"{self.issuer}/session/end",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                userinfo_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
                scopes_supported=["openid", "email", "given_name", "usual_name", "siret"],
            )

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(KeySet([self.key]).as_dict(private=False))

        @app.get("/authorize")
        def authorize() -> Any:
            args = request.args.to_dict()
            self.authorizations.append(args)
            if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
                abort(400)
            if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
                abort(400)
            if not args.get("nonce") or not args.get("state") or self.identity is None:
                abort(400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "identity": self.identity,
                "nonce": args["nonce"],
                "challenge": args["code_challenge"],
                "redirect_uri": args["redirect_uri"],
            }
            target = args["redirect_uri"] + "?" + urlencode({"code": code, "state": args["state"]})
            return redirect(target)

        @app.post("/token")
        def token() -> Any:
            form = request.form
            client_id, secret = form.get("client_id"), form.get("client_secret")
            if request.authorization is not None:
                client_id = request.authorization.username
                secret = request.authorization.password
            if client_id != CLIENT_ID or secret != CLIENT_SECRET:
                return jsonify(error="invalid_client"), 401
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
                return jsonify(error="invalid_grant"), 400
            verifier = form.get("code_verifier", "").encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if digest.decode() != grant["challenge"]:
                return jsonify(error="invalid_grant", error_description="PKCE"), 400
            access = secrets.token_urlsafe(24)
            self.codes["access:" + access] = grant
            return jsonify(
                access_token=access,
                token_type="Bearer",
                expires_in=60,
                scope="openid email given_name usual_name siret",
                id_token=self._id_token(grant),
            )

        @app.get("/userinfo")
        def userinfo() -> Any:
            header = request.headers.get("Authorization", "")
            grant = self.codes.get("access:" + header.removeprefix("Bearer "))
            if grant is None:
                abort(401)
            identity: Identity = grant["identity"]
            body = self._sign(
                {
                    "iss": self.issuer,
                    "aud": CLIENT_ID,
                    "sub": identity.sub,
                    "email": identity.email,
                    "given_name": identity.given_name,
                    "usual_name": identity.usual_name,
                    "siret": identity.siret,
                }
            )
            return body, 200, {"Content-Type": "application/jwt"}

        @app.get("/session/end")
        def end_session() -> Any:
            args = request.args.to_dict()
            self.logouts.append(args)
            target = args["post_logout_redirect_uri"] + "?" + urlencode({"state": args["state"]})
            return redirect(target)

        return app
