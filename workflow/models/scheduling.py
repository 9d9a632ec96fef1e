"""What the scheduler needs to be safe with several processes: a leader lease, and the
notices already sent (so that a reminder sweep run twice sends nothing twice)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models.base import Base


class SchedulerLease(Base):
    """One row per lease; the process whose name is in `holder` until `expires_at` leads."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[dt.datetime]


class Notice(Base):
    """A reminder or request already queued, by a key naming what it is about
    (e.g. "j7:campaign=3:organisation=5"); the primary key makes a second one impossible."""

    __tablename__ = "notices"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sent_at: Mapped[dt.datetime]
