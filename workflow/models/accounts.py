"""Organisations that deposit, and the people who sign in."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflow.models.base import Base


class Role(StrEnum):
    DEPOSANT = "deposant"
    INSTRUCTEUR = "instructeur"
    ADMINISTRATEUR = "administrateur"


ORGANISATION_TYPES = ("etablissement_sante", "structure_soins", "universite", "candidat")


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint(
            "type IN ('etablissement_sante', 'structure_soins', 'universite', 'candidat')",
            name="known_type",
        ),
        # The manuals: a hospital is identified by its FINESS, a care structure by its
        # SIRET. A university may give its SIRET, but the AUMG manual signs it in with « l'adresse
        # email de l'université » and « un mot de passe » only.
        CheckConstraint(
            "type <> 'etablissement_sante' OR finess IS NOT NULL", name="hospital_has_finess"
        ),
        CheckConstraint(
            "type <> 'structure_soins' OR siret IS NOT NULL",
            name="structure_has_siret",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    finess: Mapped[str | None] = mapped_column(String(9), unique=True)
    siret: Mapped[str | None] = mapped_column(String(14), unique=True)
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    city: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('deposant', 'instructeur', 'administrateur')", name="known_role"),
        CheckConstraint(
            "(role = 'deposant') = (organisation_id IS NOT NULL)",
            name="deposant_has_organisation",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    full_name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    email_confirmed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")
