"""The RGPD purge. Normandie ASP 2025: « Vos données sont conservées pendant la durée de votre
contrat » ; Normandie ASR 2026: « le temps de la gestion des dossiers de candidatures » — by
default two years after the campaign's last start date. When that day comes, a purge leaves
no personal data in the database (every text column of every table is scanned for the
test's marker values) nor in the upload folder, keeps the counts, states, numbers and dates,
and keeps the audit trail whole with stable pseudonyms; it runs in batches, twice does
nothing more than once, and an administrator reads beforehand what it will remove."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from tests.conftest import COMPLETE_VALUES, START, at_paris, pdf_bytes
from workflow.campaigns.retention import Retention, expires_on
from workflow.documents.letters import letter_document
from workflow.instruction.avis import give_avis, invite_avis
from workflow.instruction.export_jobs import export_storage
from workflow.machine.operations import fire
from workflow.messagerie.messages import Upload, post_message
from workflow.models import (
    Attachment,
    AuditEvent,
    Avis,
    Campaign,
    Decision,
    Dossier,
    ExportJob,
    OutboxMail,
)
from workflow.partners.cosigning import cosign
from workflow.plumbing import clock
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage
from workflow.privacy import purge
from workflow.privacy.pseudonyms import MARKER, Pseudonyms

KEY = "clé-des-pseudonymes-de-test-0123456789"
# The test's personal values: each must be gone from the database and the files.
NOM, PRENOM = "Zorglubienne", "Quetzalie"
RPPS = "18273645502"
PARTNER_EMAIL = "dam.zorglub@marqueur-rgpd.fr"
AVIS_NAME = "Pr Xanthippe Marqueur"
AVIS_EMAIL = "coordo.xanthippe@marqueur-rgpd.fr"
COMMENT = "Xanthippe connaît bien le travail de Zorglubienne"
MOTIVATION = "Le projet de Zorglubienne est solide"
MARKERS = (NOM, PRENOM, RPPS, PARTNER_EMAIL, AVIS_NAME, AVIS_EMAIL, "Xanthippe", "marqueur-rgpd")
AVIS = [{"key": "coordonnateur", "label": "Avis du coordonnateur", "giver": "coordonnateur"}]
# START is 2 November 2026: the data is kept until 1 November 2028 included.
PURGE_DAY = dt.date(2028, 11, 2)


def scan_database(session) -> list[str]:  # type: ignore[no-untyped-def]
    """Every marker found in any text (or JSON) column of any table: « table.column: marker »."""
    found = []
    connection = session.connection()
    inspector = inspect(connection)
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            kind = str(column["type"]).upper()
            if not any(word in kind for word in ("CHAR", "TEXT", "JSON", "CLOB", "STRING")):
                continue
            rows = connection.execute(text(f'SELECT "{column["name"]}" FROM "{table}"'))
            for (value,) in rows:
                shown = str(value).casefold()
                found += [
                    f"{table}.{column['name']}: {m}" for m in MARKERS if m.casefold() in shown
                ]
    return sorted(set(found))


def scan_files(folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {m}" for m in MARKERS if m.encode() in data]
    return found


def candidature(world, session, storage: Storage) -> Dossier:  # type: ignore[no-untyped-def]
    """A dossier for Quetzalie Zorglubienne, deposited, given an avis, accepted."""
    campaign = world.campaign(
        avis=AVIS,
        candidate={"rpps": "candidat.rpps", "one_dossier": "Un seul dossier."},
        cosignature={"who": "La DAM du partenaire", "statement": "Je certifie le partenariat."},
    )
    hospital = world.organisation()
    deposant = world.actor("deposant", hospital)
    instructeur = world.actor("instructeur")
    dossier = world.dossier(campaign, hospital)
    values: dict[str, Any] = {
        "identification": {**COMPLETE_VALUES["identification"], "partenaire_email": PARTNER_EMAIL},
        "candidat": {**COMPLETE_VALUES["candidat"], "nom": NOM, "prenom": PRENOM, "rpps": RPPS},
    }
    with transaction(session):
        dossier.values = values
        dossier.candidate_name = f"{NOM} {PRENOM}"
        dossier.partner_email = PARTNER_EMAIL
        dossier.candidate_key = f"rpps:{RPPS}"
        piece = dossier.attachments[0]
        piece.storage_name = storage.save(pdf_bytes(title=f"CV de {PRENOM} {NOM}"))
        piece.filename = f"CV {NOM}.pdf"
    with time_machine.travel(at_paris(2026, 3, 10), tick=False), transaction(session):
        fire(session, dossier, "deposer", deposant)
    with time_machine.travel(at_paris(2026, 4, 1), tick=False), transaction(session):
        fire(session, dossier, "passer_en_instruction", instructeur)
        avis = invite_avis(
            session, dossier, "coordonnateur", AVIS_EMAIL, AVIS_NAME, instructeur,
            secret_key=KEY, base_url="https://pp.example.fr",
        )  # fmt: skip
    with time_machine.travel(at_paris(2026, 4, 3), tick=False), transaction(session):
        signed = storage.save(pdf_bytes(title=f"Avis de {AVIS_NAME}"))
        give_avis(session, avis, "favorable", COMMENT, storage_name=signed)
        # The annex's blanks an avis collected before deposit keeps (same columns).
        avis.answers = {"projet": f"Formation de {PRENOM} {NOM} en dermatologie"}
        # The messagerie: the déposant's message and its PDF name the candidate.
        post_message(
            session, dossier, deposant, f"Voici l'attestation de {PRENOM} {NOM}.",
            upload=Upload(f"attestation {NOM}.pdf", pdf_bytes(title=f"Attestation {NOM}")),
            storage=storage,
        )  # fmt: skip
        # The partner's co-signature names its signer.
        cosign(session, dossier, AVIS_NAME, f"DAM, collègue de {NOM}", certified=True)
    with time_machine.travel(at_paris(2026, 5, 4), tick=False), transaction(session):
        fire(session, dossier, "accepter", instructeur, {"motivation": MOTIVATION})
    with time_machine.travel(at_paris(2026, 5, 5), tick=False), transaction(session):
        # The decision letter, archived when downloaded: a PDF naming the candidate.
        letter_document(session, storage, dossier, instructeur, clock.now())
    return dossier


def test_the_default_retention_is_two_years_after_the_last_start_date():
    assert expires_on(None, (dt.date(2026, 11, 2), dt.date(2027, 5, 3)), dt.date(2026, 3, 20)) == (
        dt.date(2029, 5, 3)
    )
    assert expires_on(None, (), dt.date(2026, 3, 20)) == dt.date(2028, 3, 20)
    since_deadline = Retention(years=1, months=6, since="deadline")
    assert expires_on(since_deadline, (dt.date(2026, 11, 2),), dt.date(2026, 8, 31)) == (
        dt.date(2028, 2, 29)
    )
    assert Retention().describe() == (
        "2 ans après la date de prise de poste (ou, à défaut, la date limite de dépôt)"
    )


def test_an_expired_campaign_is_purged_of_every_personal_value(world, session, sessions, tmp_path):
    storage = Storage(tmp_path / "uploads")
    dossier = candidature(world, session, storage)
    # A CSV export of the campaign waits in storage, with the candidate in it.
    requester = world.user("instructeur")
    with transaction(session):
        export = ExportJob(
            campaign_id=dossier.campaign_id,
            kind="csv",
            requested_by=requester.id,
            status="done",
            storage_name=export_storage(storage).save(f"{NOM};{PRENOM}\n".encode()),
            created_at=dt.datetime(2026, 5, 5, tzinfo=dt.UTC),
        )
        session.add(export)
    trail_before = session.scalar(select(func.count(AuditEvent.id)))
    # The scan sees the values where they are before the purge.
    assert {line.split(":")[0] for line in scan_database(session)} >= {
        "dossiers.values",
        "dossiers.candidate_name",
        "dossiers.partner_email",
        "dossiers.candidate_key",
        "avis.giver_email",
        "avis.comment",
        "decisions.motivation",
        "outbox.recipient",
        "audit_events.payload",
        "audit_events.actor_label",
        "attachments.filename",
        "avis.answers",
        "messages.body",
        "messages.attachment_filename",
        "cosignatures.signer_name",
        "cosignatures.signer_function",
    }
    assert len(scan_files(tmp_path / "uploads")) >= 4

    # The day before, the administrator reads what will go; nothing goes.
    with time_machine.travel(at_paris(2028, 11, 1), tick=False):
        [row] = purge.report(session)
        assert (row.expires_on, row.dossiers, row.pieces, row.avis) == (PURGE_DAY, 1, 1, 1)
        assert purge.purge_expired(sessions, storage, KEY).dossiers == {}

    with time_machine.travel(at_paris(2028, 11, 2, 3), tick=False):
        done = purge.purge_expired(sessions, storage, KEY)

    assert done.dossiers == {dossier.campaign_id: 1} and done.finished == [dossier.campaign_id]
    session.rollback()
    session.expire_all()
    assert scan_database(session) == []
    assert scan_files(tmp_path / "uploads") == []
    # Not a file is left: a PDF's text may be compressed where the scan cannot read it (the
    # letter), so every file is checked gone, not only those the scan reads.
    assert [p.name for p in (tmp_path / "uploads").rglob("*") if p.is_file()] == []
    purged = session.get(Dossier, dossier.id)
    # Counts, states, numbers and dates stay.
    assert (purged.state, purged.number, purged.deposited_at) == (
        "accepte",
        dossier.number,
        dossier.deposited_at,
    )
    assert purged.values["candidat"]["nom"] == MARKER
    assert purged.values["candidat"]["temps_hopital"] == 50
    assert session.get(Decision, purged.decision.id).kind == "accepte"
    assert session.scalar(select(func.count(Attachment.id))) == 0
    assert session.scalar(select(Avis.verdict)) == "favorable"
    # The trail keeps every row; the avis giver is the same pseudonym wherever they appear.
    assert session.scalar(select(func.count(AuditEvent.id))) == trail_before + 1
    giver = Pseudonyms(KEY).of(AVIS_EMAIL)
    given = session.scalar(select(AuditEvent).where(AuditEvent.event == "donner_avis"))
    asked = session.scalar(select(AuditEvent).where(AuditEvent.event == "demander_avis"))
    assert given.actor_label == giver and asked.payload["email"] == giver
    last = session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert (last.event, last.actor_label, last.payload["dossiers"], last.payload["pieces"]) == (
        "purge_rgpd",
        "planificateur",
        1,
        1,
    )
    assert session.get(Campaign, dossier.campaign_id).purged_at is not None
    assert session.get(ExportJob, export.id).status == "expired"
    assert purge.report(session) == []

    # Twice changes nothing more than once.
    version = purged.version
    with time_machine.travel(at_paris(2028, 11, 3), tick=False):
        again = purge.purge_expired(sessions, storage, KEY)
    assert (again.dossiers, again.finished) == ({}, [])
    session.rollback()
    session.expire_all()
    assert session.get(Dossier, dossier.id).version == version
    assert session.scalar(select(func.count(AuditEvent.id))) == trail_before + 1


def test_a_large_campaign_is_purged_in_batches_and_its_mails_never_leave(
    world, session, sessions, tmp_path
):
    storage = Storage(tmp_path / "uploads")
    campaign = world.campaign(start_dates=[START])
    hospital = world.organisation()
    ids = [world.dossier(campaign, hospital, "en_construction").id for _ in range(5)]
    with transaction(session):
        session.execute(
            update(Dossier).where(Dossier.id.in_(ids)).values(candidate_name=f"{NOM} {PRENOM}")
        )
        session.add(
            OutboxMail(
                template="accuse_reception",
                recipient=PARTNER_EMAIL,
                dossier_id=ids[0],
                context={"candidat": NOM},
                message_id="<purge-test@pp>",
                next_attempt_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                created_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
            )
        )
    with time_machine.travel(at_paris(2028, 11, 2), tick=False):
        # One batch of 2 per run at most: the campaign takes three runs, then a fourth
        # finds nothing left and marks it purged.
        runs = [purge.purge_expired(sessions, storage, KEY, size=2, max_batches=1) for _ in "1234"]
    assert [run.dossiers for run in runs] == [
        {campaign.id: 2},
        {campaign.id: 2},
        {campaign.id: 1},
        {},
    ]
    assert [run.finished for run in runs] == [[], [], [], [campaign.id]]
    trail = (
        select(AuditEvent.payload).where(AuditEvent.event == "purge_rgpd").order_by(AuditEvent.id)
    )
    assert [(p["dossiers"], p["terminee"]) for p in session.scalars(trail)] == [
        (2, 0),
        (2, 0),
        (1, 0),
        (0, 1),
    ]
    session.rollback()
    session.expire_all()
    assert scan_database(session) == []
    assert session.scalar(select(OutboxMail.status)) == "failed"
    assert session.scalar(select(func.count(Dossier.id)).where(Dossier.purged_at.is_(None))) == 0


def test_the_audit_trail_stays_append_only_outside_one_pseudonymisation(world, session, tmp_path):
    dossier = candidature(world, session, Storage(tmp_path / "uploads"))
    row = session.scalar(select(AuditEvent.id).where(AuditEvent.dossier_id == dossier.id))
    now = dt.datetime(2028, 11, 2, tzinfo=dt.UTC)
    for change in (
        {"event": "autre"},  # never another event
        {"actor_label": "x"},  # not without marking the row pseudonymised
    ):
        with pytest.raises(DBAPIError), transaction(session):
            session.execute(update(AuditEvent).where(AuditEvent.id == row).values(**change))
    with transaction(session):
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == row)
            .values(actor_label="personne-1", pseudonymised_at=now)
        )
    with pytest.raises(DBAPIError), transaction(session):  # once only
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == row)
            .values(actor_label="personne-2", pseudonymised_at=now)
        )


def test_the_scheduler_leader_runs_the_purge_on_its_tick(world, session, sessions, tmp_path):
    from workflow.scheduling.scheduler import Leadership, Scheduler

    campaign = world.campaign()
    dossier = world.dossier(campaign, world.organisation(), "en_instruction")
    storage = Storage(tmp_path / "uploads")
    scheduler = Scheduler(sessions, Leadership(sessions), storage=storage, secret_key=KEY)

    with time_machine.travel(at_paris(2028, 11, 1, 23, 59), tick=False):
        assert scheduler.tick().purged == []
    with time_machine.travel(at_paris(2028, 11, 2, 0, 1), tick=False):
        assert scheduler.tick().purged == [campaign.id]
    session.rollback()
    session.expire_all()
    assert session.get(Dossier, dossier.id).candidate_name == MARKER
