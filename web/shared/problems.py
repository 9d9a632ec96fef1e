"""JSON errors of the API (RFC 9457 « problem details »): `application/problem+json` with a
French `detail`, for every error under /api — an API client never gets an HTML page."""

from __future__ import annotations

from typing import Any

from flask import Response, json, request

PROBLEM_TYPE = "application/problem+json"
TITLES = {
    400: "Requête invalide",
    401: "Jeton requis",
    403: "Action refusée",
    404: "Introuvable",
    405: "Méthode non permise",
    409: "Modifié entre-temps",
    412: "Version périmée",
    413: "Contenu trop volumineux",
    415: "Type de contenu non pris en charge",
    422: "Refusé",
    428: "Version requise",
    429: "Trop de demandes",
    500: "Erreur inattendue",
}


def is_api_request() -> bool:
    """Whether the request is addressed to the API (its errors are problem+json)."""
    return request.path == "/api" or request.path.startswith("/api/")


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A problem+json response."""
    body = {
        "type": "about:blank",
        "title": title or TITLES.get(status, "Erreur"),
        "status": status,
        "detail": detail,
        **extra,
    }
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
