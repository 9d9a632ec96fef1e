"""A volet as an HTML form: reading the posted fields (repeated rows included) into the raw
values `save_volet` cleans, and turning stored values back into what the inputs show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from web.shared.parsing import parse_int
from workflow.campaigns.addresses import (
    address_warnings,
    confirmed_towns,
    paired_postal_codes,
    town_proposals,
)
from workflow.campaigns.fields import clean_value, is_empty
from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.schema import Column, Condition, FieldDef, FieldType, Volet
from workflow.plumbing.identifiers import format_phone_fr

MAX_ROWS = 100
ROW_ACTION = "ligne"

# How each type is typed in: the input's type and the keyboard a phone shows.
INPUTS: dict[FieldType, tuple[str, str | None]] = {
    FieldType.TEXT: ("text", None),
    FieldType.EMAIL: ("email", "email"),
    FieldType.PHONE: ("tel", "tel"),
    FieldType.DATE: ("date", None),
    FieldType.INTEGER: ("text", "numeric"),
    FieldType.PERCENTAGE: ("text", "decimal"),
    FieldType.FINESS: ("text", None),
    FieldType.SIRET: ("text", "numeric"),
    FieldType.SIREN: ("text", "numeric"),
    FieldType.RPPS: ("text", "numeric"),
    FieldType.POSTAL_CODE: ("text", "numeric"),
    FieldType.COMMUNE: ("text", None),
}
AUTOCOMPLETE = {
    FieldType.EMAIL: "email",
    FieldType.PHONE: "tel",
    FieldType.POSTAL_CODE: "off",
    FieldType.COMMUNE: "off",
}


# --- reading the form ------------------------------------------------------------------------


def parse(volet: Volet, form: MultiDict[str, str]) -> dict[str, Any]:
    """The raw values of the volet's fields as posted (absent fields are None)."""
    raw: dict[str, Any] = {}
    for definition in volet.fields:
        if definition.type is FieldType.TABLE:
            raw[definition.key] = _rows(definition, form)
        elif definition.type is FieldType.MULTI_CHOICE:
            raw[definition.key] = form.getlist(definition.key)
        else:
            raw[definition.key] = form.get(definition.key)
    return raw


def _rows(definition: FieldDef, form: MultiDict[str, str]) -> list[dict[str, str]]:
    count = min(parse_int(form.get(f"{definition.key}.rows"), 0) or 0, MAX_ROWS)
    return [
        {c.key: form.get(f"{definition.key}.{i}.{c.key}", "") for c in definition.columns}
        for i in range(count)
    ]


def row_action(volet: Volet, form: MultiDict[str, str], raw: dict[str, Any]) -> str | None:
    """Applies "Ajouter une ligne" / "Supprimer la ligne" (the no-JavaScript path) to `raw`;
    returns what was done, or None when the form was sent with "Enregistrer"."""
    action = form.get(ROW_ACTION)
    if not action:
        return None
    verb, _, rest = action.partition(":")
    key, _, index = rest.partition(":")
    tables = {f.key: f for f in volet.fields if f.type is FieldType.TABLE}
    if key not in tables:
        return None
    rows = raw[key]
    if verb == "ajouter" and len(rows) < MAX_ROWS:
        rows.append({c.key: "" for c in tables[key].columns})
        return "Ligne ajoutée : elle ne sera gardée qu'après « Enregistrer »."
    position = parse_int(index)
    if verb == "supprimer" and position is not None and position < len(rows):
        rows.pop(position)
        return "Ligne retirée : le changement ne sera gardé qu'après « Enregistrer »."
    return None


# --- showing values --------------------------------------------------------------------------


def shown(definition: FieldDef | Column, value: Any) -> Any:
    """A stored value as its input shows it (raw text from a refused form stays as typed)."""
    if value is None:
        return [] if definition.type is FieldType.MULTI_CHOICE else ""
    if definition.type is FieldType.TABLE and isinstance(value, list):
        columns = definition.columns  # type: ignore[union-attr]
        return [
            {c.key: shown(c, row.get(c.key)) for c in columns}
            for row in value
            if isinstance(row, dict)
        ]
    if definition.type is FieldType.MULTI_CHOICE:
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    if definition.type is FieldType.PHONE and isinstance(value, str) and value.startswith("+"):
        return format_phone_fr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _form_repr(value: Any) -> list[str]:
    """A value as the inputs of its field post it, for the conditions' script."""
    if value is None or value == "":
        return []
    if isinstance(value, bool):
        return ["oui" if value else "non"]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


@dataclass(frozen=True)
class ConditionView:
    """A `visible_if` as the page needs it: the controlling input (when on this page), the
    values that show the field, the saved value, and the note shown without JavaScript."""

    field_key: str | None
    expected: list[str]
    filled: bool | None
    saved: list[str]
    note: str


@dataclass
class FieldView:
    field: FieldDef
    value: Any
    error: str | None = None
    # Shown next to the field without refusing it (an RPPS key off the usual algorithm).
    warning: str | None = None
    # Shown from the organisation's account, the volet not yet saved.
    prefilled: bool = False
    condition: ConditionView | None = None
    input_type: str = "text"
    inputmode: str | None = None
    autocomplete: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    # « Obligatoire si … », for a field required only on a condition (`required_if`).
    required_note: str | None = None
    # The communes of the postal code before a town field, offered in a <datalist>.
    proposals: list[str] = field(default_factory=list)
    # The id of that <datalist>: on the town field, and on its postal code field, whose
    # typing refills it (app.js).
    communes_list: str | None = None


def field_views(
    definition: Definition,
    volet: Volet,
    values: dict[str, Any],
    saved: dict[str, Any],
    errors: dict[str, str],
) -> list[FieldView]:
    """One view per field of the volet; `values` are this volet's (stored or as posted),
    `saved` the dossier's stored values (for conditions on other volets)."""
    views = []
    warned = warnings(volet, values)
    proposals = town_proposals(volet, values)
    lists = {}
    for town_key, code_field in paired_postal_codes(volet).items():
        lists[town_key] = lists[code_field.key] = f"communes-{town_key}"
    for item in volet.fields:
        value = shown(item, values.get(item.key))
        input_type, inputmode = INPUTS.get(item.type, ("text", None))
        views.append(
            FieldView(
                field=item,
                value=value,
                error=errors.get(item.key),
                warning=None if item.key in errors else warned.get(item.key),
                proposals=proposals.get(item.key, []),
                communes_list=lists.get(item.key),
                condition=_condition(definition, volet, item.visible_if, saved),
                input_type=input_type,
                inputmode=inputmode,
                autocomplete=AUTOCOMPLETE.get(item.type),
                rows=value if item.type is FieldType.TABLE and isinstance(value, list) else [],
                required_note=(
                    f"Obligatoire si {condition_text(definition, item.required_if)}."
                    if item.required_if and not item.required
                    else None
                ),
            )
        )
    return views


def warnings(
    volet: Volet, values: dict[str, Any], own: dict[str, str] | None = None
) -> dict[str, str]:
    """The French warnings of a volet's values, by field key: each value's own (an RPPS key
    off the usual algorithm; `own` when the save has just found them, so that the values are
    not cleaned twice), and a town its postal code does not serve, which says more; a town
    the postal code serves has none."""
    if own is None:
        own = {
            item.key: warning
            for item in volet.fields
            if (warning := field_warning(item, values.get(item.key)))
        }
    confirmed = confirmed_towns(volet, values)
    found = {key: warning for key, warning in own.items() if key not in confirmed}
    return found | address_warnings(volet, values)


def field_warning(definition: FieldDef, value: Any) -> str | None:
    """The French warning a value earns without being refused, if any."""
    if definition.type is FieldType.TABLE or is_empty(value):
        return None
    return clean_value(definition, value).warning


def condition_text(definition: Definition, condition: Condition) -> str:
    """ "« THESE » : Oui" or "« Spécialité de DESC » est renseigné", for notes."""
    controlling = definition.field(condition.field)
    if condition.filled is not None:
        state = "est renseigné" if condition.filled else "n'est pas renseigné"
        return f"« {controlling.label} » {state}"
    labels = {c.value: c.label for c in controlling.choices}
    expected = _form_repr(condition.equals)
    wanted = ", ".join(labels.get(v, {"oui": "Oui", "non": "Non"}.get(v, v)) for v in expected)
    return f"« {controlling.label} » : {wanted}"


def _condition(
    definition: Definition, volet: Volet, condition: Condition | None, saved: dict[str, Any]
) -> ConditionView | None:
    if condition is None:
        return None
    volet_key, field_key = condition.field.split(".", 1)
    stored = (saved.get(volet_key) or {}).get(field_key)
    return ConditionView(
        field_key=field_key if volet_key == volet.key else None,
        expected=_form_repr(condition.equals) if condition.filled is None else [],
        filled=condition.filled,
        saved=_form_repr(stored),
        note=f"À renseigner seulement si {condition_text(definition, condition)}.",
    )
