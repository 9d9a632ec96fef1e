"""The API's pydantic models: they validate the requests and are the OpenAPI document's
schemas (flask-openapi3 builds the document from them). Field names are stable: a client
may rely on them."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The instruction events a token may fire (the déposant's own events are not the API's).
INSTRUCTION_EVENTS = (
    "passer_en_instruction",
    "demander_corrections",
    "accepter",
    "refuser",
    "classer_sans_suite",
    "repasser_en_instruction",
)
InstructionEvent = Literal[
    "passer_en_instruction",
    "demander_corrections",
    "accepter",
    "refuser",
    "classer_sans_suite",
    "repasser_en_instruction",
]


class Problem(BaseModel):
    """An error (RFC 9457), `detail` in French."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    reasons: list[str] | None = None
    errors: dict[str, str] | None = None


class CampaignPath(BaseModel):
    slug: str = Field(max_length=80)


class DossierPath(BaseModel):
    dossier_id: int = Field(ge=1, le=2**31 - 1)


class PiecePath(DossierPath):
    piece_key: str = Field(max_length=60)


class DossierQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    state: str | None = Field(None, max_length=20, description="État (ex. en_instruction)")
    speciality: str | None = Field(None, max_length=200, description="Spécialité, exacte")
    updated_since: dt.datetime | None = Field(
        None, description="Modifiés depuis cet instant (ISO 8601 avec fuseau)"
    )
    cursor: str | None = Field(
        None, max_length=20, pattern=r"^[0-9]+$", description="`next_cursor` de la page d'avant"
    )
    limit: int = Field(50, ge=1, le=200)


class CampaignSummary(BaseModel):
    id: int
    slug: str
    title: str
    agency: str
    opens_at: dt.datetime
    deadline_at: dt.datetime
    closed_at: dt.datetime | None
    results_published_at: dt.datetime | None
    publication: str
    counts: dict[str, int] = Field(description="Dossiers déposés par état")


class CampaignList(BaseModel):
    items: list[CampaignSummary]


class CampaignDetail(CampaignSummary):
    definition: dict[str, Any] = Field(description="La définition de la campagne (YAML chargé)")


class DossierSummary(BaseModel):
    id: int
    number: int | None
    campaign_id: int
    state: str
    version: int = Field(description="À renvoyer dans If-Match pour agir sur le dossier")
    speciality: str | None
    candidate_name: str | None
    partner_name: str | None
    organisation_id: int
    deposited_at: dt.datetime | None
    updated_at: dt.datetime


class DossierList(BaseModel):
    items: list[DossierSummary]
    next_cursor: str | None = Field(description="À passer en `cursor` ; null à la dernière page")


class Piece(BaseModel):
    key: str
    filename: str
    size: int
    sha256: str
    uploaded_at: dt.datetime
    download_url: str


class AvisOut(BaseModel):
    id: int
    avis_key: str
    giver_name: str | None
    giver_email: str
    verdict: str | None
    comment: str | None
    invited_at: dt.datetime
    given_at: dt.datetime | None


class DecisionOut(BaseModel):
    kind: str
    motivation: str
    decided_at: dt.datetime
    published_at: dt.datetime | None


class AuditOut(BaseModel):
    at: dt.datetime
    actor: str
    event: str
    from_state: str | None
    to_state: str | None
    payload: dict[str, Any]


class DossierDetail(DossierSummary):
    values: dict[str, Any] = Field(description="Les champs saisis, par clé de la campagne")
    pieces: list[Piece]
    avis: list[AvisOut]
    decision: DecisionOut | None
    audit: list[AuditOut]


class FireBody(BaseModel):
    """An instruction event and the inputs its guards ask for."""

    model_config = ConfigDict(extra="forbid")

    event: InstructionEvent
    message: str | None = Field(None, max_length=10000, description="demander_corrections")
    due_date: dt.date | None = Field(None, description="demander_corrections : date incluse")
    motivation: str | None = Field(None, max_length=10000, description="décisions")
    reason: str | None = Field(None, max_length=10000, description="repasser_en_instruction")


class AvisRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    avis_key: str = Field(max_length=60)
    giver_email: str = Field(max_length=254)
    giver_name: str = Field("", max_length=200)


class AvisRequested(BaseModel):
    id: int
    avis_key: str
    giver_email: str
