"""What outside tools use: API tokens (only their hash is kept), webhooks registered per
campaign, and the webhook deliveries queued in the transaction of the change they announce."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models.base import Base, JSONValue

TOKEN_SCOPES = ("lecture", "ecriture")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class ApiToken(Base):
    """A named bearer token for the JSON API, scoped to campaigns (`campaign_ids`, empty
    for none) and to reading or reading and writing. The secret is shown once; the table
    keeps its SHA-256 and its first characters to tell tokens apart."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(
            "scope IN (" + ", ".join(f"'{s}'" for s in TOKEN_SCOPES) + ")", name="known_scope"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(10))
    campaign_ids: Mapped[list[int]] = mapped_column(JSONValue, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ApiCall(Base):
    """One call made with an API token, reads included (the changes it makes are also in the
    dossiers' audit trail under « jeton : <nom> »): who called, what, the answer's status."""

    __tablename__ = "api_calls"
    __table_args__ = (Index("ix_api_calls_token_id_at", "token_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    token_name: Mapped[str] = mapped_column(String(120))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    status: Mapped[int]
    at: Mapped[dt.datetime]


class Webhook(Base):
    """A URL that receives, signed with its own secret, the chosen events of one campaign
    (`events`: names from `workflow.journal.webhooks.EVENTS`)."""

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_campaign_id_active", "campaign_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    url: Mapped[str] = mapped_column(String(500))
    events: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    # Kept in clear: the sender needs it to sign (like SECRET_KEY, it lives in the database's
    # protection). Shown once at registration.
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime]


class WebhookDelivery(Base):
    """One event for one webhook, written in the change's transaction and sent after it by
    the scheduler. `delivery_id` is stable across retries (the receiver's key for handling an
    event once); `claimed_until` fences a batch so two schedulers never send it twice."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in DELIVERY_STATUSES) + ")",
            name="known_status",
        ),
        CheckConstraint(
            "status != 'delivered' OR delivered_at IS NOT NULL", name="delivered_has_date"
        ),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    claimed_until: Mapped[dt.datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    last_status_code: Mapped[int | None]
    # A short excerpt of the receiver's answer or of the error, never the whole body.
    last_response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    delivered_at: Mapped[dt.datetime | None]
