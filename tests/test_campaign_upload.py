"""An administrator loads or updates a campaign from an uploaded YAML file: the loader's
errors name the file, the line and the key; a new version never moves dossiers started on
the old one."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from tests.conftest import definition
from workflow.administration.campaigns import load_campaign_upload
from workflow.campaigns.loader import CampaignFileError
from workflow.campaigns.store import current_version
from workflow.models import AuditEvent, Campaign, Dossier
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import TransitionRefused


def campaign_yaml(**overrides) -> bytes:
    data = definition(**overrides).model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()


def test_a_new_file_creates_the_campaign_and_a_changed_one_a_new_version(world, session):
    admin = world.actor("administrateur")
    with transaction(session):
        loaded = load_campaign_upload(session, campaign_yaml(), "test-asp.yaml", admin)
    assert (loaded.created, loaded.version.version) == (True, 1)
    campaign = session.scalar(select(Campaign))
    dossier = world.dossier(campaign, world.organisation(), "en_construction")
    with transaction(session):
        same = load_campaign_upload(session, campaign_yaml(), "test-asp.yaml", admin)
    assert (same.created, same.new_version) == (False, False)
    with transaction(session):
        changed = load_campaign_upload(
            session, campaign_yaml(title="ASP (rectifié)"), "C:\\ARS\\test-asp.yaml", admin
        )
    assert (changed.new_version, changed.version.version) == (True, 2)
    assert current_version(session, campaign).version == 2
    session.expire_all()
    assert session.get(Dossier, dossier.id).campaign_version.version == 1
    payloads = session.scalars(
        select(AuditEvent.payload).where(AuditEvent.event == "charger_campagne")
    ).all()
    assert [p["changement"] for p in payloads] == ["créée", "inchangée", "nouvelle version"]
    assert payloads[-1]["fichier"] == "test-asp.yaml"


def test_the_errors_name_the_file_the_line_and_the_key(world, session):
    text = campaign_yaml().decode().replace("depositor: etablissement_sante", "depositor: hopital")
    admin = world.actor("administrateur")
    with pytest.raises(CampaignFileError) as refused, transaction(session):
        load_campaign_upload(session, text.encode(), "asp.yaml", admin)
    (problem,) = refused.value.problems
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("depositor:"))
    assert (problem.source, problem.line, problem.key) == ("asp.yaml", line, "depositor")
    assert session.scalars(select(Campaign)).all() == []


def test_a_file_that_is_not_yaml_text_is_refused_clearly(world, session):
    admin = world.actor("administrateur")
    for data, words in ((b"\xff\xfe\x00", "UTF-8"), (b"  \n", "vide"), (b"a: [", "YAML")):
        with pytest.raises(CampaignFileError, match=words), transaction(session):
            load_campaign_upload(session, data, "x.yaml", admin)


def test_only_an_administrator_loads_a_campaign(world, session):
    instructeur = world.actor("instructeur")
    with pytest.raises(TransitionRefused), transaction(session):
        load_campaign_upload(session, campaign_yaml(), "x.yaml", instructeur)
