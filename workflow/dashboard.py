"""The instructor's view of a campaign: counts per state and a filtered, sorted, paginated
table of dossiers. Queries stay on indexed columns so that a database holding 100,000
dossiers answers a page in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from workflow.models import Dossier, Organisation

SORTS = {
    "numero": Dossier.number,
    "organisation": Organisation.name,
    "partenaire": Dossier.partner_name,
    "specialite": Dossier.speciality,
    "candidat": Dossier.candidate_name,
    "etat": Dossier.state,
    "priorite": Dossier.priority,
    "modifie": Dossier.updated_at,
}
PAGE_SIZE = 50


@dataclass(frozen=True)
class Filters:
    state: str | None = None
    speciality: str | None = None
    search: str | None = None
    sort: str = "numero"
    descending: bool = False
    page: int = 1


@dataclass
class Page:
    rows: list[tuple[Dossier, str]] = field(default_factory=list)
    total: int = 0
    page: int = 1
    pages: int = 1


def counts_by_state(session: Session, campaign_id: int) -> dict[str, int]:
    """How many dossiers of the campaign are in each state (states with none are absent)."""
    rows = session.execute(
        select(Dossier.state, func.count())
        .where(Dossier.campaign_id == campaign_id)
        .group_by(Dossier.state)
    ).all()
    return {state: count for state, count in rows}


def specialities(session: Session, campaign_id: int) -> list[str]:
    """The specialities present in the campaign, for the filter's choices."""
    return list(
        session.scalars(
            select(Dossier.speciality)
            .where(Dossier.campaign_id == campaign_id, Dossier.speciality.is_not(None))
            .distinct()
            .order_by(Dossier.speciality)
        )
    )


def dossier_page(session: Session, campaign_id: int, filters: Filters) -> Page:
    """One page of the campaign's dossiers, with their organisation's name.

    The search matches a dossier number exactly, or a candidate, partner or organisation name
    in part, whatever the case.
    """
    query = _filtered(campaign_id, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    column = SORTS.get(filters.sort, Dossier.number)
    order = column.desc() if filters.descending else column.asc()
    rows = session.execute(
        query.order_by(order.nulls_last(), Dossier.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    return Page([(dossier, name) for dossier, name in rows], total, page, pages)


def _filtered(campaign_id: int, filters: Filters) -> Select:
    query = (
        select(Dossier, Organisation.name)
        .join(Organisation, Organisation.id == Dossier.organisation_id)
        .where(Dossier.campaign_id == campaign_id)
    )
    if filters.state:
        query = query.where(Dossier.state == filters.state)
    if filters.speciality:
        query = query.where(Dossier.speciality == filters.speciality)
    text = (filters.search or "").strip()
    if text:
        pattern = f"%{_escape(text.lower())}%"
        matches = [
            func.lower(column).like(pattern, escape="\\")
            for column in (Dossier.candidate_name, Dossier.partner_name, Organisation.name)
        ]
        if text.isdigit():
            matches.append(Dossier.number == int(text))
        query = query.where(or_(*matches))
    return query


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
