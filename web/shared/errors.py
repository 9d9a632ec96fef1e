"""Error pages in French: not found, forbidden, file too large, expired form."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from workflow.plumbing.storage import MAX_PDF_LABEL

MESSAGES = {
    403: ("Accès refusé", "Cette page est réservée à un autre type de compte."),
    404: (
        "Page introuvable",
        "La page demandée n'existe pas, ou vous n'y avez pas accès avec ce compte.",
    ),
    413: (
        "Fichier trop volumineux",
        f"Le fichier envoyé dépasse la taille maximale de {MAX_PDF_LABEL}. Réduisez-le (par "
        "exemple en le numérisant en noir et blanc ou à une résolution plus faible), puis "
        "déposez-le à nouveau.",
    ),
}


def init_app(app: Flask) -> None:
    def page(status: int):  # type: ignore[no-untyped-def]
        title, message = MESSAGES[status]
        return render_template("error.html", title=title, message=message, status=status), status

    for status in MESSAGES:
        app.register_error_handler(status, lambda exc, status=status: page(status))

    @app.errorhandler(CSRFError)
    def expired_form(exc: CSRFError):  # type: ignore[no-untyped-def]
        message = (
            "Le formulaire a expiré ou n'a pas été envoyé depuis cette application : revenez à "
            "la page précédente, rechargez-la, puis recommencez. Rien n'a été enregistré."
        )
        return render_template(
            "error.html", title="Formulaire expiré", message=message, status=400
        ), 400
