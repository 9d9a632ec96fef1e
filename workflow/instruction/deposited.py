"""What the ARS may see: a dossier once it is deposited. A brouillon belongs to its
organisation alone; for an instructor or an administrator it does not exist yet, on any page,
count, export or archive."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from workflow.machine.states import workflow
from workflow.models import Dossier

# The deposit gives the number, and nothing takes it away: a numbered dossier was deposited.
DEPOSITED: ColumnElement[bool] = Dossier.number.is_not(None)


def is_deposited(dossier: Dossier) -> bool:
    """True once the dossier has been deposited (it has its number)."""
    return dossier.number is not None


def deposited_states() -> dict[str, str]:
    """The states a deposited dossier can be in, with their French labels: every state but
    the initial one, the brouillon."""
    machine = workflow()
    return {s: label for s, label in machine.state_labels.items() if s != machine.initial}
