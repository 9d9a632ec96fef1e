"""Exports as jobs: an instructor's request waits in a queue, a worker claims it (never two
workers the same job), builds the very file a direct export gives into storage with its
progress, mails « Votre export est prêt », and the file expires after 7 days. A job whose
worker died is queued again."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import at_paris, pdf_bytes
from workflow.instruction import export_jobs, exports
from workflow.instruction.archives import campaign_entries, write_zip
from workflow.instruction.export_jobs import (
    MAX_PENDING_PER_PERSON,
    TooManyExports,
    claim_next,
    export_storage,
    request_export,
    run_job,
    work,
)
from workflow.instruction.exports import export_csv, export_xlsx
from workflow.models import Attachment, ExportJob, OutboxMail
from workflow.plumbing.db import transaction
from workflow.plumbing.storage import Storage

NOW = at_paris(2026, 6, 1, 10)


@pytest.fixture
def scene(world, session, tmp_path):
    campaign = world.campaign()
    hospital = world.organisation()
    for state in ("en_instruction", "en_instruction", "accepte", "brouillon"):
        world.dossier(campaign, hospital, state)
    storage = Storage(tmp_path / "store")
    with transaction(session):
        for attachment in session.scalars(select(Attachment)):
            attachment.storage_name = storage.save(pdf_bytes())
    instructor = world.user("instructeur")
    return campaign, instructor, storage


def ask(session, campaign, user, kind="csv", now=NOW) -> int:
    with transaction(session):
        return request_export(session, campaign, kind, user, now).id


def reloaded(session, job_id) -> ExportJob:
    """The job as the workers left it (a new read transaction, not the test's snapshot)."""
    session.rollback()
    session.expire_all()
    return session.get(ExportJob, job_id)


def stored(storage, session, job_id) -> bytes:
    return export_storage(storage).read(reloaded(session, job_id).storage_name)


@pytest.mark.parametrize("kind", ["csv", "xlsx", "zip"])
def test_a_job_builds_the_same_file_as_the_direct_export(kind, scene, session, sessions):
    campaign, instructor, storage = scene
    job_id = ask(session, campaign, instructor, kind)
    with time_machine.travel(NOW, tick=False):
        assert work(sessions, storage, "w1") == [(job_id, "done")]
    data = stored(storage, session, job_id)
    job = reloaded(session, job_id)
    assert (job.status, job.size, job.progress_total, job.progress_done) == (
        "done",
        len(data),
        3,
        3,
    )
    assert job.expires_at == NOW + dt.timedelta(days=7)
    if kind == "csv":
        assert data == export_csv(session, campaign.id)
    elif kind == "xlsx":

        def cells(raw):
            sheet = openpyxl.load_workbook(io.BytesIO(raw)).active
            return [[c.value for c in row] for row in sheet.iter_rows()]

        direct = export_xlsx(session, campaign.id)
        assert cells(data) == cells(direct) and len(cells(data)) == 4
    else:
        direct = write_zip(campaign_entries(session, campaign.id), storage)
        with zipfile.ZipFile(io.BytesIO(data)) as mine, zipfile.ZipFile(direct) as theirs:
            assert mine.namelist() == theirs.namelist() and len(mine.namelist()) == 3
            assert all(mine.read(n) == theirs.read(n) for n in mine.namelist())


def test_the_requester_is_mailed_that_the_export_is_ready(scene, session, sessions):
    campaign, instructor, storage = scene
    job_id = ask(session, campaign, instructor, "xlsx")
    with time_machine.travel(NOW, tick=False):
        work(sessions, storage, "w1")
    (mail,) = session.scalars(select(OutboxMail)).all()
    assert (mail.template, mail.recipient, mail.campaign_id) == (
        "export_pret",
        instructor.email,
        campaign.id,
    )
    assert mail.context["export_id"] == job_id and mail.context["dossiers"] == 3


def test_requests_queue_and_a_worker_runs_them_one_at_a_time_in_order(scene, session, sessions):
    campaign, instructor, storage = scene
    jobs = [ask(session, campaign, instructor, kind) for kind in ("csv", "xlsx", "zip")]
    assert work(sessions, storage, "w1", limit=1) == [(jobs[0], "done")]
    session.rollback()
    states = dict(session.execute(select(ExportJob.id, ExportJob.status)).all())
    assert states == {jobs[0]: "done", jobs[1]: "queued", jobs[2]: "queued"}
    assert work(sessions, storage, "w1") == [(jobs[1], "done"), (jobs[2], "done")]


def test_the_same_request_still_waiting_is_not_queued_twice(scene, session):
    campaign, instructor, _ = scene
    assert ask(session, campaign, instructor, "csv") == ask(session, campaign, instructor, "csv")


def test_a_person_cannot_flood_the_queue(world, scene, session):
    campaign, instructor, _ = scene
    others = [world.campaign(slug=f"autre-{i}") for i in range(MAX_PENDING_PER_PERSON)]
    for other in others:
        ask(session, other, instructor, "csv")
    with pytest.raises(TooManyExports), transaction(session):
        request_export(session, campaign, "csv", instructor, NOW)
    assert session.scalar(select(ExportJob).where(ExportJob.campaign_id == campaign.id)) is None


def test_two_workers_never_claim_the_same_job(scene, session, sessions):
    campaign, instructor, _ = scene
    only = ask(session, campaign, instructor, "csv")
    assert claim_next(sessions, "w1", NOW) == only
    assert claim_next(sessions, "w2", NOW) is None
    job = reloaded(session, only)
    assert (job.status, job.worker, job.attempts) == ("running", "w1", 1)


def test_a_job_whose_worker_died_is_queued_again_and_the_late_one_keeps_nothing(
    scene, session, sessions, monkeypatch
):
    campaign, instructor, storage = scene
    job_id = ask(session, campaign, instructor, "csv")
    assert claim_next(sessions, "lent", NOW) == job_id
    # Still beating five minutes later: nobody takes it.
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        assert work(sessions, storage, "w2") == []
    real = export_jobs.write_csv
    taken_over: list[object] = []

    def stalled(reading, campaign_id, output, progress):
        # The worker stalls for 11 minutes: another one takes the job and finishes it.
        with time_machine.travel(NOW + dt.timedelta(minutes=11), tick=False):
            taken_over.extend(work(sessions, storage, "w2"))
        real(reading, campaign_id, output, progress)

    monkeypatch.setattr(export_jobs, "write_csv", stalled)
    assert run_job(sessions, storage, job_id, "lent") == "requeued"
    assert taken_over == [(job_id, "done")]
    job = reloaded(session, job_id)
    assert (job.status, job.worker, job.attempts) == ("done", "w2", 2)
    assert list(export_storage(storage).names()) == [job.storage_name]


def test_a_job_that_keeps_killing_its_worker_fails_after_three_attempts(scene, session, sessions):
    campaign, instructor, storage = scene
    job_id = ask(session, campaign, instructor, "xlsx")
    moment = NOW
    for attempt in range(3):
        moment += dt.timedelta(minutes=11)
        with time_machine.travel(moment, tick=False):
            export_jobs.requeue_stale(sessions, moment)
            assert claim_next(sessions, f"w{attempt}", moment) == job_id
    with time_machine.travel(moment + dt.timedelta(minutes=11), tick=False):
        assert work(sessions, storage, "w9") == []
    job = reloaded(session, job_id)
    assert job.status == "failed" and "plusieurs fois" in job.error


def test_progress_moves_while_the_rows_are_written(scene, session, sessions, monkeypatch):
    campaign, instructor, storage = scene
    monkeypatch.setattr(exports, "BATCH", 1)
    seen: list[int] = []
    job_id = ask(session, campaign, instructor, "csv")
    claim_next(sessions, "w1", NOW)
    real = export_jobs.write_csv

    def watching(reading, campaign_id, output, progress):
        def told(done):
            progress(done)
            with sessions() as other:
                seen.append(other.get(ExportJob, job_id).progress_done)

        real(reading, campaign_id, output, told)

    monkeypatch.setattr(export_jobs, "write_csv", watching)
    assert run_job(sessions, storage, job_id, "w1") == "done"
    assert seen == [1, 2, 3, 3]  # every row, then once more at the end


def test_a_failed_export_says_so_in_french_and_keeps_no_file(scene, session, sessions, monkeypatch):
    campaign, instructor, storage = scene
    job_id = ask(session, campaign, instructor, "xlsx")

    def broken(*args, **kwargs):
        raise OSError("disque plein")

    monkeypatch.setattr(export_jobs, "write_xlsx", broken)
    assert work(sessions, storage, "w1") == [(job_id, "failed")]
    job = reloaded(session, job_id)
    assert job.status == "failed" and job.error.startswith("L'export n'a pas pu être produit")
    assert list(export_storage(storage).names()) == []


def test_an_export_file_is_deleted_after_seven_days(scene, session, sessions):
    campaign, instructor, storage = scene
    job_id = ask(session, campaign, instructor, "csv")
    with time_machine.travel(NOW, tick=False):
        work(sessions, storage, "w1")
    name = reloaded(session, job_id).storage_name
    with time_machine.travel(NOW + dt.timedelta(days=6, hours=23), tick=False):
        work(sessions, storage, "w1")
    assert export_storage(storage).exists(name)
    with time_machine.travel(NOW + dt.timedelta(days=7), tick=False):
        work(sessions, storage, "w1")
    job = reloaded(session, job_id)
    assert job.status == "expired" and not export_storage(storage).exists(name)


def test_export_files_stay_out_of_the_pieces_names(scene, session, sessions):
    campaign, instructor, storage = scene
    before = set(storage.names())
    ask(session, campaign, instructor, "csv")
    work(sessions, storage, "w1")
    assert set(storage.names()) == before and len(list(export_storage(storage).names())) == 1
