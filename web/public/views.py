"""Pages anyone can see: the campaigns open now, « Données personnelles » (drawn from the
campaigns' consent texts and retention), « Mentions légales », the accessibility statement,
and the communes of a postal code (La Poste's public data) for the volet form's town
proposals."""

from __future__ import annotations

import re

from flask import Blueprint, abort, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from web.shared.db import db_session
from workflow.models import Campaign
from workflow.plumbing import clock
from workflow.plumbing.dates import deadline_text, format_instant
from workflow.plumbing.postal_codes import communes_of
from workflow.privacy.notice import campaign_notices

bp = Blueprint("public", __name__, template_folder="templates")


@bp.get("/")
def index() -> str:
    now = clock.now()
    campaigns = db_session().scalars(select(Campaign).order_by(Campaign.deadline_at)).all()
    open_now = [c for c in campaigns if c.opens_at <= now < c.deadline_at and not c.closed_at]
    upcoming = [c for c in campaigns if now < c.opens_at]
    return render_template(
        "index.html",
        open_now=open_now,
        upcoming=upcoming,
        closed=[c for c in campaigns if c not in open_now and c not in upcoming],
        deadline_text=deadline_text,
        format_instant=format_instant,
    )


@bp.get("/donnees-personnelles")
def privacy() -> str:
    return render_template("privacy.html", notices=campaign_notices(db_session()))


@bp.get("/mentions-legales")
def legal() -> str:
    return render_template("legal.html")


@bp.get("/accessibilite")
def accessibility() -> str:
    """The accessibility statement (« déclaration d'accessibilité ») State services must
    publish, with what the browser tests measure."""
    return render_template("accessibility.html", audit=AUDIT)


# What tests/test_e2e_*.py measure with axe-core (they fail on any serious or critical
# violation); written here by hand at each audit, with its date.
AUDIT = {
    "date": "6 décembre 2026",
    "tool": "axe-core 4.14",
    # 106 in the deposit, instruction and keyboard journeys, 190 in those of the avis and
    # signatures, the seed families, the messagerie, the commission, the partner's page, the
    # statistics and ProConnect (the « axe: N page state(s) checked » line of each test, -s).
    "states": 296,
    "journeys": (
        "création de compte, connexion (aussi avec ProConnect), dépôt d'un dossier volet par "
        "volet avec ses pièces, récapitulatif, avis et signatures recueillis par lien "
        "personnel avant le dépôt, consentement du candidat, co-signature de l'établissement "
        "partenaire, instruction, demande et réponse d'avis, demande de corrections et "
        "messagerie, commission (séance, notes, classement, propositions de décision, "
        "procès-verbal, liste complémentaire), décision, publication des résultats, page de "
        "l'établissement partenaire, statistiques, administration ; au clavier seul pour le "
        "dépôt et la décision, avec et sans JavaScript pour les tableaux à lignes répétées"
    ),
}


@bp.get("/codes-postaux/<code>")
def postal_code_communes(code: str) -> ResponseReturnValue:
    """The communes a postal code serves, as JSON, for the volet form's script to propose the
    town as the postal code is typed (without it, the server proposes them once saved)."""
    if not re.fullmatch(r"[0-9]{5}", code):
        abort(404)
    # [] for a code La Poste does not list (a CEDEX code), or without the table.
    return jsonify({"code": code, "communes": communes_of(code) or []})
