"""schemathesis drives the API from its own OpenAPI document, in-process against the WSGI app
and authorised by a read-write token: whatever it generates (valid or not), no answer is a
5xx, and every answer matches the document (status, content type, body schema)."""

from __future__ import annotations

import pytest
import schemathesis
import time_machine
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from tests.conftest import at_paris
from workflow.api.tokens import create_token
from workflow.plumbing.db import transaction

EXAMPLES = 25
# After the test campaign's deadline, while its dossiers are instructed.
INSTRUCTING = at_paris(2026, 4, 2, 10)
# A request that fits the schema may still be refused by the workflow's rules: a guard (a
# decision without its motivation, an avis the campaign does not list) answers 422 with its
# reasons, a stale If-Match 412, a malformed one 400. These are the API's answers, documented
# per operation, not a schema-valid request wrongly rejected.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "412", "422"]
            }
        }
    }
)
AVIS = [{"key": "coordonnateur", "label": "Avis du coordonnateur", "giver": "coordonnateur"}]


@pytest.fixture
def api_token(world, session) -> str:
    campaign = world.campaign(avis=AVIS)
    hospital = world.organisation()
    world.user("deposant", hospital)
    for state in ("en_construction", "en_instruction", "accepte", "brouillon"):
        world.dossier(campaign, hospital, state)
    admin = world.actor("administrateur")
    with transaction(session):
        _, secret = create_token(session, "schemathesis", "ecriture", [campaign.id], admin)
    return secret


def test_no_generated_request_breaks_the_api(app, api_token):
    """Each operation of the document, with examples generated from its schemas."""
    rules = app.extensions["throttling_rules"]
    # One token makes a few hundred calls here: its rate limit is not what is tested.
    rules["api"] = type(rules["api"])([], [])
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=CONFIG)
    headers = {"Authorization": f"Bearer {api_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7

    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case) -> None:  # type: ignore[no-untyped-def]
            with time_machine.travel(INSTRUCTING, tick=False):
                response = case.call_and_validate(headers=headers)
            statuses.append(response.status_code)

        call()
    # The token did open the API (not 401 everywhere), and nothing broke it.
    assert 200 in statuses
    assert max(statuses) < 500
