"""Who acts: a signed-in user or the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflow.models import User

SCHEDULER_ROLE = "planificateur"

ROLE_LABELS = {
    "deposant": "aux déposants",
    "instructeur": "aux instructeurs de l'ARS",
    "administrateur": "aux administrateurs de l'ARS",
    SCHEDULER_ROLE: "au planificateur",
}


@dataclass(frozen=True)
class Actor:
    role: str
    user_id: int | None
    organisation_id: int | None
    label: str

    def owns(self, organisation_id: int) -> bool:
        """Whether this actor is a déposant of the organisation that owns a dossier."""
        return self.role == "deposant" and self.organisation_id == organisation_id

    @classmethod
    def of(cls, user: User) -> Actor:
        """The actor behind a signed-in user."""
        return cls(user.role, user.id, user.organisation_id, user.email)


SCHEDULER = Actor(SCHEDULER_ROLE, None, None, "planificateur")
