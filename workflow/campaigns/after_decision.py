"""What a campaign file says of each dossier once it is decided: the dossier's own start date
(the field where it is chosen), the steps that follow an acceptance (maintien, prise de
poste), the ARS contact of the dossier (chosen by a field, with a functional mailbox), and
the partner's co-signature. These are the campaign format's models (`schema` holds them);
`per_dossier` reads a dossier with them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field

from workflow.campaigns.schema_base import FieldRef, Strict

Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
PostDecisionStep = Literal["maintien", "prise_de_poste"]
STEP_LABELS = {
    "maintien": "la confirmation du maintien du projet de recrutement",
    "prise_de_poste": "la confirmation de la prise de poste",
}


class StartDateSource(Strict):
    """Where a dossier's start date is chosen (Normandie ASR « Date de la prise de fonction »):
    a date field, or a choice whose values are dates or are given one in `dates`
    (Normandie ASP « Prise de fonction » : novembre_2025 → 3 novembre 2025)."""

    field: FieldRef
    dates: dict[str, dt.date] = {}

    def day_for(self, value: Any) -> dt.date | None:
        """The start date an answer of the field stands for, or None (no answer)."""
        if not isinstance(value, str) or not value:
            return None
        if value in self.dates:
            return self.dates[value]
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None


class ArsContact(Strict):
    """The dossier's ARS contact, chosen by the answer of a field (Normandie ASP « Subdivision
    de » : Rouen or Caen), and the functional mailbox that receives every ARS mail of the
    campaign as well, where the campaign names one."""

    field: FieldRef | None = None
    by_value: dict[str, Email] = {}
    mailbox: Email | None = None


class Cosignature(Strict):
    """The partner organisation certifies, through its signed link, with its name and
    function (Normandie ASR: the CHU's Direction des Affaires Médicales also receives the
    candidate's complete dossier)."""

    who: str
    statement: str


def after_decision_problems(
    definition: Any, known: dict[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    """What the `start_date`, `ars_contact` and `post_decision` keys of a campaign
    (`schema.Campaign`) say that does not hold, each with the path of its key; `known` are its
    fields (`schema.FieldDef`) by "volet.field". Typed loosely: `schema` imports this module,
    which therefore cannot import it back."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    source = definition.start_date
    if source is not None:
        field = known.get(source.field)
        if field is None:
            problems.append((("start_date", "field"), f"champ inconnu : « {source.field} »"))
        elif field.type == "choice":
            undated = [c.value for c in field.choices if source.day_for(c.value) is None]
            if undated:
                listed = ", ".join(f"« {v} »" for v in undated)
                message = f"donnez une date aux choix {listed} dans « dates »"
                problems.append((("start_date", "dates"), message))
        elif field.type != "date":
            message = f"« {source.field} » n'est ni une date ni un choix ({field.type})"
            problems.append((("start_date", "field"), message))
    contact = definition.ars_contact
    if contact is not None:
        if contact.field is not None and contact.field not in known:
            problems.append((("ars_contact", "field"), f"champ inconnu : « {contact.field} »"))
        elif contact.field is not None:
            values = {c.value for c in known[contact.field].choices}
            unknown = [v for v in contact.by_value if values and v not in values]
            if unknown:
                listed = ", ".join(f"« {v} »" for v in unknown)
                message = f"valeurs absentes des choix du champ : {listed}"
                problems.append((("ars_contact", "by_value"), message))
        if contact.field is None and not contact.mailbox:
            message = "indiquez « field » et « by_value », ou « mailbox »"
            problems.append((("ars_contact",), message))
    if "prise_de_poste" in definition.post_decision and "maintien" not in definition.post_decision:
        # The machine goes accepte → confirme → en_poste: no prise de poste without maintien.
        message = "« prise_de_poste » suit « maintien » : indiquez les deux"
        problems.append((("post_decision",), message))
    return problems
