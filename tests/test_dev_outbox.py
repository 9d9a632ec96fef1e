"""The development outbox shows every mail, reset links included: it exists only in the
explicit development mode, and even there only for this machine or a signed-in
administrator. Everywhere else it is a 404, and mails without SMTP simply wait."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.conftest import TEST_SECRET_KEY, World
from web import create_app
from workflow.models import OutboxMail
from workflow.plumbing.db import make_engine, make_session_factory, transaction

REMOTE = {"REMOTE_ADDR": "203.0.113.7"}


def deposit(url: str) -> OutboxMail:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        World(session).deposited()
        mail = session.scalars(select(OutboxMail)).one()
    engine.dispose()
    return mail


@pytest.fixture
def make_app(tmp_path):  # type: ignore[no-untyped-def]
    built = []

    def build(url: str, **config):  # type: ignore[no-untyped-def]
        app = create_app(
            {
                "DATABASE_URL": url,
                "SECRET_KEY": TEST_SECRET_KEY,
                "UPLOAD_DIR": str(tmp_path / "uploads"),
                "TESTING": True,
                "WTF_CSRF_ENABLED": False,
                "DEVELOPMENT": False,
                **config,
            }
        )
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["db_sessions"].kw["bind"].dispose()


def sign_in(client, session, user) -> None:  # type: ignore[no-untyped-def]
    """Opens a server-side session for `user` and puts it in the client's cookie."""
    from workflow.people.sign_in_sessions import open_session

    with transaction(session):
        session_id = open_session(session, user)
    with client.session_transaction() as cookie:
        cookie["_user_id"] = session_id
        cookie["_fresh"] = True


def test_in_development_mode_the_outbox_lists_and_shows_each_mail_on_this_machine(
    sqlite_url, make_app
):
    mail = deposit(sqlite_url)
    client = make_app(sqlite_url, DEVELOPMENT=True, SMTP_URL=None).test_client()
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


def test_without_smtp_in_production_a_reset_link_cannot_be_read_on_the_dev_outbox(
    db_url, session, make_app
):
    """The reproduction of issue 15, hole 1: ask a reset for the administrator's address,
    then look for the link on /dev/outbox."""
    admin = World(session).user("administrateur")
    with transaction(session):
        admin.email_confirmed_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    client = make_app(db_url, SMTP_URL=None).test_client()
    asked = client.post("/compte/mot-de-passe-oublie", data={"email": admin.email})
    assert asked.status_code == 200
    assert "boîte d'envoi" not in asked.get_data(as_text=True)
    session.expire_all()
    reset = session.scalars(
        select(OutboxMail).where(OutboxMail.template == "reinitialisation_mot_de_passe")
    ).one()
    assert reset.recipient == admin.email and reset.status == "pending"
    for path in ("/dev/outbox", f"/dev/outbox/{reset.id}", f"/dev/outbox/{reset.id}/html"):
        assert client.get(path).status_code == 404, path
        assert client.get(path, environ_base=REMOTE).status_code == 404, path


def test_in_development_mode_a_remote_visitor_gets_a_404(db_url, make_app):
    mail = deposit(db_url)
    client = make_app(db_url, DEVELOPMENT=True, SMTP_URL=None).test_client()
    for path in ("/dev/outbox", f"/dev/outbox/{mail.id}", f"/dev/outbox/{mail.id}/html"):
        assert client.get(path, environ_base=REMOTE).status_code == 404, path
        assert client.get(path, environ_base={"REMOTE_ADDR": "::1"}).status_code == 200, path


def test_a_request_relayed_by_a_proxy_on_this_machine_is_not_from_loopback(sqlite_url, make_app):
    deposit(sqlite_url)
    client = make_app(sqlite_url, DEVELOPMENT=True, SMTP_URL=None).test_client()
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        relayed = client.get("/dev/outbox", headers={header: "203.0.113.7"})
        assert relayed.status_code == 404, header


def test_in_development_mode_a_remote_administrator_reads_the_outbox_but_no_one_else(
    db_url, session, make_app
):
    world = World(session)
    world.deposited()
    mail = session.scalars(select(OutboxMail)).one()
    client = make_app(db_url, DEVELOPMENT=True, SMTP_URL=None).test_client()
    for role in ("deposant", "instructeur"):
        user = world.user(role, world.organisation() if role == "deposant" else None)
        with transaction(session):
            user.email_confirmed_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        sign_in(client, session, user)
        assert (
            client.get("/mes-dossiers" if role == "deposant" else "/instruction/").status_code
            == 200
        )
        assert client.get("/dev/outbox", environ_base=REMOTE).status_code == 404, role
    admin = world.user("administrateur")
    with transaction(session):
        admin.email_confirmed_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    sign_in(client, session, admin)
    listing = client.get("/dev/outbox", environ_base=REMOTE)
    assert listing.status_code == 200
    assert mail.recipient in listing.get_data(as_text=True)


def test_the_outbox_page_does_not_exist_in_production_even_with_smtp(sqlite_url, make_app):
    deposit(sqlite_url)
    app = make_app(sqlite_url, SMTP_URL="smtp://127.0.0.1:2525")
    assert app.test_client().get("/dev/outbox").status_code == 404
