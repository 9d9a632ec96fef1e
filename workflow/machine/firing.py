"""What a guard or an effect sees while an event is fired on one dossier."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from workflow.campaigns.schema import Campaign as CampaignDefinition
from workflow.machine.spec import EventSpec
from workflow.models import Campaign, Dossier
from workflow.people.actors import Actor
from workflow.plumbing.dates import paris_date


@dataclass
class Firing:
    """The model given to the static machine: it proxies `state` to the dossier. The guards
    and effects that the machine runs on it are registered in `guards` and `effects`."""

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
