"""What the « Données personnelles » page says, drawn from the campaigns themselves: each
campaign's consent text (the seeds' own words where they have one) and how long its data
is kept, with the day its purge is due."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.avis_defs import AvisKind
from workflow.campaigns.retention import DEFAULT
from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.store import current_version, definition_of
from workflow.models import Campaign
from workflow.privacy.purge import expiry


@dataclass(frozen=True)
class CampaignNotice:
    """One campaign as the privacy page shows it."""

    title: str
    agency: str
    consent: str | None
    retention: str
    purge_on: dt.date
    contact: str
    purged: bool


def campaign_notices(session: Session) -> list[CampaignNotice]:
    """Every campaign, latest deadline first, with its consent text and retention."""
    notices = []
    campaigns = session.scalars(select(Campaign).order_by(Campaign.deadline_at.desc(), Campaign.id))
    for campaign in campaigns:
        definition = definition_of(session, current_version(session, campaign).id)
        notices.append(
            CampaignNotice(
                title=campaign.title,
                agency=campaign.agency,
                consent=_consent_text(definition),
                retention=(definition.retention or DEFAULT).describe(),
                purge_on=expiry(session, campaign),
                contact=campaign.contact_email,
                purged=campaign.purged_at is not None,
            )
        )
    return notices


def _consent_text(definition: Definition) -> str | None:
    """The campaign's consent text: the box the déposant ticks, or, where the candidate gives
    consent through their own link (Normandie ASR, Annexe 12), the text the candidate signs."""
    if definition.consent:
        return definition.consent
    for avis in definition.avis:
        if avis.giver == AvisKind.CANDIDAT and avis.statement:
            return avis.statement
    return None
