"""Backups that restore: a backup taken while déposants create dossiers, attach and replace
pieces and deposit, restored into an empty database and upload store, holds every dossier
committed before it began with its audit trail, its mails and its pieces (hashes equal to
the manifest's), on SQLite and PostgreSQL; `check` finds a missing or corrupted piece; a
backup from a newer schema, a non-empty database or upload store are refused."""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

import run
from tests.conftest import COMPLETE_VALUES, World, at_paris, pdf_bytes
from workflow.machine.editing import attach_piece, create_dossier, save_confirmation, save_volet
from workflow.machine.operations import fire
from workflow.models import Attachment, AuditEvent, Campaign, Dossier, OutboxMail
from workflow.plumbing.backup import BackupError, backup, check, code_head, restore
from workflow.plumbing.db import make_engine, make_session_factory, transaction
from workflow.plumbing.storage import Storage

THREADS, OPERATIONS = 2, 20
WHEN = at_paris(2026, 3, 10)


@pytest.fixture
def empty_url(db_url: str, tmp_path: Path):
    """A database with no table at all, of the same kind as `db_url`, to restore into."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    admin_url = make_url(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"pp_restore_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Deposits:
    """Déposants at work: each operation is a dossier created, filled, given a PDF (every
    other one replaced, which removes the old file after the commit) and deposited."""

    def __init__(self, sessions, storage: Storage):
        self.sessions = sessions
        self.storage = storage
        with sessions() as session:
            world = World(session)
            self.campaign_id = world.campaign().id
            self.actors = [world.actor("deposant", world.organisation()) for _ in range(THREADS)]
        self.committed: list[int] = []
        self.errors: list[BaseException] = []
        self.started = threading.Barrier(THREADS + 1, timeout=60)
        self.lock = threading.Lock()

    def run(self, index: int) -> None:
        actor = self.actors[index]
        try:
            with self.sessions() as session:
                for operation in range(OPERATIONS):
                    if operation == 3:
                        self.started.wait()  # the backup starts with work done and to come
                    self._deposit(session, actor, operation)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
            self.started.abort()

    def _deposit(self, session, actor, operation: int) -> None:
        campaign = session.get(Campaign, self.campaign_id)
        with transaction(session):
            dossier = create_dossier(session, campaign, actor, now=WHEN)
        with transaction(session):
            save_volet(
                session, dossier, actor, "identification", COMPLETE_VALUES["identification"],
                now=WHEN,
            )  # fmt: skip
        with transaction(session):
            save_volet(session, dossier, actor, "candidat", COMPLETE_VALUES["candidat"], now=WHEN)
        for _ in range(2 if operation % 2 else 1):
            with transaction(session):
                attach_piece(
                    session, dossier, actor, "cv", "cv.pdf",
                    pdf_bytes(title=f"CV {dossier.id}"), self.storage, now=WHEN,
                )  # fmt: skip
        with transaction(session):
            save_confirmation(session, dossier, actor, ["complet"], True, now=WHEN)
        with transaction(session):
            fire(session, dossier, "deposer", actor, now=WHEN)
        with self.lock:
            self.committed.append(dossier.id)


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return {
                model.__tablename__: session.scalar(select(func.count()).select_from(model))
                for model in (Dossier, Attachment, AuditEvent, OutboxMail)
            }
    finally:
        engine.dispose()


def test_a_backup_taken_under_write_load_restores_whole_and_checks_clean(
    db_url, sessions, empty_url, tmp_path
):
    live = Storage(tmp_path / "uploads")
    deposits = Deposits(sessions, live)
    threads = [threading.Thread(target=deposits.run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    deposits.started.wait()
    with deposits.lock:
        before = list(deposits.committed)
    manifest = backup(db_url, live, tmp_path / "backup")
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert deposits.errors == []
    assert len(deposits.committed) == THREADS * OPERATIONS
    assert manifest["missing"] == [] and manifest["corrupt"] == []
    assert manifest["schema_revision"] == code_head()
    assert manifest["tables"]["dossiers"] >= len(before)
    assert (tmp_path / "backup").stat().st_mode & 0o077 == 0

    restored = Storage(tmp_path / "restored-uploads")
    assert restore(tmp_path / "backup", empty_url, restored) == manifest

    # Counts and hashes are the manifest's; every piece the database names is there.
    for table, count in counts(empty_url).items():
        assert manifest["tables"][table] == count
    report = check(empty_url, restored, manifest)
    assert report.clean and report.checked == manifest["tables"]["attachments"]
    assert sorted(restored.names()) == sorted(manifest["files"])
    assert check(empty_url, restored).clean  # against the hashes the database recorded

    # Every dossier committed before the backup began is there, deposited, with its audit
    # trail, its accusé de réception and its piece; and nothing half-written is.
    engine = make_engine(empty_url)
    try:
        with make_session_factory(engine)() as session:
            dossiers = {d.id: d for d in session.scalars(select(Dossier))}
            assert set(before) <= set(dossiers) <= set(deposits.committed)
            for dossier in dossiers.values():
                events = session.scalars(
                    select(AuditEvent.event)
                    .where(AuditEvent.dossier_id == dossier.id)
                    .order_by(AuditEvent.id)  # a restored table keeps no row order of its own
                ).all()
                mails = session.scalars(
                    select(OutboxMail.template).where(OutboxMail.dossier_id == dossier.id)
                ).all()
                if dossier.state == "en_construction":
                    assert events[0] == "creer" and events[-1] == "deposer"
                    assert "accuse_reception" in mails
                    (piece,) = dossier.attachments
                    assert manifest["files"][piece.storage_name]["sha256"] == piece.sha256
                else:  # caught mid-way by the snapshot: consistent as far as it went
                    assert dossier.state == "brouillon" and "deposer" not in events
            for dossier_id in before:
                assert dossiers[dossier_id].state == "en_construction"
    finally:
        engine.dispose()


def test_check_finds_a_missing_and_a_corrupted_piece(db_url, sessions, empty_url, tmp_path):
    live = Storage(tmp_path / "uploads")
    deposits = Deposits(sessions, live)
    with sessions() as session:
        for operation in range(3):
            deposits._deposit(session, deposits.actors[0], operation)
    manifest = backup(db_url, live, tmp_path / "backup")
    restored = Storage(tmp_path / "restored-uploads")
    restore(tmp_path / "backup", empty_url, restored)
    first, second, third = sorted(manifest["files"])
    restored.delete(first)
    restored.path(second).write_bytes(pdf_bytes(title="Autre chose"))
    report = check(empty_url, restored, manifest)
    assert (report.missing, report.corrupt, report.checked) == ([first], [second], 3)
    assert not report.clean


def test_a_backup_from_a_newer_schema_is_refused(db_url, empty_url, tmp_path):
    backup(db_url, Storage(tmp_path / "uploads"), tmp_path / "backup")
    path = tmp_path / "backup" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_revision"] = "0099_from_the_future"
    path.write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="newer than this code's"):
        restore(tmp_path / "backup", empty_url, Storage(tmp_path / "restored"))


def test_a_restore_refuses_a_database_or_an_upload_store_that_is_not_empty(
    db_url, empty_url, tmp_path
):
    live = Storage(tmp_path / "uploads")
    live.save(pdf_bytes())
    backup(db_url, live, tmp_path / "backup")
    with pytest.raises(BackupError, match="database is not empty"):
        restore(tmp_path / "backup", db_url, Storage(tmp_path / "restored"))
    with pytest.raises(BackupError, match="upload store .* is not empty"):
        restore(tmp_path / "backup", empty_url, live)
    with pytest.raises(BackupError, match="not empty: back up into a new directory"):
        backup(db_url, live, tmp_path / "backup")


def test_the_commands_back_up_restore_and_check(db_url, sessions, empty_url, tmp_path, capsys):
    live = tmp_path / "uploads"
    deposits = Deposits(sessions, Storage(live))
    with sessions() as session:
        deposits._deposit(session, deposits.actors[0], 1)
    environ = {"DATABASE_URL": db_url, "UPLOAD_DIR": str(live)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environ.items():
            patch.setenv(key, value)
        assert run.main(["backup", str(tmp_path / "backup")]) == 0
        assert run.main(["check", str(tmp_path / "backup")]) == 0
        patch.setenv("DATABASE_URL", empty_url)
        patch.setenv("UPLOAD_DIR", str(tmp_path / "restored"))
        assert run.main(["restore", str(tmp_path / "backup")]) == 0
        assert run.main(["check"]) == 0
        for name in Storage(tmp_path / "restored").names():
            os.remove(Storage(tmp_path / "restored").path(name))
        assert run.main(["check"]) == 1
    out, err = capsys.readouterr()
    assert "Backup in" in out and "1 files" in out
    assert "All 1 pieces are present with their hash." in out
    assert "missing: " in err and "1 missing, 0 corrupt of 1 pieces" in err


def test_pg_dump_of_another_major_version_is_refused_with_a_clear_message(
    postgres_url, tmp_path, monkeypatch
):
    from workflow.plumbing import backup as module

    monkeypatch.setattr(module, "_major", lambda tool: 14)
    with pytest.raises(BackupError, match="pg_dump is version 14 but the server is PostgreSQL"):
        backup(postgres_url, Storage(tmp_path / "uploads"), tmp_path / "backup")
