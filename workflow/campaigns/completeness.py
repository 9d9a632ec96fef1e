"""Whether a dossier is complete: fields, cross-field rules, pieces and the confirmation tab."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow.campaigns.fields import clean_value, is_empty
from workflow.campaigns.schema import (
    DATE_KEYWORDS,
    Campaign,
    Condition,
    DateBound,
    DateRule,
    EqualsRule,
    FieldDef,
    FieldType,
    OneOfRule,
    Rule,
    SumRule,
)
from workflow.plumbing.dates import format_date

Values = Mapping[str, Mapping[str, Any]]

PIECES = "pieces"
CONFIRMATION = "confirmation"


@dataclass(frozen=True)
class Problem:
    """One thing missing or wrong; `place` is a volet key, "pieces" or "confirmation"."""

    place: str
    key: str | None
    message: str


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems

    def by_place(self) -> dict[str, list[Problem]]:
        """Problems grouped by volet (then pieces, then confirmation), in campaign order."""
        grouped: dict[str, list[Problem]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.place, []).append(problem)
        return grouped

    def messages(self) -> list[str]:
        return [p.message for p in self.problems]


def lookup(values: Values, ref: str) -> Any:
    """The stored value of "volet.field", or None."""
    volet_key, field_key = ref.split(".", 1)
    return (values.get(volet_key) or {}).get(field_key)


def condition_holds(condition: Condition, values: Values) -> bool:
    """Whether a `visible_if` condition holds for the dossier's current values."""
    value = lookup(values, condition.field)
    if condition.filled is not None:
        return condition.filled != is_empty(value)
    if isinstance(value, list):
        return condition.equals in value
    return value == condition.equals


def is_visible(definition: FieldDef, values: Values) -> bool:
    """A field hidden by its condition is neither required nor checked."""
    return definition.visible_if is None or condition_holds(definition.visible_if, values)


def is_required(definition: FieldDef, values: Values) -> bool:
    """Required always, or only while its `required_if` condition holds."""
    if definition.required:
        return True
    return definition.required_if is not None and condition_holds(definition.required_if, values)


def check_volet(campaign: Campaign, volet_key: str, values: Values) -> list[Problem]:
    """Every missing or invalid field of one volet, in the order of the form."""
    volet = campaign.volet(volet_key)
    stored = values.get(volet_key) or {}
    problems: list[Problem] = []
    for definition in volet.fields:
        if not is_visible(definition, values):
            continue
        value = stored.get(definition.key)
        label = f"{volet.title} — « {definition.label} »"
        if is_empty(value):
            if is_required(definition, values):
                problems.append(Problem(volet_key, definition.key, f"{label} est obligatoire."))
            continue
        cleaned = clean_value(definition, value)
        if cleaned.error:
            problems.append(Problem(volet_key, definition.key, f"{label} : {cleaned.error}"))
        elif definition.min_rows and len(value) < definition.min_rows:
            problems.append(
                Problem(
                    volet_key,
                    definition.key,
                    f"{label} : au moins {definition.min_rows} ligne(s).",
                )
            )
    return problems


def check_rules(campaign: Campaign, values: Values) -> list[Problem]:
    """The campaign's cross-field rules. A rule over fields not yet filled waits for them,
    and a rule over a field hidden by its condition does not apply (its old value stays
    stored in case the déposant switches back, but it no longer counts)."""
    problems: list[Problem] = []
    for rule in campaign.rules:
        refs = rule_fields(rule)
        if not all(is_visible(campaign.field(ref), values) for ref in refs):
            continue
        message = _broken(campaign, rule, values)
        if message:
            place, key = rule_anchor(rule)
            problems.append(Problem(place, key, rule.message or message))
    return problems


def rule_fields(rule: Rule) -> list[str]:
    """The fields a rule reads: hidden, any of them makes the rule wait."""
    if isinstance(rule, SumRule | OneOfRule):
        return list(rule.fields)
    refs = [rule.field]
    if isinstance(rule, DateRule):
        for bound in (rule.not_before, rule.not_after):
            if bound is not None and bound.date not in DATE_KEYWORDS:
                refs.append(bound.date)
    return refs


def rule_anchor(rule: Rule) -> tuple[str, str]:
    """The volet and field next to which a broken rule is shown."""
    ref = rule.fields[-1] if isinstance(rule, SumRule | OneOfRule) else rule.field
    volet_key, field_key = ref.split(".", 1)
    return volet_key, field_key


def shift(day: dt.date, years: int = 0, months: int = 0, days: int = 0) -> dt.date:
    """`day` moved by whole years, months and days; the 31st of a shorter month becomes
    its last day, and 29 February of a year that has none the 28th."""
    total = day.year * 12 + (day.month - 1) + years * 12 + months
    year, month = divmod(total, 12)
    month += 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = (following - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last)) + dt.timedelta(days=days)


def _day(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def bound_date(campaign: Campaign, bound: DateBound, values: Values) -> dt.date | None:
    """The day a date rule compares with, or None while the field it names is empty."""
    if bound.date == "opens":
        base: dt.date | None = _as_date(campaign.opens)
    elif bound.date == "deadline":
        base = _as_date(campaign.deadline)
    elif bound.date == "start_date":
        base = min(campaign.start_dates, default=None)
    else:
        base = _day(lookup(values, bound.date))
    if base is None:
        return None
    try:
        return shift(base, bound.years, bound.months, bound.days)
    except (ValueError, OverflowError):  # past year 9999: no dossier date gets there
        return None


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _broken(campaign: Campaign, rule: Rule, values: Values) -> str:
    def label(ref: str) -> str:
        return f"« {campaign.field(ref).label} »"

    if isinstance(rule, DateRule):
        return _broken_date(campaign, rule, values, label(rule.field))
    if isinstance(rule, EqualsRule):
        value = lookup(values, rule.field)
        if is_empty(value) or value == rule.value:
            return ""
        return f"{label(rule.field)} : la réponse attendue est « {_answer(campaign, rule)} »."

    def unit(ref: str) -> str:
        return " %" if campaign.field(ref).type is FieldType.PERCENTAGE else ""

    if isinstance(rule, OneOfRule):
        if all(is_empty(lookup(values, ref)) for ref in rule.fields):
            return "Renseignez " + " ou ".join(label(ref) for ref in rule.fields) + "."
        return ""
    if isinstance(rule, SumRule):
        numbers = [lookup(values, ref) for ref in rule.fields]
        if any(not isinstance(n, int | float) for n in numbers):
            return ""
        total, u = sum(numbers), unit(rule.fields[0])
        if abs(total - rule.total) > 0.005:
            names = " + ".join(label(ref) for ref in rule.fields)
            return f"{names} doit faire {_num(rule.total)}{u} (actuellement {_num(total)}{u})."
        return ""
    number = lookup(values, rule.field)
    if not isinstance(number, int | float):
        return ""
    if rule.kind == "min" and number < rule.value:
        return f"{label(rule.field)} doit être d'au moins {_num(rule.value)}{unit(rule.field)}."
    if rule.kind == "max" and number > rule.value:
        return f"{label(rule.field)} doit être d'au plus {_num(rule.value)}{unit(rule.field)}."
    return ""


def _broken_date(campaign: Campaign, rule: DateRule, values: Values, label: str) -> str:
    day = _day(lookup(values, rule.field))
    if day is None:
        return ""
    if rule.not_before is not None:
        earliest = bound_date(campaign, rule.not_before, values)
        if earliest is not None and day < earliest:
            return f"{label} doit être au plus tôt le {format_date(earliest)}."
    if rule.not_after is not None:
        latest = bound_date(campaign, rule.not_after, values)
        if latest is not None and day > latest:
            return f"{label} doit être au plus tard le {format_date(latest)}."
    return ""


def _answer(campaign: Campaign, rule: EqualsRule) -> str:
    definition = campaign.field(rule.field)
    if isinstance(rule.value, bool):
        return "oui" if rule.value else "non"
    for choice in definition.choices:
        if choice.value == str(rule.value):
            return choice.label
    return str(rule.value)


def _num(number: float) -> str:
    return str(int(number)) if number == int(number) else f"{number:.2f}".replace(".", ",")


def completeness(
    campaign: Campaign,
    values: Values,
    pieces: Iterable[str] = (),
    attestations: Iterable[str] = (),
    consent: bool = False,
) -> Report:
    """The full report used by the `deposer` guard and the "Dossier complet" tab."""
    report = Report()
    for volet in campaign.volets:
        report.problems += check_volet(campaign, volet.key, values)
    report.problems += check_rules(campaign, values)
    report.warnings += warnings(campaign, values)
    attached = set(pieces)
    for piece in campaign.pieces:
        required = piece.required and (
            piece.required_if is None or condition_holds(piece.required_if, values)
        )
        if required and piece.key not in attached:
            message = f"Pièce manquante : {piece.label}."
            report.problems.append(Problem(PIECES, piece.key, message))
    ticked = set(attestations)
    for attestation in campaign.attestations:
        if attestation.key not in ticked:
            message = f"Attestation à cocher : {attestation.text}"
            report.problems.append(Problem(CONFIRMATION, attestation.key, message))
    if campaign.consent and not consent:
        message = "Le consentement au traitement des données personnelles est à cocher."
        report.problems.append(Problem(CONFIRMATION, "consent", message))
    # Rule problems are found after all fields: put each back with its volet, in form order.
    order = {volet.key: index for index, volet in enumerate(campaign.volets)}
    last = len(order)
    rank = {PIECES: last, CONFIRMATION: last + 1}
    report.problems.sort(key=lambda p: order.get(p.place, rank.get(p.place, last + 2)))
    return report


def warnings(campaign: Campaign, values: Values) -> list[Problem]:
    """Warnings shown to the user but never blocking (an unusual RPPS key)."""
    found: list[Problem] = []
    for volet in campaign.volets:
        stored = values.get(volet.key) or {}
        for definition in volet.fields:
            value = stored.get(definition.key)
            if is_empty(value) or not is_visible(definition, values):
                continue
            cleaned = clean_value(definition, value)
            if cleaned.warning:
                found.append(Problem(volet.key, definition.key, cleaned.warning))
    return found
