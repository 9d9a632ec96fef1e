"""The JSON API, /api/v1: campaigns and dossiers read, instruction events fired and avis
asked through the same workflow functions as the instructors' pages, with their guards.

Only a bearer token authenticates (`Authorization: Bearer pp_…`), never the session cookie:
a browser signed in elsewhere on the site cannot make an API call, so the API needs no CSRF
token. Every error is problem+json with a French `detail`: 401 without a live token, 404 for
a campaign or dossier outside the token's scope (as if it did not exist), 403 for a read-only
token on a write, 412 on a stale `If-Match`, 422 when a guard refuses (with its reasons)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, g, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field

from web.api import schemas
from web.shared.db import db_session
from web.shared.files import send_piece
from web.shared.problems import PROBLEM_TYPE, TITLES, problem
from web.shared.security import csrf
from web.shared.throttling import Throttled, spend
from workflow.api import reading
from workflow.api.tokens import (
    authenticate,
    may_read,
    may_write,
    needs_use_noted,
    note_use,
    record_call,
    token_actor,
)
from workflow.instruction.avis import invite_avis
from workflow.instruction.dashboard import counts_by_state
from workflow.machine.operations import fire
from workflow.models import ApiToken, Campaign, Dossier
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import ConflictError, InvalidInput, TransitionRefused, WorkflowError

log = logging.getLogger("postes_partages.api")

SECURITY = [{"jeton": []}]


def _problems(*statuses: int) -> dict[int, dict[str, Any]]:
    """The error answers an operation documents, as problem+json (not flask-openapi3's
    default application/json, which would misdescribe them)."""
    schema = schemas.Problem.model_json_schema()
    return {
        status: {
            "description": TITLES[status],
            "content": {PROBLEM_TYPE: {"schema": schema}},
        }
        for status in statuses
    }


PROBLEMS = _problems(400, 401, 404, 422, 429)
WRITE_PROBLEMS = _problems(400, 401, 403, 404, 409, 412, 415, 422, 428, 429)
campaigns_tag = Tag(name="campagnes", description="Campagnes et leurs dossiers déposés")
dossiers_tag = Tag(
    name="dossiers", description="Un dossier, ses pièces, avis, décision, historique"
)

bp = APIBlueprint(
    "api", __name__, url_prefix="/api/v1", abp_security=SECURITY, abp_responses=PROBLEMS
)
csrf.exempt(bp)


class IfMatch(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    if_match: str = Field(
        alias="If-Match",
        min_length=1,
        max_length=40,
        description="La version du dossier lue (`version`, ou l'ETag de sa lecture)",
    )


@bp.before_request
def authenticate_token() -> Response | None:
    """The token of the `Authorization: Bearer` header, or a 401; then its rate limit."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    session = db_session()
    now = clock.now()
    token = None
    if scheme.lower() == "bearer" and secret.strip():
        token = authenticate(session, secret.strip(), now)
    if token is not None and needs_use_noted(token, now):
        with transaction(session):
            note_use(session, token, now)
    if token is None:
        return problem(
            401,
            "Un jeton valide est requis : en-tête « Authorization: Bearer <jeton> » "
            "(un jeton révoqué ou expiré ne l'est plus).",
            headers={"WWW-Authenticate": 'Bearer realm="postes-partages"'},
        )
    g.api_token = token
    spend("api", f"jeton:{token.id}", client=False)
    log.info("api %s %s by token %r", request.method, request.path, token.name)
    return None


@bp.after_request
def journal_call(response: Response) -> Response:
    """Every call made with a token goes to the API's journal (`api_calls`), reads included,
    with its answer's status; a journal that cannot be written never spoils the answer."""
    token = g.get("api_token")
    if token is not None:
        session = db_session()
        try:
            with transaction(session):
                record_call(
                    session, token, request.method, request.path, response.status_code, clock.now()
                )
        except Exception:  # noqa: BLE001 - logged; the caller still gets its answer
            log.exception("api call by token %r not journaled", token.name)
    return response


@bp.errorhandler(Throttled)
def throttled(refused: Throttled) -> Response:
    return problem(429, refused.message, headers={"Retry-After": str(refused.retry_after)})


def _token() -> ApiToken:
    return g.api_token


def _campaign(slug: str) -> Campaign | None:
    campaign = reading.campaign_by_slug(db_session(), slug)
    if campaign is None or not may_read(_token(), campaign.id):
        return None
    return campaign


def _dossier(dossier_id: int) -> Dossier | None:
    dossier = reading.deposited_dossier(db_session(), dossier_id)
    if dossier is None or not may_read(_token(), dossier.campaign_id):
        return None
    return dossier


NOT_FOUND_CAMPAIGN = "Cette campagne n'existe pas, ou ce jeton n'y a pas accès."
NOT_FOUND_DOSSIER = "Ce dossier n'existe pas, ou ce jeton n'y a pas accès."


def _summary(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "slug": campaign.slug,
        "title": campaign.title,
        "agency": campaign.agency,
        "opens_at": campaign.opens_at,
        "deadline_at": campaign.deadline_at,
        "closed_at": campaign.closed_at,
        "results_published_at": campaign.results_published_at,
        "publication": campaign.publication,
        "counts": counts_by_state(db_session(), campaign.id),
    }


def _json(model: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(model.model_dump_json(), status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.get(
    "/campaigns",
    tags=[campaigns_tag],
    summary="Les campagnes du jeton",
    responses={200: schemas.CampaignList},
)
def campaigns() -> Response:
    found = reading.campaigns_of(db_session(), list(_token().campaign_ids or []))
    items = [schemas.CampaignSummary(**_summary(c)) for c in found]
    return _json(schemas.CampaignList(items=items))


@bp.get(
    "/campaigns/<slug>",
    tags=[campaigns_tag],
    summary="Une campagne : dates, définition, dossiers par état",
    responses={200: schemas.CampaignDetail},
)
def campaign(path: schemas.CampaignPath) -> Response:
    found = _campaign(path.slug)
    if found is None:
        return problem(404, NOT_FOUND_CAMPAIGN)
    definition = reading.current_definition(db_session(), found)
    return _json(schemas.CampaignDetail(**_summary(found), definition=definition))


def _dossier_summary(dossier: Dossier) -> dict[str, Any]:
    return {
        "id": dossier.id,
        "number": dossier.number,
        "campaign_id": dossier.campaign_id,
        "state": dossier.state,
        "version": dossier.version,
        "speciality": dossier.speciality,
        "candidate_name": dossier.candidate_name,
        "partner_name": dossier.partner_name,
        "organisation_id": dossier.organisation_id,
        "deposited_at": dossier.deposited_at,
        "updated_at": dossier.updated_at,
    }


@bp.get(
    "/campaigns/<slug>/dossiers",
    tags=[campaigns_tag],
    summary="Les dossiers déposés d'une campagne, par pages",
    description="Filtres : `state`, `speciality`, `updated_since` ; pages de `limit` dossiers "
    "dans l'ordre des identifiants, la suivante avec `cursor=<next_cursor>`.",
    responses={200: schemas.DossierList},
)
def dossiers(path: schemas.CampaignPath, query: schemas.DossierQuery) -> Response:
    found = _campaign(path.slug)
    if found is None:
        return problem(404, NOT_FOUND_CAMPAIGN)
    wanted = reading.DossierFilter(query.state, query.speciality, query.updated_since)
    after = int(query.cursor) if query.cursor else None
    rows, next_id = reading.dossier_page(db_session(), found.id, wanted, after, query.limit)
    items = [schemas.DossierSummary(**_dossier_summary(d)) for d in rows]
    cursor = str(next_id) if next_id is not None else None
    return _json(schemas.DossierList(items=items, next_cursor=cursor))


def _etag(dossier: Dossier) -> str:
    return f'"{dossier.version}"'


@bp.get(
    "/dossiers/<int:dossier_id>",
    tags=[dossiers_tag],
    summary="Un dossier : état, champs, pièces, avis, décision, historique",
    responses={200: schemas.DossierDetail},
)
def dossier(path: schemas.DossierPath) -> Response:
    found = _dossier(path.dossier_id)
    if found is None:
        return problem(404, NOT_FOUND_DOSSIER)
    s = db_session()
    base = request.url_root.rstrip("/")
    pieces = [
        schemas.Piece(
            key=a.piece_key,
            filename=a.filename,
            size=a.size,
            sha256=a.sha256,
            uploaded_at=a.uploaded_at,
            download_url=f"{base}/api/v1/dossiers/{found.id}/pieces/{a.piece_key}",
        )
        for a in found.attachments
    ]
    avis = [
        schemas.AvisOut.model_validate(a, from_attributes=True)
        for a in reading.avis_of(s, found.id)
    ]
    decision = (
        schemas.DecisionOut.model_validate(found.decision, from_attributes=True)
        if found.decision is not None
        else None
    )
    audit = [
        schemas.AuditOut(
            at=e.at,
            actor=e.actor_label,
            event=e.event,
            from_state=e.from_state,
            to_state=e.to_state,
            payload=e.payload or {},
        )
        for e in reading.audit_of(s, found.id)
    ]
    detail = schemas.DossierDetail(
        **_dossier_summary(found),
        values=found.values or {},
        pieces=pieces,
        avis=avis,
        decision=decision,
        audit=audit,
    )
    return _json(detail, headers={"ETag": _etag(found)})


@bp.get(
    "/dossiers/<int:dossier_id>/pieces/<piece_key>",
    tags=[dossiers_tag],
    summary="Le PDF d'une pièce",
    responses={200: {"content": {"application/pdf": {"schema": {"type": "string"}}}}},
)
def piece(path: schemas.PiecePath) -> Response:
    found = _dossier(path.dossier_id)
    if found is None or not any(a.piece_key == path.piece_key for a in found.attachments):
        return problem(404, "Cette pièce n'existe pas, ou ce jeton n'y a pas accès.")
    return send_piece(found, path.piece_key)


def _write_refusal() -> Response | None:
    if not may_write(_token()):
        return problem(403, "Ce jeton est en lecture seule : il ne peut pas agir sur un dossier.")
    return None


def _expected_version(header: IfMatch) -> int | Response:
    text = header.if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 9:
        return problem(400, 'If-Match doit être la version du dossier, par exemple "3".')
    return int(text)


@bp.post(
    "/dossiers/<int:dossier_id>/events",
    tags=[dossiers_tag],
    summary="Une action d'instruction (passer en instruction, corrections, décisions)",
    description="Les mêmes gardes que les pages des instructeurs ; `If-Match` obligatoire "
    "(la `version` lue), 412 si le dossier a changé entre-temps. Historique : « jeton : <nom> ».",
    responses={**WRITE_PROBLEMS, 200: schemas.DossierSummary},
)
def fire_event(path: schemas.DossierPath, header: IfMatch, body: schemas.FireBody) -> Response:
    refusal = _write_refusal()
    if refusal is not None:
        return refusal
    found = _dossier(path.dossier_id)
    if found is None:
        return problem(404, NOT_FOUND_DOSSIER)
    expected = _expected_version(header)
    if isinstance(expected, Response):
        return expected
    if found.version != expected:
        return _stale(found)
    payload = body.model_dump(exclude={"event"}, exclude_none=True)
    s = db_session()
    try:
        with transaction(s):
            fire(s, found, body.event, token_actor(_token()), payload, expected_version=expected)
    except TransitionRefused as refused:
        return problem(422, refused.message, reasons=refused.reasons)
    except ConflictError:
        again = _dossier(path.dossier_id)
        return _stale(again) if again is not None else problem(404, NOT_FOUND_DOSSIER)
    except WorkflowError as error:
        return problem(422, error.message)
    return _json(schemas.DossierSummary(**_dossier_summary(found)), headers={"ETag": _etag(found)})


def _stale(dossier: Dossier) -> Response:
    return problem(
        412,
        "Le dossier a été modifié entre-temps : relisez-le, puis recommencez avec sa nouvelle "
        "version.",
        headers={"ETag": _etag(dossier)},
        version=dossier.version,
    )


@bp.post(
    "/dossiers/<int:dossier_id>/avis",
    tags=[dossiers_tag],
    summary="Demander un avis prévu par la campagne (un mail part avec le lien personnel)",
    responses={**WRITE_PROBLEMS, 201: schemas.AvisRequested},
)
def ask_avis(path: schemas.DossierPath, body: schemas.AvisRequestBody) -> Response:
    refusal = _write_refusal()
    if refusal is not None:
        return refusal
    found = _dossier(path.dossier_id)
    if found is None:
        return problem(404, NOT_FOUND_DOSSIER)
    s = db_session()
    try:
        with transaction(s):
            avis = invite_avis(
                s,
                found,
                body.avis_key,
                body.giver_email,
                body.giver_name,
                token_actor(_token()),
                secret_key=current_app.config["SECRET_KEY"],
                base_url=current_app.config["BASE_URL"],
                now=clock.now(),
            )
    except InvalidInput as invalid:
        return problem(422, invalid.message, errors=invalid.errors or None)
    except TransitionRefused as refused:
        return problem(422, refused.message, reasons=refused.reasons)
    answer = schemas.AvisRequested(id=avis.id, avis_key=avis.avis_key, giver_email=avis.giver_email)
    return _json(answer, 201)
