"""Without SMTP, mails stay readable on a development page; with SMTP, that page is gone."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import World
from web import create_app
from workflow.models import OutboxMail
from workflow.plumbing.db import make_engine, make_session_factory


def deposit(url: str) -> OutboxMail:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        World(session).deposited()
        mail = session.scalars(select(OutboxMail)).one()
    engine.dispose()
    return mail


def test_the_outbox_page_lists_and_shows_each_mail(sqlite_url):
    mail = deposit(sqlite_url)
    client = create_app(
        {"DATABASE_URL": sqlite_url, "SMTP_URL": None, "TESTING": True}
    ).test_client()
    listing = client.get("/dev/outbox").get_data(as_text=True)
    assert "accuse_reception" in listing
    assert mail.recipient in listing
    page = client.get(f"/dev/outbox/{mail.id}").get_data(as_text=True)
    assert "Votre dossier n° 1 a bien été déposé" in page
    assert "Candidat pressenti : Lambourde Peggy" in page
    html = client.get(f"/dev/outbox/{mail.id}/html")
    assert "<strong>n° 1</strong>" in html.get_data(as_text=True)
    assert "sandbox" in html.headers["Content-Security-Policy"]
    assert client.get("/dev/outbox/999").status_code == 404


def test_the_outbox_page_does_not_exist_when_mails_really_leave(sqlite_url):
    deposit(sqlite_url)
    app = create_app(
        {"DATABASE_URL": sqlite_url, "SMTP_URL": "smtp://127.0.0.1:2525", "TESTING": True}
    )
    assert app.test_client().get("/dev/outbox").status_code == 404
