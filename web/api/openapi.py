"""What the OpenAPI document says of the API as a whole, and the problem+json answer to a
request its pydantic models refuse."""

from __future__ import annotations

from flask import Response
from flask_openapi3 import Info
from pydantic import BaseModel, ValidationError

from web.shared.problems import problem

INFO = Info(
    title="postes-partages",
    version="1",
    description="Campagnes et dossiers des appels à candidatures des ARS. Jeton : "
    "`Authorization: Bearer pp_…` ; erreurs en problem+json, `detail` en français.",
)
SECURITY_SCHEMES = {"jeton": {"type": "http", "scheme": "bearer"}}


class ValidationProblem(BaseModel):
    """A request refused by its schema: problem+json with the fields in error."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: dict[str, str]


VERSION_REQUIRED = (
    "Indiquez la version du dossier lue dans l'en-tête If-Match : un changement fait "
    "entre-temps par quelqu'un d'autre ne sera pas écrasé."
)


def validation_problem(error: ValidationError) -> Response:
    """The French problem+json of a request that its model refuses (422); a write without
    its If-Match header is a 428 (RFC 6585), which says what to send."""
    if any(e["type"] == "missing" and e["loc"] == ("If-Match",) for e in error.errors()):
        return problem(428, VERSION_REQUIRED)
    errors = {
        ".".join(str(part) for part in e["loc"]) or "corps": _french(e["type"])
        for e in error.errors()
    }
    return problem(
        422, "La demande ne respecte pas le format attendu : voir `errors`.", errors=errors
    )


def _french(kind: str) -> str:
    return {
        "missing": "Obligatoire.",
        "extra_forbidden": "Champ inconnu.",
        "literal_error": "Valeur non prévue.",
        "int_parsing": "Nombre entier attendu.",
        "string_too_long": "Trop long.",
        "date_from_datetime_parsing": "Date attendue (AAAA-MM-JJ).",
        "datetime_from_date_parsing": "Instant attendu (ISO 8601).",
    }.get(kind, "Valeur invalide.")
