"""Error pages in French, whatever went wrong: every HTTP error Werkzeug or a view raises
(not found, forbidden, wrong method, file too large…), an expired form, a change refused
because somebody else changed the dossier first (409), a dossier deleted meanwhile (404),
and, as the last resort, an unexpected error (500, logged with its traceback)."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm.exc import ObjectDeletedError
from werkzeug.exceptions import HTTPException

from web.shared.problems import is_api_request, problem
from workflow.plumbing.errors import ConflictError
from workflow.plumbing.storage import MAX_PDF_LABEL

MESSAGES = {
    400: (
        "Requête invalide",
        "La demande envoyée n'a pas pu être lue. Revenez à la page "
        "précédente, rechargez-la, puis recommencez.",
    ),
    401: ("Connexion requise", "Connectez-vous pour accéder à cette page."),
    403: ("Accès refusé", "Cette page est réservée à un autre type de compte."),
    404: (
        "Page introuvable",
        "La page demandée n'existe pas, ou vous n'y avez pas accès avec ce compte.",
    ),
    405: (
        "Action impossible ici",
        "Cette page ne s'utilise pas de cette façon : passez par ses liens et ses boutons.",
    ),
    409: ("Modifié entre-temps", ConflictError().message),
    413: (
        "Fichier trop volumineux",
        f"Le fichier envoyé dépasse la taille maximale de {MAX_PDF_LABEL}. Réduisez-le (par "
        "exemple en le numérisant en noir et blanc ou à une résolution plus faible), puis "
        "déposez-le à nouveau.",
    ),
    414: ("Adresse trop longue", "L'adresse demandée est trop longue pour être lue."),
    429: (
        "Trop de demandes",
        "Trop de demandes en peu de temps : patientez quelques minutes, puis recommencez.",
    ),
    500: (
        "Erreur inattendue",
        "Une erreur inattendue est survenue ; elle est enregistrée "
        "pour être corrigée. Rien n'a été enregistré de cette dernière action : revenez à "
        "la page précédente et recommencez.",
    ),
}
GENERIC = ("Demande refusée", "La demande n'a pas pu être traitée.")
VANISHED = (
    "Dossier introuvable",
    "Ce dossier a été supprimé entre-temps, ou vous n'y avez plus accès. Revenez à la liste "
    "de vos dossiers.",
)


def page(status: int, title: str | None = None, message: str | None = None):  # type: ignore[no-untyped-def]
    """The French error page for `status` (its usual title and message unless given)."""
    usual_title, usual_message = MESSAGES.get(status, GENERIC)
    return render_template(
        "error.html", title=title or usual_title, message=message or usual_message, status=status
    ), status


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        if is_api_request():
            # An API client reads JSON: the same French message, as problem+json.
            headers = {k: v for k, v in exc.get_response().headers.items() if k != "Content-Type"}
            headers.pop("Content-Length", None)
            return problem(status, MESSAGES.get(status, GENERIC)[1], headers=headers)
        response = exc.get_response()
        html, _ = page(status)
        response.set_data(html)
        # Werkzeug's response keeps its headers (Allow on a 405, Retry-After on a 429).
        response.content_type = "text/html; charset=utf-8"
        return response

    @app.errorhandler(CSRFError)
    def expired_form(exc: CSRFError):  # type: ignore[no-untyped-def]
        message = (
            "Le formulaire a expiré ou n'a pas été envoyé depuis cette application : revenez à "
            "la page précédente, rechargez-la, puis recommencez. Rien n'a été enregistré."
        )
        return page(400, "Formulaire expiré", message)

    @app.errorhandler(ConflictError)
    def conflict(exc: ConflictError):  # type: ignore[no-untyped-def]
        # A lost race that the view did not turn into its own page: nothing was written.
        return page(409, message=exc.message)

    @app.errorhandler(ObjectDeletedError)
    def vanished(exc: ObjectDeletedError):  # type: ignore[no-untyped-def]
        # The row was deleted by another request after this one read it (a « Supprimer »
        # racing an « Enregistrer »): the page cannot be rebuilt from it.
        return page(404, *VANISHED)
