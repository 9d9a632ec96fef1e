"""The avis a campaign asks (`avis:` in a campaign file): who gives each one, who asks for it
(the déposant before deposit, or the ARS after), whether deposit waits for it, the fields of
the seed's annex the giver fills in (« Pour la période du … au … », « Descriptif du projet
de formation », « Fonction dans la structure », the verdict, a comment) and how the giver may
sign: the signed annex as a PDF, or an explicit « je certifie » with name and function.

The candidate's own consent (ASR Annexe 12, « les données personnelles me concernant ») is
the same mechanism with the giver kind `candidat`: a personal link, and a signature."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import field_validator, model_validator

from workflow.campaigns.schema_base import FieldRef, Key
from workflow.campaigns.schema_base import Strict as _Strict

# The sentence a giver ticks when the campaign lets them sign without a PDF.
DEFAULT_CERTIFICATION = (
    "Je certifie l'exactitude des informations ci-dessus ; cette case cochée, avec mes nom et "
    "fonction, vaut signature de cet avis."
)


class AvisKind(StrEnum):
    COORDONNATEUR = "coordonnateur"
    CHEF_DE_SERVICE = "chef_de_service"
    DIRECTEUR = "directeur"
    PRESIDENT_CME = "president_cme"
    # The candidate, for what only they can give (consent about their own data).
    CANDIDAT = "candidat"


class AnnexFieldType(StrEnum):
    # « Pour la période du … au … »: two dates, the second on or after the first.
    PERIOD = "period"
    TEXT = "text"
    LONG_TEXT = "long_text"
    # « Donne un avis favorable à … »: favorable or défavorable.
    VERDICT = "verdict"


class AnnexField(_Strict):
    """One blank of the seed's annex, as the giver fills it in."""

    key: Key
    label: str
    type: AnnexFieldType
    required: bool = True
    help: str | None = None


SignatureMode = Literal["pdf", "certification"]


class AvisDef(_Strict):
    key: Key
    label: str
    giver: AvisKind
    required: bool = False
    help: str | None = None
    # Who asks for it: the ARS after deposit (the original flow), or the déposant before
    # deposit, which then waits for every `required` one.
    asked_by: Literal["ars", "deposant"] = "ars"
    # The annex's blanks; none: the ARS's plain form (verdict, comment, optional PDF).
    fields: tuple[AnnexField, ...] = ()
    # How the giver signs: the signed annex as a PDF, and/or « je certifie » + name, function.
    signature: tuple[SignatureMode, ...] = ("pdf",)
    # The text shown above the form (the annex's « Je soussigné(e) … » or a consent text).
    statement: str | None = None
    certification_text: str = DEFAULT_CERTIFICATION
    # Where the dossier already holds the giver's name and address (prefilled in the invite).
    giver_name_from: tuple[FieldRef, ...] = ()
    giver_email_from: FieldRef | None = None

    @field_validator("giver_name_from", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> AvisDef:
        if not self.signature:
            raise ValueError("indiquez au moins un mode de signature : « pdf », « certification »")
        if len(set(self.signature)) != len(self.signature):
            raise ValueError("mode de signature en double")
        keys = [f.key for f in self.fields]
        if len(set(keys)) != len(keys):
            raise ValueError("champ d'annexe en double")
        return self

    @property
    def before_deposit(self) -> bool:
        """Asked by the déposant, before deposit."""
        return self.asked_by == "deposant"


def avis_field_refs(avis: tuple[AvisDef, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """The dossier fields the avis prefill their giver from, each with its path in the file,
    for the campaign's reference checks."""
    refs: list[tuple[tuple[str | int, ...], str]] = []
    for index, definition in enumerate(avis):
        for position, ref in enumerate(definition.giver_name_from):
            refs.append((("avis", index, "giver_name_from", position), ref))
        if definition.giver_email_from:
            refs.append((("avis", index, "giver_email_from"), definition.giver_email_from))
    return refs
