"""The headers every response carries: a Content-Security-Policy under which no injected
script runs (every script is a file of this site), no framing, no sniffing, referrers kept
on this site, HSTS over HTTPS, and no `Server` banner naming the software."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, request
from flask.typing import ResponseReturnValue
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Response

POLICY: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # The DSFR's stylesheet draws a few of its marks as data: SVG images.
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "frame-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Features no page uses; only names Chromium knows, so that it logs no warning.
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"
CSP = "Content-Security-Policy"


def content_security_policy(**changes: str) -> str:
    """The policy as a header value; `changes` replace directives (`style_src=...`)."""
    directives = {**POLICY, **{k.replace("_", "-"): v for k, v in changes.items()}}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def inline_styles_allowed(view: Callable[..., Any]) -> Callable[..., Any]:
    """For a page whose drawing library writes `<style>` elements and style attributes
    (Mermaid's SVG): styles may be inline there, scripts stay files of this site."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        g.inline_styles = True
        return view(*args, **kwargs)

    return wrapped


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler without its `Server: Werkzeug/… Python/…` header."""

    def send_response(self, code: int, message: str | None = None) -> None:
        # BaseHTTPRequestHandler.send_response, less the Server line.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())


def init_app(app: Flask) -> None:
    """Adds the headers to every response the app makes (a view may set its own CSP, as the
    sandboxed mail preview of /dev does)."""
    https = str(app.config.get("BASE_URL", "")).startswith("https://")
    # « S'identifier avec ProConnect » and « Se déconnecter » are forms whose answer redirects
    # to the provider: form-action must let those redirects go there, and nowhere else.
    forms = "'self'"
    issuer = app.config.get("PROCONNECT_ISSUER")
    if issuer:
        parts = urlsplit(str(issuer))
        forms += f" {parts.scheme}://{parts.netloc}"

    # Written once: they depend on the configuration alone, and every response carries one.
    policy = content_security_policy(form_action=forms)
    inline_policy = content_security_policy(style_src="'self' 'unsafe-inline'", form_action=forms)
    common = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        # Links from mails carry tokens in their path: never send them to another site.
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", PERMISSIONS),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    defaults = {
        inline: [(name.lower(), name, value) for name, value in [(CSP, csp), *common]]
        for inline, csp in ((False, policy), (True, inline_policy))
    }
    hsts = ("strict-transport-security", "Strict-Transport-Security", HSTS)
    no_store = ("cache-control", "Cache-Control", "no-store")

    @app.after_request
    def protective_headers(response: Response) -> Response:
        # What `headers.setdefault` does for each, in one pass over the response's headers:
        # each setdefault scanned them all and raised a KeyError for a missing one: about
        # 4 % of the CPU of a volet's save (profiled).
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        wanted = defaults[bool(getattr(g, "inline_styles", False))]
        if https or request.is_secure:
            wanted = [*wanted, hsts]
        if request.endpoint and not request.endpoint.startswith(("static", "dsfr.")):
            wanted = [*wanted, no_store]
        for lowered, name, value in wanted:
            if lowered not in present:
                headers.add(name, value)
        if "server" in present:
            del headers["Server"]
        return response
