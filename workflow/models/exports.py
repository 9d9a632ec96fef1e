"""Exports of a campaign produced in the background: one row per request, from the queue to
the file in storage, until the file expires."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models.base import Base

EXPORT_KINDS = ("csv", "xlsx", "zip")
EXPORT_STATUSES = ("queued", "running", "done", "failed", "expired")


class ExportJob(Base):
    """A CSV, XLSX or ZIP export of one campaign, asked by one person. A worker claims a
    queued job (`worker`, `heartbeat_at`), moves `progress_done` towards `progress_total`,
    and leaves the file under `storage_name` until `expires_at`."""

    __tablename__ = "export_jobs"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in EXPORT_KINDS) + ")", name="known_kind"
        ),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in EXPORT_STATUSES) + ")", name="known_status"
        ),
        CheckConstraint("status != 'done' OR storage_name IS NOT NULL", name="done_has_file"),
        Index("ix_export_jobs_status_id", "status", "id"),
        Index("ix_export_jobs_campaign_id_id", "campaign_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    kind: Mapped[str] = mapped_column(String(10))
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    storage_name: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(120))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
