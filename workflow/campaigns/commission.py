"""The campaign format's commission part: how many posts are funded, in total and per group,
which field groups the dossiers, the optional scoring grid and how the waiting list fills.

The seeds speak of a « jury de sélection » (IdF) and of a « commission régionale »
(Normandie) that examines the complete dossiers; the number of funded posts is decided each
year by the ARS and is not printed in the manuals, so a campaign file may leave it out and an
administrator sets it on the campaign's page (audited)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The same shapes as schema.py's, which imports this module (it cannot be imported back).
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
FieldRef = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupPosts(Strict):
    """The posts funded for one group: `value` is the grouping field's value (a choice's
    value, or the text typed), `label` how the commission names it when it differs."""

    value: Annotated[str, Field(min_length=1, max_length=200)]
    posts: int = Field(ge=0, le=10_000)
    label: str | None = None


class Criterion(Strict):
    """One line of the scoring grid: each member scores it from 0 to `maximum`."""

    key: Key
    label: str
    weight: float = Field(default=1, gt=0, le=100)
    maximum: int = Field(default=20, ge=1, le=1000)


class CommissionDef(Strict):
    """The `commission:` section of a campaign file."""

    label: str = "Commission de sélection"
    # The field whose value makes the groups (speciality, subdivision, territory): the
    # campaign chooses; without it the campaign is one group.
    group_by: FieldRef | None = None
    funded_posts: int | None = Field(default=None, ge=0, le=100_000)
    groups: tuple[GroupPosts, ...] = ()
    scoring: tuple[Criterion, ...] = ()
    # automatic: the scheduler promotes the first of the waiting list at once; confirmed: it
    # proposes the promotion and an instructor confirms it.
    promotion: Literal["automatic", "confirmed"] = "automatic"
    # Invited members (no account) read through their signed link; they score too when the
    # campaign says so.
    invited_members_score: bool = True

    @model_validator(mode="after")
    def _groups_hold(self) -> CommissionDef:
        values = [g.value for g in self.groups]
        if len(values) != len(set(values)):
            raise ValueError("groupe en double dans « groups »")
        if self.groups and self.group_by is None:
            raise ValueError("des postes par groupe demandent « group_by »")
        total = sum(g.posts for g in self.groups)
        if self.funded_posts is not None and self.groups and total > self.funded_posts:
            raise ValueError(
                f"les postes des groupes ({total}) dépassent le total financé ({self.funded_posts})"
            )
        keys = [c.key for c in self.scoring]
        if len(keys) != len(set(keys)):
            raise ValueError("critère en double dans « scoring »")
        return self
