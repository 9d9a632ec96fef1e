"""Generated documents kept as they were sent or downloaded: decision letters and
procès-verbaux, stored once with their SHA-256 (also written in the audit trail)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models.base import Base

DOCUMENT_KINDS = ("lettre_decision", "proces_verbal")
_KIND_LIST = ", ".join(f"'{k}'" for k in DOCUMENT_KINDS)


class ArchivedDocument(Base):
    """One generated PDF. `reference` says what it was generated for (« decision:12 »,
    « session:3 »): one document per kind and reference, so a letter sent to three
    addresses and downloaded twice is the same bytes. `dossier_id` is a plain reference, as
    in the audit trail, so the archive outlives anything."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_KIND_LIST})", name="known_kind"),
        CheckConstraint("length(sha256) = 64", name="sha256_hex"),
        CheckConstraint("size > 0", name="not_empty"),
        UniqueConstraint("kind", "reference", name="once_per_reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(80))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    dossier_id: Mapped[int | None] = mapped_column(index=True)
    filename: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str] = mapped_column(String(80), unique=True)
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
