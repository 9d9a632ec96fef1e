"""The groups the commission ranks in (speciality, subdivision or territory: the campaign's
`commission.group_by` field) and the posts funded for each, from the campaign file or as an
administrator set them (audited)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.campaigns.commission import CommissionDef
from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.store import current_version, definition_of
from workflow.journal.audit import record_campaign_audit
from workflow.models import Campaign, Dossier, FundedPosts
from workflow.people.actors import Actor
from workflow.plumbing import clock
from workflow.plumbing.errors import TransitionRefused

NO_GROUP = ""
NO_GROUP_LABEL = "Ensemble de la campagne"


def commission_of(session: Session, campaign: Campaign) -> tuple[Definition, CommissionDef]:
    """The campaign's current definition and its commission part (the defaults when the
    file has none: one group, no scoring grid, automatic promotion)."""
    definition = definition_of(session, current_version(session, campaign).id)
    return definition, definition.commission or CommissionDef()


def group_value(commission: CommissionDef, dossier: Dossier) -> str:
    """The value of the grouping field in the dossier, or NO_GROUP."""
    if commission.group_by is None:
        return NO_GROUP
    volet, field = commission.group_by.split(".", 1)
    value = ((dossier.values or {}).get(volet) or {}).get(field)
    return str(value).strip() if value not in (None, "") else NO_GROUP


def group_label(definition: Definition, commission: CommissionDef, value: str) -> str:
    """How pages and minutes name a group: the commission's label for it, else the choice's
    label, else the value typed."""
    if value == NO_GROUP:
        return NO_GROUP_LABEL if commission.group_by is None else "Groupe non renseigné"
    for group in commission.groups:
        if group.value == value and group.label:
            return group.label
    if commission.group_by:
        volet_key, field_key = commission.group_by.split(".", 1)
        for volet in definition.volets:
            for field in volet.fields:
                if volet.key == volet_key and field.key == field_key:
                    for choice in field.choices:
                        if choice.value == value:
                            return choice.label
    return value


@dataclass(frozen=True)
class Quotas:
    """The funded posts: the total (None when nobody declared it) and per group."""

    total: int | None
    per_group: dict[str, int]

    def text(self) -> str:
        """The numbers as the audit trail shows them."""
        total = "non déclaré" if self.total is None else str(self.total)
        groups = ", ".join(f"{value} : {posts}" for value, posts in self.per_group.items())
        return f"total {total}" + (f" ; {groups}" if groups else "")

    def posts(self, group: str) -> int:
        """The posts of one group: its own number, else (one group only) the total."""
        if group in self.per_group:
            return self.per_group[group]
        if not self.per_group and self.total is not None:
            return self.total
        return 0


def quotas_of(session: Session, campaign: Campaign) -> Quotas:
    """The posts funded, each number as an administrator last set it, else as the file says."""
    _, commission = commission_of(session, campaign)
    total = commission.funded_posts
    per_group = {g.value: g.posts for g in commission.groups}
    for row in session.scalars(select(FundedPosts).where(FundedPosts.campaign_id == campaign.id)):
        if row.group_value == NO_GROUP:
            total = row.posts
        else:
            per_group[row.group_value] = row.posts
    return Quotas(total, per_group)


def set_funded_posts(
    session: Session,
    campaign: Campaign,
    actor: Actor,
    total: int | None,
    per_group: dict[str, int],
    reason: str,
    now: dt.datetime | None = None,
) -> Quotas:
    """An administrator sets the funded posts of a campaign, in total and per group, with a
    reason kept in the audit trail with the numbers before and after."""
    now = now or clock.now()
    problems: list[str] = []
    if actor.role != "administrateur":
        problems.append("Action réservée aux administrateurs de l'ARS.")
    if not reason.strip():
        problems.append("Le motif est obligatoire.")
    numbers = [*per_group.values(), *([total] if total is not None else [])]
    if any(n < 0 for n in numbers):
        problems.append("Un nombre de postes ne peut pas être négatif.")
    if total is not None and sum(per_group.values()) > total:
        problems.append(
            f"Les postes des groupes ({sum(per_group.values())}) dépassent le total ({total})."
        )
    if problems:
        raise TransitionRefused("Modifier les postes financés", problems)
    before = quotas_of(session, campaign)
    existing = {
        row.group_value: row
        for row in session.scalars(
            select(FundedPosts).where(FundedPosts.campaign_id == campaign.id)
        )
    }
    wanted = dict(per_group)
    if total is not None:
        wanted[NO_GROUP] = total
    for value, posts in wanted.items():
        row = existing.get(value)
        if row is None:
            session.add(FundedPosts(campaign_id=campaign.id, group_value=value, posts=posts))
        else:
            row.posts = posts
    session.flush()
    after = quotas_of(session, campaign)
    record_campaign_audit(
        session,
        campaign.id,
        actor,
        "modifier_postes_finances",
        now,
        {
            "avant": before.text(),
            "apres": after.text(),
            "postes_avant": {"total": before.total, "groupes": before.per_group},
            "postes_apres": {"total": after.total, "groupes": after.per_group},
            "motif": reason.strip(),
        },
    )
    return after
