"""The selection commission: its sessions, members, opinions, ranks and scores, the funded
posts an administrator sets, and the promotions from the liste complémentaire."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.models.base import Base

OPINIONS = ("favorable", "defavorable", "liste_complementaire")
PROPOSALS = ("accepte", "liste_complementaire", "refuse")
PROMOTION_STATUSES = ("a_confirmer", "promu")


class FundedPosts(Base):
    """The posts an administrator funds for a campaign, overriding its file: one row for the
    total (`group_value` empty) and one per group."""

    __tablename__ = "commission_funded_posts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "group_value", name="one_count_per_group"),
        CheckConstraint("posts >= 0", name="posts_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    group_value: Mapped[str] = mapped_column(String(200), default="")
    posts: Mapped[int]


class CommissionSession(Base):
    """One sitting of the commission for a campaign."""

    __tablename__ = "commission_sessions"
    __table_args__ = (CheckConstraint("length(trim(title)) > 0", name="titled"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[dt.date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # When its proposed decisions were applied: the session's agenda is then settled.
    applied_at: Mapped[dt.datetime | None]

    members: Mapped[list[CommissionMember]] = relationship(
        back_populates="session", order_by="CommissionMember.id"
    )


class CommissionMember(Base):
    """An instructor (with an account) or an invited member (a signed link, no account)."""

    __tablename__ = "commission_members"
    __table_args__ = (
        CheckConstraint("user_id IS NOT NULL OR email IS NOT NULL", name="instructor_or_invited"),
        CheckConstraint("length(trim(name)) > 0", name="named"),
        UniqueConstraint("session_id", "user_id", name="one_seat_per_instructor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("commission_sessions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(200))
    # « instructrice », « instructeur », « membre invité », « président de CME »…
    quality: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    invited_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    session: Mapped[CommissionSession] = relationship(back_populates="members")


class Assessment(Base):
    """What the commission says of one dossier of its agenda: opinion with its reason, rank
    in the dossier's group, and the decision proposed from the quotas."""

    __tablename__ = "commission_assessments"
    __table_args__ = (
        UniqueConstraint("session_id", "dossier_id", name="one_per_dossier"),
        CheckConstraint(
            "opinion IS NULL OR opinion IN ('favorable', 'defavorable', 'liste_complementaire')",
            name="known_opinion",
        ),
        CheckConstraint("opinion IS NULL OR length(trim(reason)) > 0", name="opinion_has_reason"),
        CheckConstraint("rank IS NULL OR rank >= 1", name="rank_positive"),
        CheckConstraint(
            "proposal IS NULL OR proposal IN ('accepte', 'liste_complementaire', 'refuse')",
            name="known_proposal",
        ),
        # A proposal the instructor changed says why.
        CheckConstraint(
            "adjusted = false OR length(trim(adjustment)) > 0", name="adjustment_motivated"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("commission_sessions.id", ondelete="CASCADE")
    )
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    group_value: Mapped[str] = mapped_column(String(200), default="")
    opinion: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    rank: Mapped[int | None]
    proposal: Mapped[str | None] = mapped_column(String(24))
    adjusted: Mapped[bool] = mapped_column(default=False)
    adjustment: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime | None]


class Score(Base):
    """One member's score of one criterion for one dossier."""

    __tablename__ = "commission_scores"
    __table_args__ = (
        UniqueConstraint("member_id", "dossier_id", "criterion", name="one_score_per_criterion"),
        CheckConstraint("value >= 0", name="value_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("commission_sessions.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("commission_members.id", ondelete="CASCADE"))
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    criterion: Mapped[str] = mapped_column(String(60))
    value: Mapped[float] = mapped_column(Float)
    scored_at: Mapped[dt.datetime]


class Promotion(Base):
    """A post a laureate left (withdrawn, or maintien not confirmed in its window), and the
    dossier of the liste complémentaire promoted to it. The unique vacated dossier makes the
    promotion happen once, whichever scheduler gets there first."""

    __tablename__ = "commission_promotions"
    __table_args__ = (
        CheckConstraint("status IN ('a_confirmer', 'promu')", name="known_status"),
        CheckConstraint(
            "status <> 'promu' OR (promoted_dossier_id IS NOT NULL AND promoted_at IS NOT NULL)",
            name="promoted_has_dossier",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    group_value: Mapped[str] = mapped_column(String(200), default="")
    vacated_dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), unique=True)
    # Why the post is free: « desistement » or « maintien_non_confirme ».
    cause: Mapped[str] = mapped_column(String(30))
    promoted_dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12))
    found_at: Mapped[dt.datetime]
    promoted_at: Mapped[dt.datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
