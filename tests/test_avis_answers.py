"""The avis giver's answer with its optional signed PDF (checked like the pieces), and the
deletion of an avis removing that file."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import pdf_bytes
from workflow.instruction.avis import answer_avis, delete_avis, invite_avis
from workflow.models import Avis
from workflow.plumbing.db import transaction
from workflow.plumbing.errors import InvalidInput
from workflow.plumbing.storage import Storage

AVIS = [{"key": "coordonnateur", "label": "Avis du coordonnateur", "giver": "coordonnateur"}]


def asked(world, session):
    campaign = world.campaign(avis=AVIS)
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    instructeur = world.actor("instructeur")
    with transaction(session):
        avis = invite_avis(
            session,
            dossier,
            "coordonnateur",
            "coordo@chu.fr",
            "Pr Martin",
            instructeur,
            secret_key="s",
            base_url="https://pp.example.fr",
        )
    return avis, instructeur


def stored_files(storage: Storage) -> list[str]:
    return [p.name for p in storage.root.rglob("*") if p.is_file()]


def test_an_avis_with_its_signed_pdf_is_kept_and_deleted_with_it(world, session, tmp_path):
    storage = Storage(tmp_path / "uploads")
    avis, instructeur = asked(world, session)
    with transaction(session):
        answer_avis(
            session, avis, "favorable", "Très bon projet.", ("avis.pdf", pdf_bytes()), storage
        )
    assert avis.verdict == "favorable" and avis.storage_name in stored_files(storage)
    with transaction(session):
        delete_avis(session, avis, instructeur, storage=storage)
    assert stored_files(storage) == []


def test_every_problem_of_the_answer_is_reported_and_nothing_is_kept(world, session, tmp_path):
    storage = Storage(tmp_path / "uploads")
    avis, _ = asked(world, session)
    with pytest.raises(InvalidInput) as invalid, transaction(session):
        answer_avis(session, avis, "", "", ("avis.pdf", b"pas un PDF"), storage)
    assert set(invalid.value.errors) == {"verdict", "fichier"}
    assert "n'est pas un PDF" in invalid.value.errors["fichier"]
    session.expire_all()
    assert session.scalars(select(Avis.given_at)).one() is None
    assert stored_files(storage) == []


def test_an_avis_is_answered_once_and_the_second_file_is_not_kept(world, session, tmp_path):
    storage = Storage(tmp_path / "uploads")
    avis, _ = asked(world, session)
    with transaction(session):
        answer_avis(session, avis, "defavorable", "", None, storage)
    with pytest.raises(InvalidInput, match="déjà été donné"), transaction(session):
        answer_avis(session, avis, "favorable", "", ("a.pdf", pdf_bytes()), storage)
    assert stored_files(storage) == []
