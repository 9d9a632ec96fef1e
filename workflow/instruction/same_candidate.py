"""The « candidat présent dans un autre dossier » marker: the same candidate (RPPS, else
name and birth date) proposed by another deposited dossier, in any campaign or region."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.models import Dossier

MARKER = "candidat présent dans un autre dossier"


def other_dossiers_of_candidate(session: Session, dossier: Dossier) -> int:
    """How many other deposited dossiers, in any campaign, name the dossier's candidate.
    Brouillons are left out: they are their organisation's private drafts, which no
    instructor sees, and counting them would tell of one."""
    if not dossier.candidate_key:
        return 0
    count = session.scalar(
        select(func.count(Dossier.id)).where(
            Dossier.candidate_key == dossier.candidate_key,
            Dossier.id != dossier.id,
            Dossier.state != "brouillon",
        )
    )
    return int(count or 0)
