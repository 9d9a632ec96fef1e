"""A dossier (one candidature) and what hangs on it: pieces, avis, decision."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Connection,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    event,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

from workflow.models.accounts import Organisation
from workflow.models.base import Base, JSONValue
from workflow.plumbing.search_text import normalise

if TYPE_CHECKING:
    from workflow.models.campaign import Campaign, CampaignVersion
    from workflow.models.partner import Cosignature

STATES = (
    "brouillon",
    "en_construction",
    "en_instruction",
    "accepte",
    "refuse",
    "sans_suite",
    "confirme",
    "en_poste",
    "desiste",
    "liste_complementaire",
)
_STATE_LIST = ", ".join(f"'{s}'" for s in STATES)
# The dashboard shows deposited dossiers only: its indexes leave the brouillons out.
DEPOSITED_ONLY = {
    "sqlite_where": text("number IS NOT NULL"),
    "postgresql_where": text("number IS NOT NULL"),
}


class Dossier(Base):
    __tablename__ = "dossiers"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATE_LIST})", name="known_state"),
        # A deposited dossier has its number and its deposit time.
        CheckConstraint(
            "state = 'brouillon' OR (number IS NOT NULL AND deposited_at IS NOT NULL)",
            name="deposited_has_number",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_dossiers_campaign_state", "campaign_id", "state"),
        Index("ix_dossiers_organisation_campaign", "organisation_id", "campaign_id"),
        Index("ix_dossiers_candidate_key", "candidate_key", "campaign_id"),
        # The instructors' dashboard (migration 0008): per campaign, one index per sort
        # column with the id as tiebreaker, for keyset pages that read 50 entries whatever
        # the page; counts per state and speciality read from one index alone (migration
        # 0019: of the deposited dossiers, without their number, so that PostgreSQL
        # deduplicates its keys and reads a third of the pages).
        Index("ix_dossiers_dashboard_number", "campaign_id", "number", **DEPOSITED_ONLY),
        Index(
            "ix_dossiers_dashboard_counts", "campaign_id", "state", "speciality", **DEPOSITED_ONLY
        ),
        Index("ix_dossiers_dashboard_state", "campaign_id", "state", "id", **DEPOSITED_ONLY),
        Index(
            "ix_dossiers_dashboard_candidate",
            "campaign_id",
            "candidate_name",
            "id",
            **DEPOSITED_ONLY,
        ),
        Index(
            "ix_dossiers_dashboard_partner", "campaign_id", "partner_name", "id", **DEPOSITED_ONLY
        ),
        Index(
            "ix_dossiers_dashboard_speciality", "campaign_id", "speciality", "id", **DEPOSITED_ONLY
        ),
        Index("ix_dossiers_dashboard_priority", "campaign_id", "priority", "id", **DEPOSITED_ONLY),
        Index("ix_dossiers_dashboard_updated", "campaign_id", "updated_at", "id", **DEPOSITED_ONLY),
        # The sort by organisation (migration 0019), on the name copied on each dossier.
        Index(
            "ix_dossiers_dashboard_organisation",
            "campaign_id",
            "organisation_name",
            "id",
            **DEPOSITED_ONLY,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int | None] = mapped_column(unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    campaign_version_id: Mapped[int] = mapped_column(ForeignKey("campaign_versions.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), default="brouillon")
    values: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    attestations: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    consent: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[int | None]
    # Copied from the values on each save, for recaps, tables and mails.
    candidate_name: Mapped[str | None] = mapped_column(String(200))
    partner_name: Mapped[str | None] = mapped_column(String(300))
    partner_email: Mapped[str | None] = mapped_column(String(254))
    speciality: Mapped[str | None] = mapped_column(String(200))
    # The person at the ARS who follows this dossier when the campaign chooses one by a
    # field (Normandie ASP: the subdivision's contact), copied on each save for the mails.
    ars_contact_email: Mapped[str | None] = mapped_column(String(254))
    # The candidate's identity (RPPS, else name and birth date), computed at each save:
    # one dossier per candidate in a campaign, and the instructors' « candidat présent dans
    # un autre dossier » across campaigns.
    candidate_key: Mapped[str | None] = mapped_column(String(160))
    corrections_message: Mapped[str | None] = mapped_column(Text)
    corrections_due_at: Mapped[dt.datetime | None]
    # When the déposant last fired « Transmettre les corrections »: the dashboard's
    # « corrections transmises » until the next request or decision (migration 0012).
    corrections_transmitted_at: Mapped[dt.datetime | None]
    actual_start_date: Mapped[dt.date | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    deposited_at: Mapped[dt.datetime | None]
    # What the dashboard's search reads: number, organisation, partner, candidate and
    # speciality, normalised (plumbing.search_text); kept by the ORM events below.
    search_text: Mapped[str | None] = mapped_column(Text)
    # The organisation's name, copied so that the dashboard's sort by organisation reads one
    # index of this table instead of joining and sorting every dossier of the campaign; kept
    # by the ORM events below, at the dossier's creation and when the organisation is renamed.
    organisation_name: Mapped[str | None] = mapped_column(String(200))
    # When the RGPD purge replaced its personal data by a marker (workflow.privacy.purge).
    purged_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    campaign: Mapped[Campaign] = relationship()
    campaign_version: Mapped[CampaignVersion] = relationship()
    organisation: Mapped[Organisation] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="dossier", cascade="all, delete-orphan"
    )
    decision: Mapped[Decision | None] = relationship(
        back_populates="dossier", cascade="all, delete-orphan"
    )
    # The partner's « je certifie » (models/partner.py), where the campaign asks for one.
    cosignature: Mapped[Cosignature | None] = relationship(cascade="all, delete-orphan")


SEARCHED = ("number", "organisation_id", "partner_name", "candidate_name", "speciality")


def search_text(dossier: Dossier, organisation_name: str | None) -> str:
    """The dossier's normalised search text, the organisation's name given."""
    return _search_text(
        dossier.number,
        organisation_name,
        dossier.partner_name,
        dossier.candidate_name,
        dossier.speciality,
    )


def _search_text(*parts: object) -> str:
    # In the order of SEARCHED: number, organisation, partner, candidate, speciality.
    return normalise(" ".join(str(part) for part in parts if part not in (None, "")))


@event.listens_for(Dossier, "before_insert")
@event.listens_for(Dossier, "before_update")
def _keep_search_text(mapper: Mapper[Dossier], connection: Connection, dossier: Dossier) -> None:
    # Here rather than in each function that writes a summary column (editing, the deposit's
    # number, tests and scripts): any ORM write keeps it, in the same INSERT or UPDATE.
    # Bulk INSERTs bypass the ORM and must fill it themselves (bench/data.py does).
    state = inspect(dossier)
    if state.persistent and not any(state.attrs[k].history.has_changes() for k in SEARCHED):
        return
    name = _organisation_name(connection, dossier)
    dossier.search_text = search_text(dossier, name)
    # With the search text, whatever changed: a dossier written by a bulk INSERT without the
    # copy (bench/rush.py's brouillons) gets it at its next save (the machine's Core UPDATE
    # too: current_search_text). Unchanged, not written.
    dossier.organisation_name = name


def current_search_text(connection: Connection, dossier: Dossier) -> str:
    """The search text of the dossier's current values, for a writer that bypasses the
    ORM's unit of work (the machine's Core UPDATE) and so these events; a dossier without
    the copy of its organisation's name gets it too, in the caller's UPDATE."""
    name = _organisation_name(connection, dossier)
    if dossier.organisation_name != name:
        dossier.organisation_name = name
    return search_text(dossier, name)


def _organisation_name(connection: Connection, dossier: Dossier) -> str | None:
    """The organisation's name from the session when loaded there, else the dossier's own
    copy of it, else one query. A renamed organisation (closing a candidate's account)
    rewrites its dossiers' copies in the same flush (_follow_organisation_name), so the copy
    is the name as long as the dossier stays with its organisation."""
    state = inspect(dossier)
    key = inspect(Organisation).identity_key_from_primary_key((dossier.organisation_id,))
    loaded = state.session.identity_map.get(key) if state.session is not None else None
    if loaded is not None:
        return loaded.name
    if dossier.organisation_name is not None and "organisation_id" not in state.committed_state:
        return dossier.organisation_name
    return connection.scalar(
        select(Organisation.name).where(Organisation.id == dossier.organisation_id)
    )


@event.listens_for(Organisation, "after_update")
def _follow_organisation_name(
    mapper: Mapper[Organisation], connection: Connection, organisation: Organisation
) -> None:
    # Whatever renames an organisation through the ORM (today the closing of a candidate's
    # account, workflow.privacy.closure) rewrites the copies on its dossiers in the same
    # transaction: the sort by organisation, and the search, follow the name shown.
    if not inspect(organisation).attrs["name"].history.has_changes():
        return
    table = Dossier.__table__
    rows = connection.execute(
        select(
            table.c.id,
            table.c.number,
            table.c.partner_name,
            table.c.candidate_name,
            table.c.speciality,
        ).where(table.c.organisation_id == organisation.id)
    ).all()
    if not rows:
        return
    # An organisation has a few dossiers per campaign: one executemany, without the ORM,
    # so that the dossiers' versions (the déposants' edit conflicts) do not change.
    values = [
        {
            "_id": row.id,
            "name": organisation.name,
            "text": _search_text(
                row.number, organisation.name, row.partner_name, row.candidate_name, row.speciality
            ),
        }
        for row in rows
    ]
    connection.execute(
        update(table)
        .where(table.c.id == bindparam("_id"))
        .values(organisation_name=bindparam("name"), search_text=bindparam("text")),
        values,
    )
    # The dossiers of the session keep the values written, as if loaded after the UPDATE.
    session = inspect(organisation).session
    if session is not None:
        for value in values:
            key = inspect(Dossier).identity_key_from_primary_key((value["_id"],))
            loaded = session.identity_map.get(key)
            if loaded is not None:
                set_committed_value(loaded, "organisation_name", value["name"])
                set_committed_value(loaded, "search_text", value["text"])


class Attachment(Base):
    """A PDF piece; the file lives outside the web root under `storage_name`."""

    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("dossier_id", "piece_key", name="one_file_per_piece"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    piece_key: Mapped[str] = mapped_column(String(60))
    filename: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str] = mapped_column(String(80), unique=True)
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())

    dossier: Mapped[Dossier] = relationship(back_populates="attachments")


class Avis(Base):
    """An avis asked of a person (coordonnateur, chef de service, directeur, président de CME)
    or a signature asked of the candidate: by the ARS after deposit, or by the déposant
    before it (`invited_by`). A given avis keeps the annex's answers and how it was signed.
    Its status (invité, relancé, donné, expiré) is read from its dates."""

    __tablename__ = "avis"
    __table_args__ = (
        CheckConstraint(
            "verdict IS NULL OR verdict IN ('favorable', 'defavorable')", name="known_verdict"
        ),
        # Migration 0011: a verdict only once given; a given avis has a verdict or a
        # signature (a candidate's consent has no verdict).
        CheckConstraint("verdict IS NULL OR given_at IS NOT NULL", name="verdict_when_given"),
        CheckConstraint(
            "given_at IS NULL OR verdict IS NOT NULL OR signature_mode IS NOT NULL",
            name="given_is_signed",
        ),
        CheckConstraint("invited_by IN ('ars', 'deposant')", name="known_inviter"),
        CheckConstraint(
            "signature_mode IS NULL OR signature_mode IN ('pdf', 'certification')",
            name="known_signature_mode",
        ),
        # A certified avis names who certified it.
        CheckConstraint(
            "signature_mode IS NULL OR signature_mode <> 'certification' "
            "OR certified_name IS NOT NULL",
            name="certification_is_named",
        ),
        CheckConstraint("link_version >= 1", name="link_version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    avis_key: Mapped[str] = mapped_column(String(60))
    giver_name: Mapped[str | None] = mapped_column(String(200))
    giver_email: Mapped[str] = mapped_column(String(254))
    verdict: Mapped[str | None] = mapped_column(String(12))
    comment: Mapped[str | None] = mapped_column(Text)
    storage_name: Mapped[str | None] = mapped_column(String(80))
    invited_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    reminded_at: Mapped[dt.datetime | None]
    given_at: Mapped[dt.datetime | None]
    # Migration 0011: the avis the déposant collects before deposit.
    invited_by: Mapped[str] = mapped_column(String(10), default="ars", server_default="ars")
    # The annex's blanks as the giver filled them in, by the campaign's field keys.
    answers: Mapped[dict[str, Any] | None] = mapped_column(JSONValue)
    signature_mode: Mapped[str | None] = mapped_column(String(16))
    certified_name: Mapped[str | None] = mapped_column(String(200))
    certified_function: Mapped[str | None] = mapped_column(String(200))
    # When the link stops working; null for the links made before 0011 (their token's own
    # age limits them).
    expires_at: Mapped[dt.datetime | None]
    # Raised by each re-invitation: the links signed with an older version stop working.
    link_version: Mapped[int] = mapped_column(default=1, server_default="1")


class Decision(Base):
    """The instructor's decision; held back from the déposant until published."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('accepte', 'refuse', 'sans_suite', 'liste_complementaire')",
            name="known_kind",
        ),
        CheckConstraint("length(trim(motivation)) > 0", name="motivated"),
        # The dashboard's « décisions en attente de publication » (migration 0008).
        Index(
            "ix_decisions_unpublished",
            "dossier_id",
            sqlite_where=text("published_at IS NULL"),
            postgresql_where=text("published_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    motivation: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime]
    published_at: Mapped[dt.datetime | None]

    dossier: Mapped[Dossier] = relationship(back_populates="decision")
