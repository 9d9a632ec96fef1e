"""Campaigns and the versions of their definitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.models.base import Base, JSONValue


class Campaign(Base):
    """An appel à candidatures; its dates are columns so that "is it open?" is asked of data."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("publication IN ('immediate', 'grouped')", name="known_publication"),
        CheckConstraint("deadline_at > opens_at", name="deadline_after_opening"),
        CheckConstraint(
            "confirmation_end IS NULL OR confirmation_end >= confirmation_start",
            name="confirmation_window_ordered",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    agency: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(254))
    # The functional mailbox that receives the ARS's mails of every dossier, where the
    # campaign names one (its `ars_contact: mailbox:`).
    contact_mailbox: Mapped[str | None] = mapped_column(String(254))
    current_version: Mapped[int] = mapped_column(default=1)
    opens_at: Mapped[dt.datetime]
    # The instant from which deposits are refused; for a deadline given as a day this is the
    # next midnight in Paris, and deadline_whole_day says to show it as "... inclus".
    deadline_at: Mapped[dt.datetime] = mapped_column(index=True)
    deadline_whole_day: Mapped[bool] = mapped_column(default=True)
    moves_to_instruction: Mapped[bool] = mapped_column(default=True)
    publication: Mapped[str] = mapped_column(String(10), default="grouped")
    confirmation_start: Mapped[dt.date | None]
    confirmation_end: Mapped[dt.date | None]
    start_dates: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    demo: Mapped[bool] = mapped_column(default=False)
    # A digest of the dates as the file last gave them: a reload applies the file's dates only
    # when the file changed them, so a deadline an administrator moved stays moved.
    file_dates_digest: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[dt.datetime | None]
    results_published_at: Mapped[dt.datetime | None]
    # When the RGPD purge finished with the campaign (workflow.privacy.purge).
    purged_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    versions: Mapped[list[CampaignVersion]] = relationship(
        back_populates="campaign", order_by="CampaignVersion.version"
    )


class CampaignVersion(Base):
    """A definition as loaded from its file; a dossier keeps the version it was started on."""

    __tablename__ = "campaign_versions"
    __table_args__ = (
        UniqueConstraint("campaign_id", "version", name="one_number"),
        # Ids are never reused, even after a rollback: definitions are cached by id.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]]
    checksum: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(300))
    loaded_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    campaign: Mapped[Campaign] = relationship(back_populates="versions")
