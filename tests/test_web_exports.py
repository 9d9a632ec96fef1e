"""The instructor's exports: a small campaign still downloads at once; a large one is asked
on the exports page, waits in the queue with a progress bar, is built by the worker (never
the web worker) and downloaded through an access-checked link, from the local folder or an
S3 bucket alike."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
import time_machine
from sqlalchemy import select

from web import create_app
from workflow.administration.instructors import follow
from workflow.instruction.export_jobs import export_storage, work
from workflow.instruction.exports import export_csv
from workflow.models import ExportJob, OutboxMail
from workflow.plumbing.db import transaction
from workflow.plumbing.storage_url import open_storage


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


@pytest.fixture
def large(world, session, app, auth):
    """A campaign of 3 deposited dossiers, past a threshold of 2 for this test, followed by
    the signed-in instructeur."""
    app.config["EXPORT_DIRECT_MAX"] = app.config["EXPORT_DIRECT_MAX_ZIP"] = 2
    campaign = world.campaign()
    hospital = world.organisation()
    for state in ("en_instruction", "en_instruction", "accepte", "brouillon"):
        world.dossier(campaign, hospital, state)
    instructor = world.user("instructeur")
    admin = world.actor("administrateur")
    with transaction(session):
        follow(session, instructor, campaign, admin)
    auth.login(instructor)
    return campaign, instructor


def jobs(session) -> list[ExportJob]:
    session.rollback()
    session.expire_all()
    return list(session.scalars(select(ExportJob).order_by(ExportJob.id)))


def storage_of(app):  # type: ignore[no-untyped-def]
    return open_storage(app.config["STORAGE_URL"])


def test_a_small_campaign_is_still_exported_at_once(world, session, app, auth):
    campaign = world.campaign()
    world.dossier(campaign, world.organisation(), "en_instruction")
    auth.login(world.user("administrateur"))
    response = auth.client.get(f"/instruction/campagnes/{campaign.slug}/export.csv")
    assert response.status_code == 200 and response.data == export_csv(session, campaign.id)
    assert jobs(session) == []


@pytest.mark.parametrize("path", ["export.csv", "export.xlsx", "pieces.zip"])
def test_a_large_campaign_is_never_built_by_the_web_worker(path, large, client, session):
    campaign, _ = large
    response = client.get(f"/instruction/campagnes/{campaign.slug}/{path}")
    assert response.status_code == 302
    assert response.location.endswith(f"/instruction/campagnes/{campaign.slug}/exports")
    page = text_of(client.get(response.location))
    assert "Cette campagne compte 3 dossiers déposés" in page
    assert "Exporter : XLSX (Excel)" in page and jobs(session) == []


def test_an_export_is_queued_shown_with_its_progress_then_downloaded(large, client, session, app):
    campaign, instructor = large
    base = f"/instruction/campagnes/{campaign.slug}/exports"
    response = client.post(base, data={"kind": "csv"})
    assert response.status_code == 302
    (job,) = jobs(session)
    assert (job.kind, job.status, job.requested_by, job.progress_total) == (
        "csv",
        "queued",
        instructor.id,
        3,
    )
    page = client.get(base)
    assert "En attente" in text_of(page)
    assert f'data-export-status="/instruction/exports/{job.id}/etat"' in page.text
    assert '<progress max="3" value="0"' in page.text
    assert "exports.js" in page.text and 'http-equiv="refresh"' in page.text
    status = client.get(f"/instruction/exports/{job.id}/etat").get_json()
    assert status == {"status": "queued", "label": "En attente", "done": 0, "total": 3}
    # Not ready yet: no file to download.
    assert client.get(f"/instruction/exports/{job.id}/fichier").status_code == 404

    work(app.extensions["db_sessions"], storage_of(app), "worker")
    status = client.get(f"/instruction/exports/{job.id}/etat").get_json()
    assert status == {"status": "done", "label": "Prêt", "done": 3, "total": 3}
    page = client.get(base)
    assert "data-export-status" not in page.text and 'http-equiv="refresh"' not in page.text
    download = client.get(f"/instruction/exports/{job.id}/fichier")
    assert download.status_code == 200
    assert download.data == export_csv(session, campaign.id)
    assert download.mimetype == "text/csv"
    assert f"{campaign.slug}-" in download.headers["Content-Disposition"]
    assert download.headers["Cache-Control"] == "private, no-store"
    session.rollback()
    (mail,) = session.scalars(select(OutboxMail).where(OutboxMail.template == "export_pret"))
    assert mail.recipient == instructor.email and mail.context["export_id"] == job.id


def test_the_pieces_of_a_campaign_go_to_the_worker_sooner_than_its_table(
    large, client, session, app
):
    campaign, _ = large
    app.config["EXPORT_DIRECT_MAX"] = 10
    base = f"/instruction/campagnes/{campaign.slug}"
    assert client.get(f"{base}/export.csv").status_code == 200
    assert client.get(f"{base}/pieces.zip").status_code == 302
    assert jobs(session) == []


def test_an_expired_export_cannot_be_downloaded(large, client, session, app, auth):
    campaign, _ = large
    client.post(f"/instruction/campagnes/{campaign.slug}/exports", data={"kind": "xlsx"})
    work(app.extensions["db_sessions"], storage_of(app), "worker")
    (job,) = jobs(session)
    with time_machine.travel(job.finished_at + dt.timedelta(days=7, minutes=1), tick=False):
        work(app.extensions["db_sessions"], storage_of(app), "worker")
    (job,) = jobs(session)
    assert job.status == "expired"
    assert client.get(f"/instruction/exports/{job.id}/fichier").status_code == 404
    assert "Expiré" in text_of(client.get(f"/instruction/campagnes/{campaign.slug}/exports"))


@pytest.mark.parametrize("kind", ["", "pdf", "../csv", "x" * 5000])
def test_an_unknown_kind_of_export_is_refused_in_french(kind, large, client, session):
    campaign, _ = large
    response = client.post(
        f"/instruction/campagnes/{campaign.slug}/exports",
        data={"kind": kind},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Choisissez un export : CSV, XLSX ou ZIP des pièces." in text_of(response)
    assert jobs(session) == []


def test_a_job_of_a_campaign_one_does_not_follow_is_a_404(large, client, session, world, auth):
    campaign, _ = large
    client.post(f"/instruction/campagnes/{campaign.slug}/exports", data={"kind": "csv"})
    (job,) = jobs(session)
    auth.login(world.user("instructeur"))
    for path in (f"/instruction/exports/{job.id}/etat", f"/instruction/exports/{job.id}/fichier"):
        response = client.get(path)
        assert response.status_code == 404 and "Page introuvable" in response.text
    assert client.get("/instruction/exports/999999/etat").status_code == 404


def test_with_an_s3_bucket_exports_go_to_the_bucket_and_come_back(
    large, client, session, app, s3_url
):
    app.config["STORAGE_URL"] = s3_url
    app.extensions.pop("storage", None)
    campaign, _ = large
    client.post(f"/instruction/campagnes/{campaign.slug}/exports", data={"kind": "csv"})
    bucket = open_storage(s3_url)
    work(app.extensions["db_sessions"], bucket, "worker")
    (job,) = jobs(session)
    assert list(export_storage(bucket).names()) == [job.storage_name]
    download = client.get(f"/instruction/exports/{job.id}/fichier")
    assert download.data == export_csv(session, campaign.id)


def test_the_exports_form_carries_its_csrf_token_and_is_refused_without(sqlite_url, tmp_path):
    app = create_app(
        {
            "DATABASE_URL": sqlite_url,
            "SECRET_KEY": "security-test-key-long-enough-for-production",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    try:
        from workflow.plumbing.db import make_engine, make_session_factory

        own = make_session_factory(make_engine(sqlite_url))()
        from tests.conftest import AuthActions, World

        here = World(own)
        campaign = here.campaign()
        client = app.test_client()
        auth = AuthActions(client, own)
        auth.login(here.user("administrateur"))
        base = f"/instruction/campagnes/{campaign.slug}/exports"
        forms = re.findall(r"<form.*?</form>", client.get(base).text, re.S)
        assert len(forms) == 4 and all(  # the three exports and « Se déconnecter »
            'name="csrf_token"' in form for form in forms
        )
        refused = client.post(base, data={"kind": "csv"})
        assert refused.status_code == 400 and "Le formulaire a expiré" in refused.text
        assert own.scalars(select(ExportJob)).all() == []
        own.close()
    finally:
        app.extensions["db_sessions"].kw["bind"].dispose()
