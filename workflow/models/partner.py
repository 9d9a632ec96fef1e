"""The partner organisation's co-signature of a dossier, given through its signed link."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models.base import Base


class Cosignature(Base):
    """« Je certifie … »: who signed for the partner, in which function, what, and when.
    One per dossier; the audit trail keeps the event too."""

    __tablename__ = "cosignatures"
    __table_args__ = (
        # A co-signature names a person and the function in which they sign.
        CheckConstraint("length(trim(signer_name)) > 0", name="signer_named"),
        CheckConstraint("length(trim(signer_function)) > 0", name="function_named"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), unique=True
    )
    partner_email: Mapped[str] = mapped_column(String(254))
    signer_name: Mapped[str] = mapped_column(String(200))
    signer_function: Mapped[str] = mapped_column(String(200))
    statement: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[dt.datetime]
