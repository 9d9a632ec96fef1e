"""The French words of a campaign file's problems: an ARS administrator reads them on the
administration page (and the command line prints the same), so pydantic's and PyYAML's
English never reaches them; a problem this module does not know gets a plain French
sentence rather than the library's text."""

from __future__ import annotations

import re
from typing import Any

from workflow.campaigns.schema import FIELD_REF_PATTERN, KEY_PATTERN, SLUG_PATTERN

PATTERNS = {
    KEY_PATTERN: "des minuscules sans accents, des chiffres et « _ », en commençant par une lettre",
    FIELD_REF_PATTERN: "« volet.champ », en minuscules",
    SLUG_PATTERN: "des minuscules sans accents, des chiffres et des tirets",
}
DATE = "une date au format 2026-03-20"
INSTANT = "une date et une heure au format 2026-03-20T18:00"
SIMPLE = {
    "string_type": "un texte est attendu",
    "int_type": "un nombre entier est attendu",
    "int_parsing": "un nombre entier est attendu",
    "int_from_float": "un nombre entier est attendu",
    "float_type": "un nombre est attendu",
    "float_parsing": "un nombre est attendu",
    "finite_number": "un nombre fini est attendu",
    "bool_type": "« true » ou « false » est attendu",
    "bool_parsing": "« true » ou « false » est attendu",
    "date_type": f"{DATE} est attendue",
    "date_parsing": f"{DATE} est attendue",
    "date_from_datetime_parsing": f"{DATE} est attendue",
    "date_from_datetime_inexact": f"{DATE}, sans heure, est attendue",
    "datetime_type": f"{INSTANT} est attendue",
    "datetime_parsing": f"{INSTANT} est attendue",
    "datetime_from_date_parsing": f"{INSTANT} est attendue",
    "list_type": "une liste est attendue",
    "tuple_type": "une liste est attendue",
    "dict_type": "des clés sont attendues (clé: valeur)",
    "model_type": "des clés sont attendues (clé: valeur)",
    "model_attributes_type": "des clés sont attendues (clé: valeur)",
    "union_tag_not_found": "la clé « kind » manque",
}


def pydantic_message(error: dict[str, Any]) -> str:
    """One of pydantic's validation errors, in French."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = error.get("loc") or ()
    last = loc[-1] if loc else ""
    if kind.startswith(("date_", "datetime_")) and last in ("date", "datetime"):
        # A day or an instant (`opens`, `deadline`): pydantic reports each; one sentence.
        return "une date est attendue, au format 2026-03-20 (ou 2026-03-20T18:00 avec l'heure)"
    if kind == "missing":
        return f"clé manquante : « {last} »"
    if kind == "extra_forbidden":
        return f"clé inconnue : « {last} »"
    if kind in ("literal_error", "enum"):
        return f"valeur non prévue ; valeurs possibles : {_or(str(ctx.get('expected', '')))}"
    if kind == "union_tag_invalid":
        expected = _or(str(ctx.get("expected_tags", "")))
        return f"« kind » inconnu : « {ctx.get('tag')} » ; valeurs possibles : {expected}"
    if kind == "string_pattern_mismatch":
        wanted = PATTERNS.get(str(ctx.get("pattern")), "un autre format")
        return f"format non valable : {wanted} est attendu"
    if kind == "string_too_long":
        return f"texte trop long : {ctx.get('max_length')} caractères au plus"
    if kind == "too_short":
        return f"il faut au moins {ctx.get('min_length')} élément(s)"
    if kind == "too_long":
        return f"il faut au plus {ctx.get('max_length')} élément(s)"
    if kind in ("value_error", "assertion_error"):
        # The schema's own validators speak French already.
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return SIMPLE.get(kind, "valeur non valable pour cette clé")


def _or(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" as "« a », « b » ou « c »"."""
    values = re.findall(r"'([^']*)'", expected)
    if not values:
        return expected
    quoted = [f"« {v} »" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " ou " + quoted[-1]


# PyYAML's problems, by the words they start with; the administrator is told what to fix.
YAML_PROBLEMS = (
    (
        "mapping values are not allowed",
        "deux-points inattendu : mettez la valeur entre guillemets si elle contient « : »",
    ),
    ("could not find expected ':'", "« : » attendu après la clé"),
    (
        "found character '\\t'",
        "tabulation : en YAML, on indente avec des espaces",
    ),
    ("found character", "caractère inattendu à cet endroit"),
    ("found unknown escape character", "séquence d'échappement inconnue entre guillemets"),
    ("found unexpected end of stream", "fin de fichier inattendue : un guillemet non fermé ?"),
    ("found unexpected ':'", "deux-points inattendu"),
    ("expected <block end>", "indentation incohérente avec les lignes précédentes"),
    ("expected ',' or ']'", "« , » ou « ] » attendu"),
    ("expected ',' or '}'", "« , » ou « } » attendu"),
    ("expected '<document start>'", "un seul document par fichier : retirez « --- »"),
    ("expected a single document", "un seul document par fichier : retirez « --- »"),
    ("found unhashable key", "une liste ou des clés ne peuvent pas servir de clé"),
    ("found duplicate anchor", "ancre YAML en double"),
    ("found undefined alias", "alias YAML inconnu"),
    ("found undefined tag handle", "étiquette YAML inconnue"),
    ("special characters are not allowed", "caractère non permis dans le fichier"),
)


def yaml_message(problem: str) -> str:
    """One of PyYAML's problems, in French."""
    tag = re.search(r"constructor for the tag '([^']*)'", problem)
    if tag:
        name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        return f"étiquette YAML non permise : {name} (seules des valeurs simples sont acceptées)"
    for english, french in YAML_PROBLEMS:
        if problem.startswith(english):
            return french
    return "syntaxe YAML non valable à cet endroit"
