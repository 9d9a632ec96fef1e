"""What a guard or an effect sees while an event is fired on one dossier."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from workflow.actors import Actor
from workflow.campaigns.schema import Campaign as CampaignDefinition
from workflow.dates import paris_date
from workflow.models import Campaign, Dossier

if TYPE_CHECKING:
    from transitions import EventData

    from workflow.machine import EventSpec


@dataclass
class Firing:
    """The model given to the static machine: it proxies `state` to the dossier."""

    session: Session
    dossier: Dossier
    campaign: Campaign
    definition: CampaignDefinition
    actor: Actor
    payload: dict[str, Any]
    now: dt.datetime
    spec: EventSpec
    reasons: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.dossier.state

    @state.setter
    def state(self, value: str) -> None:
        self.dossier.state = value

    @property
    def today(self) -> dt.date:
        """Today in Paris, the day the manuals' dates speak of."""
        return paris_date(self.now)

    def guards_hold(self, event_data: EventData) -> bool:
        """Runs every guard of the event and keeps all their reasons, so the user learns
        everything that is missing at once rather than one thing per attempt."""
        from workflow.guards import REGISTRY

        for name in self.spec.guards:
            found = REGISTRY[name](self)
            self.reasons += [found] if isinstance(found, str) else list(found or [])
        return not self.reasons

    def apply_effects(self, event_data: EventData) -> None:
        """Runs the event's effects, in the order of states.yaml, after the state is set."""
        from workflow.effects import REGISTRY

        for name in self.spec.effects:
            REGISTRY[name](self)
