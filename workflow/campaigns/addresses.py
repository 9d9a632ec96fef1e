"""A postal code and the town written after it, checked together: the town is proposed from
the postal code, and a town the postal code does not serve is flagged next to its field.

A commune field goes with the nearest postal code field before it in the same volet (every
seed form writes « CP » then « Ville »)."""

from __future__ import annotations

from typing import Any

from workflow.campaigns.fields import clean_value, is_empty
from workflow.campaigns.schema import FieldDef, FieldType, Volet
from workflow.plumbing import postal_codes

MISMATCH_WARNING = (
    "La commune « {town} » ne correspond pas au code postal {code} (commune(s) de ce code : "
    "{communes}) : vérifiez le code postal ou la commune."
)


def paired_postal_codes(volet: Volet) -> dict[str, FieldDef]:
    """For each commune field of the volet, its postal code field."""
    pairs: dict[str, FieldDef] = {}
    last: FieldDef | None = None
    for item in volet.fields:
        if item.type is FieldType.POSTAL_CODE:
            last = item
        elif item.type is FieldType.COMMUNE and last is not None:
            pairs[item.key] = last
    return pairs


def _code(definition: FieldDef, value: Any) -> str | None:
    """The postal code as stored, when it is one (a refused code proposes nothing)."""
    if is_empty(value):
        return None
    cleaned = clean_value(definition, value)
    return None if cleaned.error else str(cleaned.value)


def town_proposals(volet: Volet, values: dict[str, Any]) -> dict[str, list[str]]:
    """For each commune field whose postal code is known: the communes that code serves."""
    proposals: dict[str, list[str]] = {}
    for town_key, code_field in paired_postal_codes(volet).items():
        code = _code(code_field, values.get(code_field.key))
        communes = postal_codes.communes_of(code) if code else None
        if communes:
            proposals[town_key] = communes
    return proposals


def address_warnings(volet: Volet, values: dict[str, Any]) -> dict[str, str]:
    """French warnings, by field key, for a town its postal code does not serve (« La commune
    « Rouen » ne correspond pas au code postal 14000 … »). A warning never refuses: a
    commune nouvelle or a district name may be right."""
    warnings: dict[str, str] = {}
    for town_key, code_field in paired_postal_codes(volet).items():
        code = _code(code_field, values.get(code_field.key))
        town = values.get(town_key)
        if not code or is_empty(town):
            continue
        town = " ".join(str(town).split())
        if postal_codes.serves(code, town) is False:
            warnings[town_key] = MISMATCH_WARNING.format(
                town=town, code=code, communes=", ".join(postal_codes.communes_of(code) or [])
            )
    return warnings


def confirmed_towns(volet: Volet, values: dict[str, Any]) -> set[str]:
    """The commune fields whose town La Poste's table gives for their postal code: their
    spelling (« Thillay (Le) », « Rouen Cedex 1 ») is not held against them either."""
    confirmed: set[str] = set()
    for town_key, code_field in paired_postal_codes(volet).items():
        code = _code(code_field, values.get(code_field.key))
        town = values.get(town_key)
        if code and not is_empty(town) and postal_codes.serves(code, str(town)):
            confirmed.add(town_key)
    return confirmed
