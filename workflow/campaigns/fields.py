"""Cleaning one field's value: the real rules of each field type, messages in French."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workflow.campaigns.schema import Column, FieldDef, FieldType
from workflow.plumbing import identifiers

Value = Any


@dataclass(frozen=True)
class Cleaned:
    """A value as stored, or the French reason it cannot be; a warning never refuses."""

    value: Value
    error: str | None = None
    warning: str | None = None


IDENTIFIER_CHECKS: dict[FieldType, Callable[[str], identifiers.Checked]] = {
    FieldType.EMAIL: identifiers.check_email,
    FieldType.PHONE: identifiers.check_phone,
    FieldType.FINESS: identifiers.check_finess,
    FieldType.SIRET: identifiers.check_siret,
    FieldType.SIREN: identifiers.check_siren,
    FieldType.RPPS: identifiers.check_rpps,
    FieldType.POSTAL_CODE: identifiers.check_postal_code,
    FieldType.COMMUNE: identifiers.check_commune,
}

YES = {"oui", "true", "1", "on", "yes"}
NO = {"non", "false", "0", "off", "no"}


def is_empty(value: Value) -> bool:
    """A value that counts as not filled in (a "non" answer is filled in)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return len(value) == 0
    return False


def clean_value(field: FieldDef | Column, raw: Value) -> Cleaned:
    """Normalises `raw` (form text, or an already typed value) for the field's type.

    An empty value is returned as None without error: whether it is required is the
    completeness check's business, so that a half-filled volet can still be saved.
    """
    if field.type is FieldType.TABLE:
        assert isinstance(field, FieldDef)
        return _clean_table(field, raw)
    if field.type is FieldType.MULTI_CHOICE:
        return _clean_multi(field, raw)
    if is_empty(raw):
        return Cleaned(None)
    if field.type in IDENTIFIER_CHECKS:
        try:
            checked = IDENTIFIER_CHECKS[field.type](str(raw))
        except identifiers.IdentifierError as exc:
            return Cleaned(raw, exc.message)
        return Cleaned(checked.value, warning=checked.warning)
    cleaner = _CLEANERS.get(field.type, _clean_text)
    return cleaner(field, raw)


def _clean_text(field: FieldDef | Column, raw: Value) -> Cleaned:
    text = str(raw).strip().replace("\r\n", "\n")
    limit = getattr(field, "max_length", None)
    if limit and len(text) > limit:
        return Cleaned(text, f"{limit} caractères au maximum ({len(text)} saisis).")
    return Cleaned(text)


def _clean_date(field: FieldDef | Column, raw: Value) -> Cleaned:
    if isinstance(raw, dt.date):
        return Cleaned(raw.isoformat())
    text = str(raw).strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return Cleaned(dt.datetime.strptime(text, pattern).date().isoformat())
        except ValueError:
            continue
    return Cleaned(text, "Date invalide : utilisez le format jj/mm/aaaa.")


def _number(text: str) -> float | None:
    text = text.strip().removesuffix("%").strip().replace(",", ".").replace("\u202f", "")
    # ASCII digits only (\d also takes « ٣ »), and a finite value: a few hundred digits make
    # float() return inf, which no integer or bound can be compared with.
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text.replace(" ", "")):
        return None
    number = float(text.replace(" ", ""))
    return number if math.isfinite(number) else None


def _bounded(field: FieldDef | Column, number: float, unit: str = "") -> str | None:
    low = getattr(field, "minimum", None)
    high = getattr(field, "maximum", None)
    if low is not None and number < low:
        return f"La valeur doit être au moins {_show(low)}{unit}."
    if high is not None and number > high:
        return f"La valeur doit être au plus {_show(high)}{unit}."
    return None


def _show(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number).replace(".", ",")


def _clean_integer(field: FieldDef | Column, raw: Value) -> Cleaned:
    number = raw if isinstance(raw, int) and not isinstance(raw, bool) else _number(str(raw))
    if number is None or number != int(number):
        return Cleaned(raw, "Saisissez un nombre entier.")
    return Cleaned(int(number), _bounded(field, number))


def _clean_percentage(field: FieldDef | Column, raw: Value) -> Cleaned:
    number = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if number is None:
        number = _number(str(raw))
    if number is None:
        return Cleaned(raw, "Saisissez un pourcentage, par exemple 60.")
    if not 0 <= number <= 100:
        return Cleaned(raw, "Un pourcentage est compris entre 0 et 100.")
    stored = int(number) if number == int(number) else round(number, 2)
    return Cleaned(stored, _bounded(field, number, " %"))


def _clean_choice(field: FieldDef | Column, raw: Value) -> Cleaned:
    value = str(raw).strip()
    if value not in {c.value for c in field.choices}:
        return Cleaned(value, "Choisissez une des valeurs proposées.")
    return Cleaned(value)


def _clean_multi(field: FieldDef | Column, raw: Value) -> Cleaned:
    values = [raw] if isinstance(raw, str) else list(raw or [])
    values = [str(v).strip() for v in values if not is_empty(v)]
    allowed = [c.value for c in field.choices]
    unknown = [v for v in values if v not in allowed]
    if unknown:
        return Cleaned(values, f"Valeur(s) non proposée(s) : {', '.join(unknown)}.")
    if not values:
        return Cleaned(None)
    return Cleaned([v for v in allowed if v in values])


def _clean_yes_no(field: FieldDef | Column, raw: Value) -> Cleaned:
    if isinstance(raw, bool):
        return Cleaned(raw)
    text = str(raw).strip().lower()
    if text in YES:
        return Cleaned(True)
    if text in NO:
        return Cleaned(False)
    return Cleaned(raw, "Répondez par oui ou par non.")


def _clean_table(field: FieldDef, raw: Value) -> Cleaned:
    """Rows entirely blank are dropped (an added then unused row is not an error)."""
    if is_empty(raw):
        return Cleaned(None)
    rows = raw
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return Cleaned(None, "Tableau illisible.")
    kept: list[dict[str, Value]] = []
    errors: list[str] = []
    for index, row in enumerate(rows):
        if all(is_empty(row.get(c.key)) for c in field.columns):
            continue
        number = index + 1  # the row as the déposant sees it, blank rows included
        cleaned_row: dict[str, Value] = {}
        for column in field.columns:
            cell = clean_value(column, row.get(column.key))
            cleaned_row[column.key] = cell.value
            if cell.error:
                errors.append(f"ligne {number}, « {column.label} » : {cell.error}")
            elif column.required and is_empty(cell.value):
                errors.append(f"ligne {number}, « {column.label} » est obligatoire.")
        kept.append(cleaned_row)
    if field.max_rows is not None and len(kept) > field.max_rows:
        errors.append(f"{field.max_rows} lignes au maximum ({len(kept)} saisies).")
    return Cleaned(kept or None, " ; ".join(errors) or None)


_CLEANERS: dict[FieldType, Callable[[FieldDef | Column, Value], Cleaned]] = {
    FieldType.TEXT: _clean_text,
    FieldType.LONG_TEXT: _clean_text,
    FieldType.DATE: _clean_date,
    FieldType.INTEGER: _clean_integer,
    FieldType.PERCENTAGE: _clean_percentage,
    FieldType.CHOICE: _clean_choice,
    FieldType.YES_NO: _clean_yes_no,
}
