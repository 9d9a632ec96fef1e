"""Who the candidate of a dossier is, as a key that two dossiers share when they name the
same person: the RPPS number when given, else the name and the birth date."""

from __future__ import annotations

import unicodedata
from typing import Any

from workflow.campaigns.completeness import Values, lookup
from workflow.campaigns.fields import is_empty
from workflow.campaigns.schema import Campaign

KEY_LENGTH = 160


def normalised_name(*parts: Any) -> str:
    """« Élodie  DUPONT-Martin » and « elodie dupont martin » give the same name: accents,
    case, hyphens, apostrophes and repeated spaces do not tell two people apart."""
    text = " ".join(str(part) for part in parts if not is_empty(part))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = "".join(c if c.isalnum() else " " for c in text)
    return " ".join(text.split())


def candidate_key(campaign: Campaign, values: Values) -> str | None:
    """The candidate's identity key, or None while the dossier does not say who it is (no
    RPPS, and no name with a birth date): « rpps:10003456786 » or
    « nom:dupont elodie:1990-04-01 »."""
    identity = campaign.candidate
    if identity is None:
        return None
    rpps = lookup(values, identity.rpps) if identity.rpps else None
    if isinstance(rpps, str) and rpps.strip():
        return f"rpps:{rpps.strip()}"[:KEY_LENGTH]
    if identity.birth_date is None or not identity.name:
        return None
    born = lookup(values, identity.birth_date)
    name = normalised_name(*(lookup(values, ref) for ref in identity.name))
    if not name or not isinstance(born, str) or not born:
        return None
    return f"nom:{name}:{born}"[:KEY_LENGTH]
