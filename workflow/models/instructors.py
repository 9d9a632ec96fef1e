"""Which instructeurs follow which campaigns: an instructeur sees only those."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models.base import Base


class CampaignInstructor(Base):
    """An instructeur follows a campaign; the primary key makes each pair unique."""

    __tablename__ = "campaign_instructors"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    since: Mapped[dt.datetime]
