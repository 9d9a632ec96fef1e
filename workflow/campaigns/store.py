"""Campaigns in the database: loading files into versions, and reading definitions back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.loader import load_directory
from workflow.campaigns.schema import Campaign as Definition
from workflow.models import Campaign, CampaignVersion
from workflow.plumbing.dates import end_instant, start_instant

# Dates live in columns (an administrator may extend a deadline); they do not make a new
# version of the form a dossier was started on.
DATE_KEYS = ("opens", "deadline", "confirmation_window", "start_dates")

_definitions: dict[tuple[str, int], Definition] = {}


@dataclass(frozen=True)
class Loaded:
    campaign: Campaign
    version: CampaignVersion
    created: bool
    new_version: bool


def definition_of(session: Session, version_id: int) -> Definition:
    """The parsed definition of a campaign version.

    Versions never change and their ids are never reused (a sequence on PostgreSQL,
    AUTOINCREMENT on SQLite), so the parse is cached per database and version id.
    """
    key = (session.get_bind().url.render_as_string(hide_password=True), version_id)
    found = _definitions.get(key)
    if found is None:
        row = session.get(CampaignVersion, version_id)
        if row is None:
            raise LookupError(f"no campaign version {version_id}")
        found = _definitions[key] = Definition.model_validate(row.definition)
    return found


def checksum(definition: Definition) -> str:
    """A digest of the form itself, dates excluded."""
    data = definition.model_dump(mode="json", exclude=set(DATE_KEYS))
    if data.get("retention") is None:
        # Definitions stored before `retention:` existed keep their checksum.
        data.pop("retention", None)
    encoded = json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def _dates_digest(definition: Definition) -> str:
    data = definition.model_dump(mode="json", include=set(DATE_KEYS))
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def date_columns(definition: Definition) -> dict[str, Any]:
    """The campaign's date columns as the definition gives them."""
    window = definition.confirmation_window
    return {
        "opens_at": start_instant(definition.opens),
        "deadline_at": end_instant(definition.deadline),
        "deadline_whole_day": not isinstance(definition.deadline, dt.datetime),
        "confirmation_start": window.start if window else None,
        "confirmation_end": window.end if window else None,
        "start_dates": [d.isoformat() for d in definition.start_dates],
    }


def store_campaign(session: Session, definition: Definition, source: str | None = None) -> Loaded:
    """Creates or updates a campaign from its definition, inside the caller's transaction.

    A changed form makes a new version (dossiers keep theirs); an unchanged file changes
    nothing. The dates of a real campaign follow its file when the file changes them (a
    deadline an administrator moved is not undone by reloading the same file); a demo
    campaign keeps the dates of its first load, so that "30 days from today" does not move.
    """
    campaign = session.scalar(select(Campaign).where(Campaign.slug == definition.slug))
    digest = checksum(definition)
    created = campaign is None
    dates_digest = _dates_digest(definition)
    if campaign is None:
        campaign = Campaign(slug=definition.slug, current_version=0, **date_columns(definition))
        campaign.file_dates_digest = dates_digest
        session.add(campaign)
    elif not definition.demo and campaign.file_dates_digest != dates_digest:
        for key, value in date_columns(definition).items():
            setattr(campaign, key, value)
        campaign.file_dates_digest = dates_digest
    campaign.title = definition.title
    campaign.agency = definition.agency
    campaign.contact_email = definition.contacts[0].email
    contact = definition.ars_contact
    campaign.contact_mailbox = contact.mailbox if contact else None
    campaign.moves_to_instruction = definition.deadline_moves_to_instruction
    campaign.publication = definition.publication
    campaign.demo = definition.demo
    session.flush()
    latest = session.scalar(
        select(CampaignVersion)
        .where(CampaignVersion.campaign_id == campaign.id)
        .order_by(CampaignVersion.version.desc())
        .limit(1)
    )
    if latest is not None and latest.checksum == digest:
        return Loaded(campaign, latest, created, False)
    version = CampaignVersion(
        campaign_id=campaign.id,
        version=(latest.version if latest else 0) + 1,
        definition=definition.model_dump(mode="json"),
        checksum=digest,
        source=source,
    )
    session.add(version)
    campaign.current_version = version.version
    session.flush()
    return Loaded(campaign, version, created, True)


def store_directory(session: Session, directory: Path, today: dt.date) -> list[Loaded]:
    """Loads every campaign file of `directory` (all validated before any is stored)."""
    return [
        store_campaign(session, definition, str(path.name))
        for path, definition in load_directory(directory, today)
    ]


def current_version(session: Session, campaign: Campaign) -> CampaignVersion:
    """The version new dossiers start on."""
    return session.scalars(
        select(CampaignVersion).where(
            CampaignVersion.campaign_id == campaign.id,
            CampaignVersion.version == campaign.current_version,
        )
    ).one()
