"""The schema of a campaign file (`campaigns/*.yaml`).

A campaign file is data written by an ARS administrator: every label, piece, date and rule of
the appel à candidatures. Pydantic validates it; `loader.py` turns its errors into messages
naming the file, the line and the key.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from workflow.campaigns.after_decision import (
    ArsContact,
    Cosignature,
    PostDecisionStep,
    StartDateSource,
    after_decision_problems,
)

# The avis have their own module: who gives, who asks, the annex's fields, the signature.
from workflow.campaigns.avis_defs import AvisDef, avis_field_refs
from workflow.campaigns.commission import CommissionDef
from workflow.campaigns.reference_lists import LISTS as REFERENCE_LISTS
from workflow.campaigns.reference_lists import reference_list
from workflow.campaigns.retention import Retention
from workflow.campaigns.schema_base import (  # noqa: F401 - the format's names, kept here
    FIELD_REF_PATTERN,
    KEY_PATTERN,
    FieldRef,
    Key,
    Strict,
)

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class FieldType(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    EMAIL = "email"
    PHONE = "phone"
    DATE = "date"
    INTEGER = "integer"
    PERCENTAGE = "percentage"
    CHOICE = "choice"
    MULTI_CHOICE = "multi_choice"
    YES_NO = "yes_no"
    TABLE = "table"
    FINESS = "finess"
    SIRET = "siret"
    SIREN = "siren"
    RPPS = "rpps"
    POSTAL_CODE = "postal_code"
    COMMUNE = "commune"


class OrganisationType(StrEnum):
    ETABLISSEMENT_SANTE = "etablissement_sante"
    STRUCTURE_SOINS = "structure_soins"
    UNIVERSITE = "universite"
    CANDIDAT = "candidat"


class Choice(Strict):
    value: str
    label: str


class Condition(Strict):
    """Shows a field only when another field of the dossier has a given value."""

    field: FieldRef
    equals: str | bool | int | None = None
    filled: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        if (self.equals is None) == (self.filled is None):
            raise ValueError("indiquez « equals » ou « filled », l'un des deux seulement")
        return self


class _Input(Strict):
    key: Key
    label: str
    type: FieldType = FieldType.TEXT
    required: bool = False
    choices: tuple[Choice, ...] = ()

    @field_validator("choices", mode="before")
    @classmethod
    def _plain_choices(cls, value: object) -> object:
        """Accepts plain strings as choices: the string is both value and label."""
        if isinstance(value, list | tuple):
            return [{"value": c, "label": c} if isinstance(c, str) else c for c in value]
        return value


class Column(_Input):
    """A column of a repeated table (internships, diplomas)."""

    @model_validator(mode="after")
    def _no_nested_table(self) -> Column:
        if self.type is FieldType.TABLE:
            raise ValueError("une colonne de tableau ne peut pas être elle-même un tableau")
        _check_choices(self.type, self.choices)
        return self


# What of the déposant's organisation a field may start from (`prefill:`).
PrefillSource = Literal[
    "organisation.name",
    "organisation.finess",
    "organisation.siret",
    "organisation.address",
    "organisation.postal_code",
    "organisation.city",
]


class FieldDef(_Input):
    type: FieldType
    # The recruiter's own name, FINESS, address…: shown filled in from the account until the
    # volet is first saved, and editable.
    prefill: PrefillSource | None = None
    # A choice whose values are an official list (campaigns/data/), all of it or only the
    # `choices_only` labels: a campaign may restrict the specialties it funds.
    choices_from: Literal["specialites_des"] | None = None
    choices_only: tuple[str, ...] = ()
    help: str | None = None
    placeholder: str | None = None
    columns: tuple[Column, ...] = ()
    min_rows: int = 0
    max_rows: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    visible_if: Condition | None = None
    # Required only when the condition holds (« justifier le choix … lorsque ce dernier ne
    # sera pas dans une zone prioritaire »); `required: true` wins over it.
    required_if: Condition | None = None

    @model_validator(mode="before")
    @classmethod
    def _choices_from_list(cls, data: object) -> object:
        """Fills the choices in from the official list when the file names one; a stored
        version already holds them and keeps them, even if the list changed since."""
        if not isinstance(data, dict) or not data.get("choices_from") or data.get("choices"):
            return data
        name = data["choices_from"]
        if name not in REFERENCE_LISTS:
            return data  # the Literal refuses it with the known names
        labels = reference_list(name)
        only = data.get("choices_only") or ()
        if not isinstance(only, list | tuple) or not all(isinstance(o, str) for o in only):
            return data
        unknown = [label for label in only if label not in labels]
        if unknown:
            names = ", ".join(f"« {label} »" for label in unknown)
            raise ValueError(f"absent(s) de la liste « {name} » : {names}")
        return {**data, "choices": [label for label in labels if not only or label in only]}

    @model_validator(mode="after")
    def _consistent(self) -> FieldDef:
        if self.type is FieldType.TABLE and not self.columns:
            raise ValueError("un champ « table » demande ses « columns »")
        if self.type is not FieldType.TABLE and self.columns:
            raise ValueError("seul un champ « table » a des « columns »")
        if self.choices_from and self.type is not FieldType.CHOICE:
            raise ValueError("« choices_from » ne s'emploie qu'avec un champ « choice »")
        if self.choices_only and not self.choices_from:
            raise ValueError("« choices_only » restreint une liste de « choices_from »")
        _check_choices(self.type, self.choices)
        return self


class Volet(Strict):
    key: Key
    title: str
    description: str | None = None
    fields: tuple[FieldDef, ...] = ()

    @model_validator(mode="after")
    def _unique_fields(self) -> Volet:
        _require_unique([f.key for f in self.fields], "champ")
        return self


class Piece(Strict):
    """A PDF piece to attach; `model` is a model document shipped under campaigns/."""

    key: Key
    label: str
    required: bool = True
    volet: Key | None = None
    help: str | None = None
    model: str | None = None
    # Required only when the condition holds ("copie des diplômes, si la thèse est passée").
    required_if: Condition | None = None


class ReferenceDocument(Strict):
    """A document the campaign points to (cahier des charges, mode opératoire): a file under
    campaigns/models/, served like the pieces' models, or a web address."""

    key: Key
    title: str
    model: str | None = None
    url: Annotated[str, Field(pattern=r"^https://[^\s<>\"]+$", max_length=500)] | None = None
    help: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ReferenceDocument:
        if (self.model is None) == (self.url is None):
            raise ValueError("indiquez « model » ou « url », l'un des deux seulement")
        return self


class Attestation(Strict):
    key: Key
    text: str


class Contact(Strict):
    email: str
    name: str | None = None
    phone: str | None = None
    note: str | None = None


class SumRule(Strict):
    kind: Literal["sum"]
    fields: tuple[FieldRef, ...] = Field(min_length=2)
    total: float
    message: str | None = None


class BoundRule(Strict):
    kind: Literal["min", "max"]
    field: FieldRef
    value: float
    message: str | None = None


class OneOfRule(Strict):
    kind: Literal["one_of"]
    fields: tuple[FieldRef, ...] = Field(min_length=2)
    message: str | None = None


# What a date rule compares with, besides another field: the campaign's own dates.
DATE_KEYWORDS = {
    "opens": "la date d'ouverture de la campagne",
    "deadline": "la date limite de dépôt",
    "start_date": "la date de prise de poste",
}


class DateBound(Strict):
    """A date a field is compared with: another field ("volet.champ", a date or a choice
    whose values are dates), or `opens`, `deadline`, `start_date` (the campaign's first start
    date), moved by whole years, months and days (negative to go back)."""

    date: Annotated[str, Field(max_length=130)]
    years: int = Field(default=0, ge=-100, le=100)
    months: int = Field(default=0, ge=-1200, le=1200)
    days: int = Field(default=0, ge=-36500, le=36500)


class DateRule(Strict):
    """A date field on or after `not_before`, on or before `not_after`; both: within."""

    kind: Literal["date"]
    field: FieldRef
    not_before: DateBound | None = None
    not_after: DateBound | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> DateRule:
        if self.not_before is None and self.not_after is None:
            raise ValueError("indiquez « not_before », « not_after » ou les deux")
        return self


class EqualsRule(Strict):
    """A field whose answer must be the given one (« être diplômé du DES » : oui)."""

    kind: Literal["equals"]
    field: FieldRef
    value: str | bool | int
    message: str | None = None


Rule = Annotated[
    SumRule | BoundRule | OneOfRule | DateRule | EqualsRule, Field(discriminator="kind")
]


class CandidateIdentity(Strict):
    """Where the candidate's identity is: RPPS, else name and birth date. It makes the
    dossier's candidate key; `one_dossier` (the seed's sentence) refuses a second deposited
    dossier for the same candidate in the campaign."""

    rpps: FieldRef | None = None
    name: tuple[FieldRef, ...] = ()
    birth_date: FieldRef | None = None
    one_dossier: str | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class Summary(Strict):
    """Which fields feed the recap columns, the mails and the instructor's table."""

    partner_name: tuple[FieldRef, ...] = ()
    partner_email: FieldRef | None = None
    speciality: FieldRef | None = None
    candidate_name: tuple[FieldRef, ...] = ()

    @field_validator("partner_name", "candidate_name", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class DecisionGroup(Strict):
    """A block of the « Décision » screen: a title (« Etablissement de santé Recruteur »)
    and the fields it recalls, as "volet.field"."""

    title: str
    fields: tuple[FieldRef, ...] = Field(min_length=1)


class Window(Strict):
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError("la période finit avant de commencer")
        return self


class Campaign(Strict):
    slug: Annotated[str, Field(pattern=SLUG_PATTERN, max_length=80)]
    title: str
    agency: str
    department: str | None = None
    description: str | None = None
    contacts: tuple[Contact, ...] = Field(min_length=1)
    depositor: OrganisationType
    depositor_label: str
    opens: dt.date | dt.datetime
    deadline: dt.date | dt.datetime
    deadline_moves_to_instruction: bool = True
    publication: Literal["immediate", "grouped"] = "grouped"
    confirmation_window: Window | None = None
    start_dates: tuple[dt.date, ...] = ()
    rules_text: str = "Tout dossier incomplet et/ou déposé hors délai ne sera pas traité."
    summary: Summary = Summary()
    # What the « Décision » tab recalls above the decision (IdF ASP: both établissements'
    # Nom, CP, Ville, Directeur, Spécialité; MGVH: the candidate's Statut and ONM).
    decision_summary: tuple[DecisionGroup, ...] = ()
    volets: tuple[Volet, ...] = Field(min_length=1)
    pieces: tuple[Piece, ...] = ()
    # Shown on the campaign's page and at the end of the dossier (AUMG: « Le cahier des
    # charges et le mode opératoire sont consultables à la fin du dossier en ligne »).
    reference_documents: tuple[ReferenceDocument, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    consent: str | None = None
    # How long the personal data is kept (workflow.campaigns.retention; None: its default).
    retention: Retention | None = None
    avis: tuple[AvisDef, ...] = ()
    rules: tuple[Rule, ...] = ()
    candidate: CandidateIdentity | None = None
    # « Une fois l'onglet Identification complété, vous avez la possibilité de renseigner les
    # différents onglets dans n'importe quel ordre »: the other volets and the pieces wait
    # until the first volet's required fields are filled (IdF ASP and MGVH manuals).
    identification_first: bool = False
    # The selection commission: funded posts per group, scoring grid, waiting list.
    commission: CommissionDef | None = None
    demo: bool = False
    # After the decision (after_decision.py): the field where each dossier chooses its start
    # date, the steps an accepted dossier goes through, the dossier's ARS contact, and the
    # partner's co-signature through its signed link.
    start_date: StartDateSource | None = None
    post_decision: tuple[PostDecisionStep, ...] = ("maintien", "prise_de_poste")
    ars_contact: ArsContact | None = None
    cosignature: Cosignature | None = None

    @field_validator("opens", "deadline", mode="before")
    @classmethod
    def _instant_or_day(cls, value: object) -> object:
        """A value with a time is an instant even at 00:00 (pydantic would make it a day)."""
        if isinstance(value, str) and ("T" in value or ":" in value):
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    f"date et heure impossibles : « {value} » (attendu : 2026-03-20T18:00)"
                ) from None
        return value

    @model_validator(mode="after")
    def _references_hold(self, info: ValidationInfo) -> Campaign:
        # The loader reports these itself, each at its own line and key.
        if not (info.context or {}).get("loader_checks_references"):
            problems = self.reference_problems()
            if problems:
                raise ValueError("; ".join(message for _, message in problems))
        return self

    def reference_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """What the parts of the campaign say about each other that does not hold, each with
        the path of the key at fault: unknown field references, rules on non-numeric
        fields, duplicate keys, pieces in unknown volets, a deadline before the opening."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for name, items in (
            ("volets", self.volets),
            ("pieces", self.pieces),
            ("attestations", self.attestations),
            ("avis", self.avis),
            ("reference_documents", self.reference_documents),
        ):
            seen: set[str] = set()
            for index, item in enumerate(items):
                if item.key in seen:
                    problems.append(((name, index, "key"), f"clé en double : « {item.key} »"))
                seen.add(item.key)
        piece_keys = {p.key for p in self.pieces}
        for index, document in enumerate(self.reference_documents):
            # Pieces' models and reference documents share the download route's key.
            if document.key in piece_keys:
                message = f"clé déjà prise par une pièce : « {document.key} »"
                problems.append((("reference_documents", index, "key"), message))
        known = {f"{v.key}.{f.key}": f for v in self.volets for f in v.fields}
        refs: list[tuple[tuple[str | int, ...], str]] = []
        for v_index, volet in enumerate(self.volets):
            for f_index, field in enumerate(volet.fields):
                for name in ("visible_if", "required_if"):
                    condition = getattr(field, name)
                    if condition:
                        path = ("volets", v_index, "fields", f_index, name, "field")
                        refs.append((path, condition.field))
        for p_index, piece in enumerate(self.pieces):
            if piece.required_if:
                refs.append((("pieces", p_index, "required_if", "field"), piece.required_if.field))
            if piece.volet and piece.volet not in {v.key for v in self.volets}:
                message = f"volet inconnu : « {piece.volet} »"
                problems.append((("pieces", p_index, "volet"), message))
        for r_index, rule in enumerate(self.rules):
            if isinstance(rule, BoundRule | DateRule | EqualsRule):
                refs.append((("rules", r_index, "field"), rule.field))
            else:
                refs += [
                    (("rules", r_index, "fields", i), ref) for i, ref in enumerate(rule.fields)
                ]
        summary = self.summary
        for name in ("partner_name", "candidate_name"):
            refs += [(("summary", name, i), ref) for i, ref in enumerate(getattr(summary, name))]
        for g_index, group in enumerate(self.decision_summary):
            refs += [
                (("decision_summary", g_index, "fields", i), ref)
                for i, ref in enumerate(group.fields)
            ]
        refs += avis_field_refs(self.avis)
        for name in ("partner_email", "speciality"):
            if getattr(summary, name):
                refs.append((("summary", name), getattr(summary, name)))
        if self.candidate:
            refs += [(("candidate", "name", i), ref) for i, ref in enumerate(self.candidate.name)]
            for name in ("rpps", "birth_date"):
                if getattr(self.candidate, name):
                    refs.append((("candidate", name), getattr(self.candidate, name)))
        if self.commission and self.commission.group_by:
            refs.append((("commission", "group_by"), self.commission.group_by))
        for path, ref in refs:
            if ref not in known:
                problems.append((path, f"champ inconnu : « {ref} »"))
            else:
                message = self._type_problem(path, ref, known[ref])
                if message:
                    problems.append((path, message))
        for r_index, rule in enumerate(self.rules):
            if isinstance(rule, DateRule):
                for name in ("not_before", "not_after"):
                    bound = getattr(rule, name)
                    if bound is not None:
                        path = ("rules", r_index, name, "date")
                        message = self._bound_problem(bound.date, known)
                        if message:
                            problems.append((path, message))
            elif isinstance(rule, EqualsRule) and rule.field in known:
                message = _equals_problem(rule.value, known[rule.field])
                if message:
                    problems.append((("rules", r_index, "value"), message))
        problems += after_decision_problems(self, known)
        if _as_date(self.deadline) < _as_date(self.opens):
            problems.append((("deadline",), "la date limite précède la date d'ouverture"))
        return problems

    def _type_problem(self, path: tuple[str | int, ...], ref: str, field: FieldDef) -> str | None:
        """Why the field `ref` cannot be used where `path` names it, or None."""
        wanted: dict[str, set[FieldType]] = {
            "sum": {FieldType.INTEGER, FieldType.PERCENTAGE},
            "min": {FieldType.INTEGER, FieldType.PERCENTAGE},
            "max": {FieldType.INTEGER, FieldType.PERCENTAGE},
            "date": {FieldType.DATE},
            "equals": {FieldType.YES_NO, FieldType.CHOICE, FieldType.TEXT, FieldType.INTEGER},
        }
        if path[0] == "rules":
            kind = self.rules[int(path[1])].kind
            types = wanted.get(kind)
            if types is not None and field.type not in types:
                if kind in ("sum", "min", "max"):
                    return (
                        f"une règle « {kind} » porte sur des champs numériques, "
                        f"pas sur « {ref} » ({field.type})"
                    )
                return f"une règle « {kind} » ne peut pas porter sur « {ref} » ({field.type})"
        if path[0] == "candidate":
            types = {
                "rpps": {FieldType.RPPS},
                "birth_date": {FieldType.DATE},
                "name": {FieldType.TEXT},
            }[str(path[1])]
            if field.type not in types:
                expected = next(iter(types)).value
                return (
                    f"« {path[1]} » demande un champ « {expected} », pas « {ref} » ({field.type})"
                )
        return None

    def _bound_problem(self, date: str, known: dict[str, FieldDef]) -> str | None:
        """Why a date rule cannot compare with `date`, or None."""
        if date in DATE_KEYWORDS:
            if date == "start_date" and not self.start_dates:
                return "« start_date » demande les « start_dates » de la campagne"
            return None
        if date not in known:
            keywords = ", ".join(f"« {k} »" for k in DATE_KEYWORDS)
            return f"date inconnue : « {date} » (un champ « volet.champ » ou {keywords})"
        field = known[date]
        if field.type is FieldType.DATE:
            return None
        if field.type is FieldType.CHOICE and all(_is_iso_date(c.value) for c in field.choices):
            return None
        return (
            f"« {date} » n'est pas une date ({field.type}) : un champ « date », ou un choix "
            "dont chaque valeur est une date 2026-03-20"
        )

    def field(self, ref: str) -> FieldDef:
        """The field named "volet.field"."""
        volet_key, field_key = ref.split(".", 1)
        volet = next(v for v in self.volets if v.key == volet_key)
        return next(f for f in volet.fields if f.key == field_key)

    def volet(self, key: str) -> Volet:
        """The volet with this key (KeyError if none)."""
        for volet in self.volets:
            if volet.key == key:
                return volet
        raise KeyError(key)


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _equals_problem(value: str | bool | int, field: FieldDef) -> str | None:
    """Why a field can never hold `value` (an `equals` rule that no answer can meet)."""
    if field.type is FieldType.YES_NO and not isinstance(value, bool):
        return "une réponse oui/non attend « true » ou « false »"
    if field.type is FieldType.CHOICE and str(value) not in {c.value for c in field.choices}:
        return f"« {value} » n'est pas une des valeurs proposées par le champ"
    return None


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _check_choices(type_: FieldType, choices: tuple[Choice, ...]) -> None:
    needs = type_ in {FieldType.CHOICE, FieldType.MULTI_CHOICE}
    if needs and not choices:
        raise ValueError(f"un champ « {type_} » demande ses « choices »")
    if not needs and choices:
        raise ValueError(f"un champ « {type_} » n'a pas de « choices »")
    _require_unique([c.value for c in choices], "choix")


def _require_unique(keys: list[str], what: str) -> None:
    seen: set[str] = set()
    twice = sorted({k for k in keys if k in seen or seen.add(k)})
    if twice:
        raise ValueError(f"{what} en double : {', '.join(twice)}")
