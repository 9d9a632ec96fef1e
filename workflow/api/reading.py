"""What the API reads: the campaigns a token covers and their deposited dossiers, filtered
and paged by a cursor (the last id seen: rows written meanwhile shift nothing), and one
dossier with its pieces, avis, decision and audit trail. A brouillon does not exist for the
API, as for the ARS's pages (`instruction.deposited`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.store import current_version
from workflow.instruction.deposited import DEPOSITED, is_deposited
from workflow.machine.operations import load_dossier
from workflow.models import AuditEvent, Avis, Campaign, Dossier

MAX_PAGE = 200


@dataclass(frozen=True)
class DossierFilter:
    """What a client asks of a campaign's dossiers; every part is optional."""

    state: str | None = None
    speciality: str | None = None
    updated_since: dt.datetime | None = None


def campaigns_of(session: Session, campaign_ids: list[int]) -> list[Campaign]:
    """The campaigns among `campaign_ids`, in id order."""
    if not campaign_ids:
        return []
    return list(
        session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)).order_by(Campaign.id))
    )


def campaign_by_slug(session: Session, slug: str) -> Campaign | None:
    """The campaign with this slug, if any."""
    return session.scalar(select(Campaign).where(Campaign.slug == slug))


def dossier_page(
    session: Session, campaign_id: int, wanted: DossierFilter, after_id: int | None, limit: int
) -> tuple[list[Dossier], int | None]:
    """One page of the campaign's deposited dossiers in id order, and the cursor of the next
    page (None on the last)."""
    limit = max(1, min(limit, MAX_PAGE))
    query = (
        select(Dossier)
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
        .order_by(Dossier.id)
        .limit(limit + 1)
    )
    if wanted.state:
        query = query.where(Dossier.state == wanted.state)
    if wanted.speciality:
        query = query.where(Dossier.speciality == wanted.speciality)
    if wanted.updated_since:
        query = query.where(Dossier.updated_at >= wanted.updated_since)
    if after_id is not None:
        query = query.where(Dossier.id > after_id)
    rows = list(session.scalars(query))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def deposited_dossier(session: Session, dossier_id: int) -> Dossier | None:
    """The dossier if it is deposited; None otherwise (a brouillon is its organisation's)."""
    dossier = load_dossier(session, dossier_id)
    if dossier is None or not is_deposited(dossier):
        return None
    return dossier


def avis_of(session: Session, dossier_id: int) -> list[Avis]:
    """The avis asked on the dossier, oldest first."""
    return list(
        session.scalars(select(Avis).where(Avis.dossier_id == dossier_id).order_by(Avis.id))
    )


def audit_of(session: Session, dossier_id: int) -> list[AuditEvent]:
    """The dossier's audit trail, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.dossier_id == dossier_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


def current_definition(session: Session, campaign: Campaign) -> dict:
    """The definition new dossiers of the campaign start on, as loaded from its YAML."""
    return current_version(session, campaign).definition
