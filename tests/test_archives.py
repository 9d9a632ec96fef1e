"""ZIP archives of the pieces: one dossier's, or a whole campaign's, named by dossier number."""

from __future__ import annotations

import zipfile

from sqlalchemy import select

from tests.conftest import pdf_bytes
from workflow.instruction.archives import (
    MISSING_NOTE,
    campaign_entries,
    dossier_entries,
    safe_name,
    write_zip,
)
from workflow.models import Attachment, Avis
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage


def stored(world, session, storage, campaign, state="en_instruction"):
    """A dossier whose CV really is in the storage."""
    dossier = world.dossier(campaign, world.organisation(), state)
    with transaction(session):
        attachment = session.scalars(
            select(Attachment).where(Attachment.dossier_id == dossier.id)
        ).one()
        attachment.storage_name = storage.save(pdf_bytes(title=f"CV {dossier.number}"))
        attachment.filename = "CV Peggy Lambourdé.pdf"
    return dossier


def names(archive) -> list[str]:
    return sorted(zipfile.ZipFile(archive).namelist())


def test_a_dossiers_pieces_are_named_by_its_number(world, session, tmp_path):
    storage = Storage(tmp_path / "uploads")
    dossier = stored(world, session, storage, world.campaign())
    with write_zip(dossier_entries(session, dossier), storage) as archive:
        assert names(archive) == [f"{dossier.number}-cv-CV-Peggy-Lambourde.pdf"]
        archive.seek(0)
        data = zipfile.ZipFile(archive).read(f"{dossier.number}-cv-CV-Peggy-Lambourde.pdf")
    assert data.startswith(b"%PDF-")


def test_the_campaign_archive_has_one_folder_per_dossier_and_the_signed_avis(
    world, session, tmp_path
):
    storage = Storage(tmp_path / "uploads")
    campaign = world.campaign()
    first = stored(world, session, storage, campaign)
    second = stored(world, session, storage, campaign)
    world.dossier(campaign, world.organisation(), "brouillon")  # not deposited: left out
    with transaction(session):
        session.add(
            Avis(
                dossier_id=second.id,
                avis_key="coordonnateur",
                giver_email="coordo@chu.fr",
                verdict="favorable",
                given_at=second.deposited_at,
                storage_name=storage.save(pdf_bytes(title="Avis signé")),
            )
        )
    with write_zip(campaign_entries(session, campaign.id), storage) as archive:
        listed = names(archive)
    avis = next(a for a in session.scalars(select(Avis)))
    assert listed == sorted(
        [
            f"{first.number}/{first.number}-cv-CV-Peggy-Lambourde.pdf",
            f"{second.number}/{second.number}-cv-CV-Peggy-Lambourde.pdf",
            f"{second.number}/{second.number}-avis-coordonnateur-{avis.id}.pdf",
        ]
    )


def test_a_file_missing_on_disk_is_listed_instead_of_breaking_the_archive(world, session, tmp_path):
    storage = Storage(tmp_path / "uploads")
    dossier = world.dossier(world.campaign(), world.organisation(), "en_instruction")
    with write_zip(dossier_entries(session, dossier), storage) as archive:
        assert names(archive) == [MISSING_NOTE]
        archive.seek(0)
        note = zipfile.ZipFile(archive).read(MISSING_NOTE).decode()
    assert f"{dossier.number}-cv-cv.pdf" in note


def test_file_names_keep_only_safe_characters():
    assert safe_name("Lettre d'engagement (signée) / version 2") == (
        "Lettre-d-engagement-signee-version-2"
    )
    assert safe_name("¤¤") == "document"
