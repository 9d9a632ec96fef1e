"""A dossier as a person reads it, volet by volet: labels and values in French (dates as
"4 novembre 2019", yes/no as "Oui"/"Non", choices by their label, repeated rows as a table).
The instructor's dossier page and the page of an avis giver show dossiers this way."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from workflow.campaigns.completeness import is_visible
from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.schema import Column, FieldDef, FieldType
from workflow.plumbing.dates import format_date
from workflow.plumbing.identifiers import format_phone_fr


@dataclass(frozen=True)
class ShownField:
    key: str
    label: str
    text: str
    required: bool
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()

    @property
    def is_table(self) -> bool:
        return bool(self.columns)

    @property
    def empty(self) -> bool:
        return not self.text and not self.rows


@dataclass(frozen=True)
class ShownVolet:
    key: str
    title: str
    fields: tuple[ShownField, ...]


def shown_volets(definition: Definition, values: dict[str, Any]) -> list[ShownVolet]:
    """Every volet of the dossier's form with its values; a field hidden by its condition is
    left out unless it still holds a value."""
    volets = []
    for volet in definition.volets:
        stored = values.get(volet.key) or {}
        fields = []
        for field in volet.fields:
            value = stored.get(field.key)
            if not is_visible(field, values) and value in (None, "", []):
                continue
            fields.append(_field(field, value))
        volets.append(ShownVolet(volet.key, volet.title, tuple(fields)))
    return volets


def _field(field: FieldDef, value: Any) -> ShownField:
    if field.type is FieldType.TABLE:
        rows = tuple(
            tuple(text_of(column, row.get(column.key)) for column in field.columns)
            for row in (value or [])
            if isinstance(row, dict)
        )
        columns = tuple(column.label for column in field.columns)
        return ShownField(field.key, field.label, "", field.required, columns, rows)
    return ShownField(field.key, field.label, text_of(field, value), field.required)


def text_of(field: FieldDef | Column, value: Any) -> str:
    """One stored value as text; "" when it was not given."""
    if value is None or value == "" or value == []:
        return ""
    kind = field.type
    labels = {c.value: c.label for c in field.choices}
    if kind is FieldType.YES_NO:
        return "Oui" if value is True or value == "oui" else "Non"
    if kind is FieldType.CHOICE:
        return labels.get(value, str(value))
    if kind is FieldType.MULTI_CHOICE:
        items = value if isinstance(value, list) else [value]
        return " ; ".join(labels.get(v, str(v)) for v in items)
    if kind is FieldType.DATE:
        try:
            return format_date(dt.date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    if kind is FieldType.PERCENTAGE:
        return f"{value:g} %".replace(".", ",") if isinstance(value, int | float) else str(value)
    if kind is FieldType.PHONE and isinstance(value, str) and value.startswith("+"):
        return format_phone_fr(value)
    return str(value)


def decision_blocks(
    definition: Definition, values: dict[str, Any]
) -> list[tuple[str, list[tuple[str, str]]]]:
    """The blocks the campaign recalls on the « Décision » screen (`decision_summary`), each
    field as (label without its block's prefix, value as read): « Etablissement de santé
    Recruteur — Nom » is « Nom » under its block's title."""
    blocks = []
    for group in definition.decision_summary:
        rows = []
        for ref in group.fields:
            volet_key, field_key = ref.split(".", 1)
            field = definition.field(ref)
            value = (values.get(volet_key) or {}).get(field_key)
            rows.append((field.label.rsplit(" — ", 1)[-1], text_of(field, value)))
        blocks.append((group.title, rows))
    return blocks
