"""The instructor's view of a campaign: counts per state and a filtered, sorted table of
dossiers, paged by keyset. Every query stays on an index of migrations 0008 and 0019 (the
sort by organisation reads the name copied on the dossier), so that a campaign of 100,000
dossiers answers any page, the last one included, in milliseconds.

Pages are keyset pages, not numbered ones: a page is « the 50 dossiers after (or before) this
one » in the chosen order, with the dossier's id as tiebreaker, so that the database reads 50
index entries whatever the page (an OFFSET reads and throws away every row before it). The
counts per state and speciality come from one grouped query over one index, read once per
page; they give the total of any state and speciality filter. A search counts its matches.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal_column,
    or_,
    select,
    table,
    tuple_,
)
from sqlalchemy.orm import Session, joinedload

from workflow.campaigns.completeness import Report, completeness
from workflow.campaigns.store import definition_of
from workflow.instruction.deposited import DEPOSITED
from workflow.messagerie.messages import unread_by
from workflow.models import Attachment, Decision, Dossier, Organisation
from workflow.plumbing.search_text import normalise

SORTS: dict[str, Any] = {
    "numero": Dossier.number,
    # The name copied on the dossier (migration 0019): the join's Organisation.name has no
    # index in the campaign's order, and sorting by it sorted every dossier of the campaign.
    "organisation": Dossier.organisation_name,
    "partenaire": Dossier.partner_name,
    "specialite": Dossier.speciality,
    "candidat": Dossier.candidate_name,
    "etat": Dossier.state,
    "priorite": Dossier.priority,
    "modifie": Dossier.updated_at,
}
# Columns a deposited dossier may leave empty: shown after the others in either direction.
NULLABLE = {"partenaire", "specialite", "candidat", "priorite"}
PAGE_SIZE = 50
# Dossier numbers are a 32-bit INTEGER column. A query is looked up as a number only when
# written in ASCII digits within that range: « ² » passes str.isdigit() but not int(), and
# 9223372036854775808 overflows SQLite. Either is still searched as text.
NUMBER_MAX = 2**31 - 1
FTS = "dossiers_search"
# The dashboard's follow-up filters: a message from the déposant the ARS has not read, and
# corrections the déposant transmitted (the dossier back in instruction, no decision since).
MARKERS = {"messages": "Message non lu", "corrections": "Corrections transmises"}
UNREAD_BY_ARS = unread_by("ars").label("unread")


@dataclass(frozen=True)
class Filters:
    """What the instructor asked for: filters, sort, and where the page starts — after the
    dossier `after`, before the dossier `before`, at the end (`last`), else at the start."""

    state: str | None = None
    speciality: str | None = None
    search: str | None = None
    sort: str = "numero"
    descending: bool = False
    after: int | None = None
    before: int | None = None
    last: bool = False
    marker: str | None = None


@dataclass
class Page:
    rows: list[tuple[Dossier, str]] = field(default_factory=list)
    total: int = 0
    has_previous: bool = False
    has_next: bool = False
    # The dossiers of the page with a message the ARS has not read.
    unread: set[int] = field(default_factory=set)

    def markers(self, dossier: Dossier) -> list[str]:
        """The follow-up markers of a dossier of the page, as the table shows them."""
        shown = []
        if dossier.id in self.unread:
            shown.append(MARKERS["messages"])
        if corrections_transmitted(dossier):
            shown.append(MARKERS["corrections"])
        return shown

    @property
    def first_id(self) -> int | None:
        return self.rows[0][0].id if self.rows else None

    @property
    def last_id(self) -> int | None:
        return self.rows[-1][0].id if self.rows else None


@dataclass(frozen=True)
class Overview:
    """How many deposited dossiers of the campaign per (state, speciality)."""

    counts: dict[tuple[str, str | None], int]

    def by_state(self) -> dict[str, int]:
        """How many dossiers in each state (states with none are absent)."""
        totals: dict[str, int] = {}
        for (state, _), count in self.counts.items():
            totals[state] = totals.get(state, 0) + count
        return totals

    def specialities(self) -> list[str]:
        """The specialities present, for the filter's choices."""
        return sorted({s for _, s in self.counts if s is not None})

    def total(self, state: str | None, speciality: str | None) -> int:
        """How many dossiers a state and speciality filter keeps."""
        return sum(
            count
            for (s, spec), count in self.counts.items()
            if (state is None or s == state) and (speciality is None or spec == speciality)
        )


def overview(session: Session, campaign_id: int) -> Overview:
    """The campaign's counts per state and speciality: one grouped query that reads the
    index ix_dossiers_dashboard_counts alone."""
    rows = session.execute(
        select(Dossier.state, Dossier.speciality, func.count())
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
        .group_by(Dossier.state, Dossier.speciality)
    ).all()
    return Overview({(state, speciality): count for state, speciality, count in rows})


def counts_by_state(session: Session, campaign_id: int) -> dict[str, int]:
    """How many dossiers of the campaign are in each state (states with none are absent)."""
    return overview(session, campaign_id).by_state()


def specialities(session: Session, campaign_id: int) -> list[str]:
    """The specialities present in the campaign, for the filter's choices."""
    return overview(session, campaign_id).specialities()


def dossier_page(
    session: Session, campaign_id: int, filters: Filters, counted: Overview | None = None
) -> Page:
    """One page of the campaign's dossiers, with their organisation's name.

    The search matches, whatever the case and the accents, part of the number, the
    organisation, the partner, the candidate or the speciality, or a number exactly.
    `counted` (the campaign's `overview`) saves a query when the caller has it already.
    """
    query = _filtered(campaign_id, filters, session.get_bind().dialect.name)
    if (filters.search and filters.search.strip()) or filters.marker in MARKERS:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    else:
        counted = counted or overview(session, campaign_id)
        total = counted.total(filters.state, filters.speciality)
    anchor_id = filters.after if filters.after is not None else filters.before
    anchor = _anchor(session, campaign_id, filters.sort, anchor_id)
    if anchor_id is not None and anchor is None:
        filters = Filters()  # the dossier the page started from is gone: the first page
    forward = not (filters.last or (filters.before is not None and anchor is not None))
    rows = _walk(session, query, filters, forward, anchor)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if not forward:
        rows.reverse()
    if forward:
        has_previous, has_next = anchor is not None, more
    else:
        has_previous, has_next = more, not filters.last
    unread = {d.id for d, _, is_unread in rows if is_unread}
    return Page([(d, name) for d, name, _ in rows], total, has_previous, has_next, unread)


def corrections_transmitted(dossier: Dossier) -> bool:
    """The déposant transmitted the corrections asked and the ARS has not decided since."""
    return dossier.state == "en_instruction" and dossier.corrections_transmitted_at is not None


def _sort_column(sort: str) -> Any:
    return SORTS.get(sort, Dossier.number)


def _anchor(
    session: Session, campaign_id: int, sort: str, dossier_id: int | None
) -> tuple[Any, int] | None:
    """The sort value and id of the dossier a page starts after or before."""
    if dossier_id is None:
        return None
    row = session.execute(
        select(_sort_column(sort), Dossier.id)
        .join(Organisation, Organisation.id == Dossier.organisation_id)
        .where(Dossier.id == dossier_id, Dossier.campaign_id == campaign_id, DEPOSITED)
    ).first()
    return (row[0], row[1]) if row is not None else None


def _walk(
    session: Session,
    query: Select,
    filters: Filters,
    forward: bool,
    anchor: tuple[Any, int] | None,
) -> list[Any]:
    """Up to PAGE_SIZE + 1 rows from the anchor on, in the display order (`forward`) or its
    reverse. Empty values come last in the display order; they are a segment of their own,
    read after (or, in reverse, before) the others, so that each query reads one index range
    in its order."""
    column = _sort_column(filters.sort)
    ascending = filters.descending != forward
    by_id = Dossier.id.asc() if ascending else Dossier.id.desc()
    by_column = column.asc() if ascending else column.desc()
    segments: list[tuple[ColumnElement[bool] | None, Sequence[Any]]] = []
    nullable = filters.sort in NULLABLE
    value, ident = anchor if anchor is not None else (None, None)
    anchored_on_empty = anchor is not None and value is None and nullable
    if not (forward and anchored_on_empty):
        beyond = None
        if anchor is not None and not anchored_on_empty:
            beyond = (
                tuple_(column, Dossier.id) > tuple_(value, ident)
                if ascending
                else tuple_(column, Dossier.id) < tuple_(value, ident)
            )
        values = and_(column.is_not(None), beyond) if beyond is not None else column.is_not(None)
        segments.append((values if nullable else beyond, (by_column, by_id)))
    if nullable and (forward or anchor is None or anchored_on_empty):
        empty: ColumnElement[bool] = column.is_(None)
        if anchored_on_empty:
            empty = and_(empty, Dossier.id > ident if ascending else Dossier.id < ident)
        segments.insert(0 if not forward else len(segments), (empty, (by_id,)))
    rows: list[Any] = []
    for condition, order in segments:
        wanted = PAGE_SIZE + 1 - len(rows)
        if wanted <= 0:
            break
        segment = query if condition is None else query.where(condition)
        rows.extend(
            session.execute(
                segment.order_by(*order).limit(wanted).options(joinedload(Dossier.decision))
            )
            .unique()
            .all()
        )
    return rows


def _filtered(campaign_id: int, filters: Filters, dialect: str) -> Select:
    # The unread marker is a column of the page's own query: no statement more per page.
    query = (
        select(Dossier, Organisation.name, UNREAD_BY_ARS)
        .join(Organisation, Organisation.id == Dossier.organisation_id)
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
    )
    if filters.marker == "messages":
        query = query.where(unread_by("ars"))
    elif filters.marker == "corrections":
        query = query.where(
            Dossier.state == "en_instruction", Dossier.corrections_transmitted_at.is_not(None)
        )
    if filters.state:
        query = query.where(Dossier.state == filters.state)
    if filters.speciality:
        query = query.where(Dossier.speciality == filters.speciality)
    text = normalise(filters.search)
    if text:
        matches = [_contains(text, dialect)]
        if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= NUMBER_MAX:
            matches.append(Dossier.number == int(text))
        query = query.where(or_(*matches))
    return query


def _contains(text: str, dialect: str) -> ColumnElement[bool]:
    """The dossiers whose search text contains `text`: on SQLite through the FTS5 trigram
    table of migration 0008 (3 characters at least: a trigram), otherwise with LIKE, which
    PostgreSQL answers from its trigram index when pg_trgm is there."""
    if dialect == "sqlite" and len(text) >= 3:
        phrase = '"' + text.replace('"', '""') + '"'
        return Dossier.id.in_(
            select(literal_column("rowid"))
            .select_from(table(FTS))
            .where(literal_column(FTS).op("MATCH")(phrase))
        )
    return Dossier.search_text.like(f"%{_escape(text)}%", escape="\\")


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


# (database, dossier id, version) -> the dossier's completeness. Checking every field of 50
# dossiers (addresses, identifiers) was a third of a page's time; a dossier's version
# changes with every write to it (values, pieces and boxes all set updated_at), and the form
# of a campaign version never changes, so a report stays right as long as its version.
_reports: OrderedDict[tuple[str, int, int], Report] = OrderedDict()
REPORTS_KEPT = 20_000


def completeness_of(session: Session, dossiers: list[Dossier]) -> dict[int, Report]:
    """The completeness of each dossier of a page, with one query for the pieces of those
    whose current version was not checked yet in this process."""
    database = session.get_bind().url.render_as_string(hide_password=True)
    reports: dict[int, Report] = {}
    for d in dossiers:
        known = _reports.get((database, d.id, d.version))
        if known is not None:
            reports[d.id] = known
    missing = [d for d in dossiers if d.id not in reports]
    pieces: dict[int, list[str]] = {d.id: [] for d in missing}
    if missing:
        rows = session.execute(
            select(Attachment.dossier_id, Attachment.piece_key).where(
                Attachment.dossier_id.in_(list(pieces))
            )
        ).all()
        for dossier_id, piece_key in rows:
            pieces[dossier_id].append(piece_key)
    for d in missing:
        reports[d.id] = _reports[(database, d.id, d.version)] = completeness(
            definition_of(session, d.campaign_version_id),
            d.values or {},
            pieces=pieces[d.id],
            attestations=d.attestations or [],
            consent=d.consent,
        )
    while len(_reports) > REPORTS_KEPT:
        _reports.popitem(last=False)
    return reports


def unpublished_decisions(session: Session, campaign_id: int) -> int:
    """How many recorded decisions of the campaign wait for « Publier les résultats ».

    Read from the unpublished decisions (a few, between a jury and its publication, through
    the partial index ix_decisions_unpublished), each checked against the campaign: a join
    led by the dossiers looked up a decision for each of 100,000 dossiers on every page.
    """
    in_campaign = (
        select(Dossier.id)
        .where(Dossier.id == Decision.dossier_id, Dossier.campaign_id == campaign_id)
        .exists()
    )
    return (
        session.scalar(
            select(func.count())
            .select_from(Decision)
            .where(Decision.published_at.is_(None), in_campaign)
        )
        or 0
    )
