"""What happened: the append-only audit trail, the mail outbox and the number counter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models.base import Base, JSONValue


class AuditEvent(Base):
    """One change of a dossier. Rows are only ever inserted (database triggers refuse UPDATE
    and DELETE), and `dossier_id` is a plain reference, not a foreign key, so the trail of a
    deleted dossier stays whole. One exception, once per row (migration 0017): the RGPD purge
    replaces the names and addresses of `actor_label` and `payload` by pseudonyms and sets
    `pseudonymised_at`; the triggers refuse any other change."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_dossier_at", "dossier_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int | None]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(254))
    at: Mapped[dt.datetime]
    event: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    pseudonymised_at: Mapped[dt.datetime | None]


class OutboxMail(Base):
    """A mail to send, written in the transaction of the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="known_status"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(254))
    dossier_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossiers.id", ondelete="SET NULL"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    context: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    # Documents attached by reference (states.yaml's `attach:`, e.g. « lettre_decision »):
    # resolved and read from the storage when the mail is sent, never bytes in the row.
    attachments: Mapped[list[str]] = mapped_column(JSONValue, default=list, server_default="[]")
    # Stable across retries, so a mail resent after a crash is recognisably the same one.
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]


class Counter(Base):
    """Dossier numbers on SQLite, which has no sequences (PostgreSQL uses one)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)
