"""The instructor's view of a campaign: counts per state and a filtered, sorted, paginated
table of dossiers. Queries stay on indexed columns so that a database holding 100,000
dossiers answers a page in milliseconds."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from workflow.campaigns.completeness import Report, completeness
from workflow.campaigns.store import definition_of
from workflow.instruction.deposited import DEPOSITED
from workflow.models import Attachment, Decision, Dossier, Organisation

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
# Dossier numbers are a 32-bit INTEGER column. A query is looked up as a number only when
# written in ASCII digits within that range: « ² » passes str.isdigit() but not int(), and
# 9223372036854775808 overflows SQLite. Either is still searched as text.
NUMBER_QUERY = re.compile(r"[0-9]{1,10}")
NUMBER_MAX = 2**31 - 1


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
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
        .group_by(Dossier.state)
    ).all()
    return {state: count for state, count in rows}


def specialities(session: Session, campaign_id: int) -> list[str]:
    """The specialities present in the campaign, for the filter's choices."""
    return list(
        session.scalars(
            select(Dossier.speciality)
            .where(Dossier.campaign_id == campaign_id, DEPOSITED, Dossier.speciality.is_not(None))
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
        .options(selectinload(Dossier.decision))
    ).all()
    return Page([(dossier, name) for dossier, name in rows], total, page, pages)


def _filtered(campaign_id: int, filters: Filters) -> Select:
    query = (
        select(Dossier, Organisation.name)
        .join(Organisation, Organisation.id == Dossier.organisation_id)
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
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
        if NUMBER_QUERY.fullmatch(text) and int(text) <= NUMBER_MAX:
            matches.append(Dossier.number == int(text))
        query = query.where(or_(*matches))
    return query


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def counts_by_campaign(session: Session, campaign_ids: list[int]) -> dict[int, dict[str, int]]:
    """`counts_by_state` for several campaigns in one query (the instructor's home page)."""
    counts: dict[int, dict[str, int]] = {campaign_id: {} for campaign_id in campaign_ids}
    if campaign_ids:
        rows = session.execute(
            select(Dossier.campaign_id, Dossier.state, func.count())
            .where(Dossier.campaign_id.in_(campaign_ids), DEPOSITED)
            .group_by(Dossier.campaign_id, Dossier.state)
        ).all()
        for campaign_id, state, count in rows:
            counts[campaign_id][state] = count
    return counts


def completeness_of(session: Session, dossiers: list[Dossier]) -> dict[int, Report]:
    """The completeness of each dossier of a page, with one query for all their pieces."""
    pieces: dict[int, list[str]] = {d.id: [] for d in dossiers}
    if dossiers:
        rows = session.execute(
            select(Attachment.dossier_id, Attachment.piece_key).where(
                Attachment.dossier_id.in_(list(pieces))
            )
        ).all()
        for dossier_id, piece_key in rows:
            pieces[dossier_id].append(piece_key)
    return {
        d.id: completeness(
            definition_of(session, d.campaign_version_id),
            d.values or {},
            pieces=pieces[d.id],
            attestations=d.attestations or [],
            consent=d.consent,
        )
        for d in dossiers
    }


def unpublished_decisions(session: Session, campaign_id: int) -> int:
    """How many recorded decisions of the campaign wait for « Publier les résultats »."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Decision)
            .join(Dossier, Dossier.id == Decision.dossier_id)
            .where(Dossier.campaign_id == campaign_id, Decision.published_at.is_(None))
        )
        or 0
    )
