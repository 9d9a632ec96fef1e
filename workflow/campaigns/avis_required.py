"""The avis and signatures a dossier still waits for before it can be deposited: those the
campaign declares `asked_by: deposant` and `required` (« le dossier doit impérativement
comprendre … » the avis of Annexes 5 to 11, the candidate's consent of Annexe 12), not yet
given. They are listed with the other missing items and hold the deposit back."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.completeness import Problem
from workflow.campaigns.schema import Campaign
from workflow.models import Avis

AVIS = "avis"


def given_before_deposit(session: Session, dossier_id: int) -> set[str]:
    """The keys of the avis given on the dossier at the déposant's invitation."""
    return set(
        session.scalars(
            select(Avis.avis_key).where(
                Avis.dossier_id == dossier_id,
                Avis.invited_by == "deposant",
                Avis.given_at.is_not(None),
            )
        )
    )


def missing_avis(definition: Campaign, given: set[str]) -> list[Problem]:
    """One problem per required avis of the déposant's not in `given`, in campaign order."""
    return [
        Problem(AVIS, avis.key, f"« {avis.label} » n'a pas encore été donné.")
        for avis in definition.avis
        if avis.before_deposit and avis.required and avis.key not in given
    ]


def missing_avis_of(session: Session, definition: Campaign, dossier_id: int) -> list[Problem]:
    """`missing_avis` of the dossier, read from the database only where the campaign requires
    some avis of the déposant (the other campaigns' deposits send no query for it)."""
    if not any(a.before_deposit and a.required for a in definition.avis):
        return []
    return missing_avis(definition, given_before_deposit(session, dossier_id))
