"""What a dossier still lacks, counted by kind for the badges: « 2 champs obligatoires,
5 cases à cocher » says where to go, where « 7 éléments manquants » does not (a dossier whose
volets are all complete may still have its boxes to tick)."""

from __future__ import annotations

from workflow.campaigns.avis_required import AVIS
from workflow.campaigns.completeness import CONFIRMATION, PIECES, Report, Values, lookup
from workflow.campaigns.fields import is_empty

# The kinds in the order the déposant meets them, each with its singular and plural.
KINDS = (
    ("champ", "champ obligatoire", "champs obligatoires"),
    ("correction", "champ à corriger", "champs à corriger"),
    ("piece", "pièce à joindre", "pièces à joindre"),
    ("case", "case à cocher", "cases à cocher"),
    ("avis", "avis ou signature à recueillir", "avis ou signatures à recueillir"),
)


def kind_of(problem_place: str, problem_key: str | None, values: Values) -> str:
    """The kind of one problem of a completeness report: an empty field is to fill in, a
    filled one breaks a rule or its type and is to correct."""
    if problem_place == PIECES:
        return "piece"
    if problem_place == CONFIRMATION:
        return "case"
    if problem_place == AVIS:
        return "avis"
    if problem_key is None or is_empty(lookup(values, f"{problem_place}.{problem_key}")):
        return "champ"
    return "correction"


def missing_by_kind(report: Report, values: Values) -> list[str]:
    """The problems of `report` counted by kind, in French: ["2 champs obligatoires",
    "5 cases à cocher"]; empty for a complete dossier."""
    counts: dict[str, int] = {}
    for problem in report.problems:
        kind = kind_of(problem.place, problem.key, values)
        counts[kind] = counts.get(kind, 0) + 1
    return [
        f"{counts[kind]} {singular if counts[kind] == 1 else plural}"
        for kind, singular, plural in KINDS
        if kind in counts
    ]
