"""Settings an administrator changes while the service runs (« ProConnect obligatoire pour
les agents »): one row per setting, written with who changed it and when."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from workflow.models.base import Base, JSONValue


class Setting(Base):
    """One setting by its key; a missing row means the setting's default."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONValue)
    updated_at: Mapped[dt.datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
