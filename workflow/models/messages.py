"""The messagerie of a dossier: messages between the déposant's organisation and the ARS,
each with an optional PDF, and when the other side read it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models.base import Base

# Who writes: the dossier's organisation (its déposants) or the ARS (instructeurs,
# administrateurs). A message is read by the other side.
SIDES = ("organisation", "ars")


class Message(Base):
    """One message of a dossier's thread. `read_at` is when the other side first read it;
    a correction request is the ARS's message of kind « corrections »."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("side IN ('organisation', 'ars')", name="known_side"),
        CheckConstraint("kind IN ('message', 'corrections')", name="known_kind"),
        CheckConstraint("length(trim(body)) > 0", name="has_body"),
        # A correction request comes from the ARS.
        CheckConstraint("kind = 'message' OR side = 'ars'", name="corrections_from_ars"),
        # An attachment is a whole: its name, stored file, size and digest together.
        CheckConstraint(
            "(attachment_storage_name IS NULL) = (attachment_filename IS NULL) "
            "AND (attachment_storage_name IS NULL) = (attachment_size IS NULL) "
            "AND (attachment_storage_name IS NULL) = (attachment_sha256 IS NULL)",
            name="attachment_whole",
        ),
        Index("ix_messages_dossier", "dossier_id", "id"),
        # The dashboard's « message non lu »: the few unread messages of a dossier.
        Index(
            "ix_messages_unread",
            "dossier_id",
            "side",
            sqlite_where=text("read_at IS NULL"),
            postgresql_where=text("read_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_label: Mapped[str] = mapped_column(String(254))
    side: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(12), default="message")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    read_at: Mapped[dt.datetime | None]
    attachment_filename: Mapped[str | None] = mapped_column(String(255))
    attachment_storage_name: Mapped[str | None] = mapped_column(String(80), unique=True)
    attachment_size: Mapped[int | None]
    attachment_sha256: Mapped[str | None] = mapped_column(String(64))
