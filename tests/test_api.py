"""The JSON API (/api/v1): tokens an administrator creates, reads of campaigns and dossiers
scoped to the token's campaigns, instruction events fired with the pages' guards and the
version check, and every error as problem+json in French."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import at_paris
from workflow.api.tokens import create_token, revoke_token
from workflow.machine.operations import fire
from workflow.plumbing.db import transaction


def make_token(world, session, campaigns, scope="ecriture", name=None, **extra):
    admin = world.actor("administrateur")
    with transaction(session):
        token, secret = create_token(
            session,
            name or f"outil {len(campaigns)}-{scope}-{world._n}",
            scope,
            [c.id for c in campaigns],
            admin,
            **extra,
        )
    world._n += 1
    return token, secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def deposited(world):
    dossier, _ = world.deposited()
    return dossier


def test_the_openapi_document_is_served_and_valid(client):
    from openapi_spec_validator import validate

    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert "/api/v1/dossiers/{dossier_id}/events" in document["paths"]
    page = client.get("/api/")
    assert page.status_code == 200
    assert "X-PostesPartages-Signature" in page.text
    assert "/api/v1/campaigns/{slug}/dossiers" in page.text
