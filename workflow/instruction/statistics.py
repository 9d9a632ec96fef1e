"""The ARS's statistics, per campaign and across campaigns: deposited dossiers by state,
speciality and commission group, decisions and acceptance rate, time from deposit to
decision, posts funded against posts filled, withdrawals (désistements).

Set-based: two grouped queries whatever the number of dossiers — the counts by campaign,
speciality and state read the dashboard's index (ix_dossiers_dashboard_counts) alone, and
the decisions are summed in the database — then a few hundred grouped rows are added up
here. Brouillons are never counted: for the ARS they do not exist yet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from workflow.commission.groups import quotas_of
from workflow.instruction.deposited import DEPOSITED, deposited_states
from workflow.instruction.exports import neutralised
from workflow.models import Campaign, Decision, Dossier

NO_SPECIALITY = "Spécialité non renseignée"
NOT_GIVEN = "non renseigné"
FILLED_STATE = "en_poste"
WITHDRAWN_STATE = "desiste"


def funded_posts_of(session: Session, campaign: Campaign) -> tuple[int | None, dict[str, int]]:
    """The posts the campaign funds: its total (None when nobody declared any: the column
    reads « non renseigné ») and its posts per commission group (« Dermatologie » → 2), as
    an administrator last set them, else as the campaign file says (`quotas_of`)."""
    quotas = quotas_of(session, campaign)
    total = quotas.total
    if total is None and quotas.per_group:
        total = sum(quotas.per_group.values())
    return total, dict(quotas.per_group)


@dataclass
class Figures:
    """One line of the statistics: a campaign, a speciality, a group or the total."""

    label: str
    by_state: dict[str, int] = field(default_factory=dict)
    decided: int = 0
    accepted: int = 0
    refused: int = 0
    sans_suite: int = 0
    days_to_decision: float = 0.0
    funded: int | None = None

    @property
    def deposited(self) -> int:
        return sum(self.by_state.values())

    @property
    def filled(self) -> int:
        """Posts filled: the candidate took the post (« prise de poste » confirmed)."""
        return self.by_state.get(FILLED_STATE, 0)

    @property
    def withdrawn(self) -> int:
        """Désistements: the déposant gave the post up after acceptance."""
        return self.by_state.get(WITHDRAWN_STATE, 0)

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted decisions over all decisions (accepted, refused, sans suite)."""
        return self.accepted / self.decided if self.decided else None

    @property
    def mean_days_to_decision(self) -> float | None:
        """Mean days from the deposit to the decision, over the decided dossiers."""
        return self.days_to_decision / self.decided if self.decided else None

    def counts(self, states: Iterable[str]) -> list[int]:
        """The counts of `states`, in their order (0 for a state with none)."""
        return [self.by_state.get(state, 0) for state in states]

    def add(self, other: Figures) -> None:
        for state, count in other.by_state.items():
            self.by_state[state] = self.by_state.get(state, 0) + count
        self.decided += other.decided
        self.accepted += other.accepted
        self.refused += other.refused
        self.sans_suite += other.sans_suite
        self.days_to_decision += other.days_to_decision
        if other.funded is not None:
            self.funded = (self.funded or 0) + other.funded


@dataclass
class Statistics:
    """The figures of a set of campaigns: one line each, per speciality, per group of the
    commission (where the campaigns fund posts per group) and in total."""

    campaigns: list[Figures]
    specialities: list[Figures]
    groups: list[Figures]
    total: Figures
    states: dict[str, str]


def statistics(session: Session, campaigns: Sequence[Campaign]) -> Statistics:
    """The statistics of `campaigns` (those the reader may see: the caller chose them)."""
    ids = [c.id for c in campaigns]
    per_campaign = {c.id: Figures(c.title) for c in campaigns}
    # (campaign id, speciality) -> figures
    cells: dict[tuple[int, str], Figures] = {}

    def cell(campaign_id: int, speciality: str | None) -> Figures:
        key = (campaign_id, speciality or NO_SPECIALITY)
        if key not in cells:
            cells[key] = Figures(key[1])
        return cells[key]

    if ids:
        for campaign_id, speciality, state, count in session.execute(
            select(Dossier.campaign_id, Dossier.speciality, Dossier.state, func.count())
            .where(Dossier.campaign_id.in_(ids), DEPOSITED)
            .group_by(Dossier.campaign_id, Dossier.speciality, Dossier.state)
        ):
            cell(campaign_id, speciality).by_state[state] = count
        days = _days_between(session, Dossier.deposited_at, Decision.decided_at)
        for campaign_id, speciality, kind, count, total_days in session.execute(
            select(
                Dossier.campaign_id,
                Dossier.speciality,
                Decision.kind,
                func.count(),
                func.coalesce(func.sum(days), 0),
            )
            .join(Decision, Decision.dossier_id == Dossier.id)
            .where(Dossier.campaign_id.in_(ids), DEPOSITED)
            .group_by(Dossier.campaign_id, Dossier.speciality, Decision.kind)
        ):
            figures = cell(campaign_id, speciality)
            figures.decided += count
            figures.days_to_decision += float(total_days)
            if kind == "accepte":
                figures.accepted += count
            elif kind == "refuse":
                figures.refused += count
            else:
                figures.sans_suite += count
    specialities: dict[str, Figures] = {}
    for (campaign_id, speciality), figures in cells.items():
        per_campaign[campaign_id].add(figures)
        specialities.setdefault(speciality, Figures(speciality)).add(figures)
    groups = _groups(session, campaigns, cells, per_campaign)
    total = Figures("Total")
    for figures in per_campaign.values():
        total.add(figures)
    return Statistics(
        campaigns=[per_campaign[i] for i in ids],
        specialities=sorted(specialities.values(), key=lambda f: (-f.deposited, f.label)),
        groups=groups,
        total=total,
        states=deposited_states(),
    )


def _groups(
    session: Session,
    campaigns: Sequence[Campaign],
    cells: dict[tuple[int, str], Figures],
    per_campaign: dict[int, Figures],
) -> list[Figures]:
    """One line per funded group, its dossiers those of the speciality of the same name."""
    # Assumption: the seeds give no per-group figure (the MGVH manual only announces « 400
    # postes de médecins généralistes dans les territoires prioritaires »); a commission
    # group is taken to be a speciality, as the dossiers carry no other grouping.
    lines: list[Figures] = []
    for campaign in campaigns:
        total, funded = funded_posts_of(session, campaign)
        if total is None:
            continue
        per_campaign[campaign.id].funded = total
        prefix = f"{campaign.title} — " if len(campaigns) > 1 else ""
        for label, posts in funded.items():
            line = Figures(prefix + label)
            found = cells.get((campaign.id, label))
            if found is not None:
                line.add(found)
            line.funded = posts
            lines.append(line)
    return lines


def _days_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    """Days from `start` to `end` as a number, in the database's own date arithmetic."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


# --- the same figures as a CSV ----------------------------------------------------------------


def percent(value: float | None) -> str:
    """« 66,7 % », or « — » when there is nothing to divide."""
    return "—" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def days(value: float | None) -> str:
    """« 12,5 », or « — »."""
    return "—" if value is None else f"{value:.1f}".replace(".", ",")


def funded_label(value: int | None) -> str:
    return NOT_GIVEN if value is None else str(value)


def table_rows(stats: Statistics) -> Iterable[tuple[str, Figures]]:
    """Every line of the statistics with its level, in the order of the page."""
    for figures in stats.campaigns:
        yield "Campagne", figures
    for figures in stats.specialities:
        yield "Spécialité", figures
    for figures in stats.groups:
        yield "Groupe", figures
    yield "Total", stats.total


def header(stats: Statistics) -> list[str]:
    return [
        "Niveau",
        "Libellé",
        "Dossiers déposés",
        *stats.states.values(),
        "Décisions",
        "Acceptés",
        "Refusés",
        "Classés sans suite",
        "Taux d'acceptation",
        "Délai moyen du dépôt à la décision (jours)",
        "Postes financés",
        "Postes pourvus",
        "Désistements",
    ]


def line(stats: Statistics, level: str, figures: Figures) -> list[Any]:
    return [
        level,
        figures.label,
        figures.deposited,
        *figures.counts(stats.states),
        figures.decided,
        figures.accepted,
        figures.refused,
        figures.sans_suite,
        percent(figures.acceptance_rate),
        days(figures.mean_days_to_decision),
        funded_label(figures.funded),
        figures.filled,
        figures.withdrawn,
    ]


def statistics_csv(stats: Statistics) -> bytes:
    """The figures as the exports write them: UTF-8 with a BOM, semicolons, and no text that
    a spreadsheet would run as a formula (`exports.neutralised`)."""
    output = io.StringIO()
    output.write("\ufeff")
    writer = csv.writer(output, delimiter=";", lineterminator="\r\n")
    writer.writerow(header(stats))
    for level, figures in table_rows(stats):
        writer.writerow(
            [neutralised(v) if isinstance(v, str) else v for v in line(stats, level, figures)]
        )
    return output.getvalue().encode("utf-8")
