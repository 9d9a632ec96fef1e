"""Fixtures: databases (SQLite always, PostgreSQL when TEST_POSTGRES_URL reaches one),
campaigns built for a test, organisations, users and dossiers in any state."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from workflow.campaigns.schema import Campaign as Definition
from workflow.campaigns.store import store_campaign
from workflow.models import Base, Campaign, Decision, Dossier, Organisation, User
from workflow.people.actors import Actor
from workflow.plumbing.db import make_engine, make_session_factory, migrate, transaction

# --- databases ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of our own on the PostgreSQL server, migrated once and dropped at the end;
    the server outlives the run and may hold other databases."""
    base = os.environ.get("TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    admin_url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "skip"
        pytest.skip(f"PostgreSQL at TEST_POSTGRES_URL is not reachable: {exc}")
    name = f"pp_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """The URL of an empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database, for tests whose subject is not the database."""
    path = tmp_path / "test.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _empty_postgres(url: str) -> None:
    from workflow.campaigns import store
    from workflow.instruction import dashboard

    # Ids restart below, so a campaign version id of an earlier test names another definition
    # now, and a dossier id another dossier: forget what is cached by id.
    store._definitions.clear()
    dashboard._reports.clear()
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(text("INSERT INTO counters (name, value) VALUES ('dossier_number', 0)"))
        connection.execute(text("ALTER SEQUENCE dossier_number_seq RESTART WITH 1"))
    engine.dispose()


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine):  # type: ignore[no-untyped-def]
    return make_session_factory(engine)


@pytest.fixture
def session(sessions) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        yield session


# --- domain data ----------------------------------------------------------------------------

OPENS = dt.date(2026, 1, 5)
DEADLINE = dt.date(2026, 3, 20)
WINDOW = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
START = dt.date(2026, 11, 2)


def definition(**overrides: Any) -> Definition:
    """A small campaign in the shape of the IdF manuals: identification first, a candidate
    with RPPS or a planned registration date, a time split summing to 100 %, one required
    piece, one attestation and the data-protection consent."""
    data: dict[str, Any] = {
        "slug": "test-asp",
        "title": "Assistants spécialistes partagés (test)",
        "agency": "ARS Île-de-France",
        "contacts": [{"email": "ars-idf-asp@ars.sante.fr"}],
        "depositor": "etablissement_sante",
        "depositor_label": "Bureau des Affaires Médicales de l'établissement recruteur",
        "opens": OPENS,
        "deadline": DEADLINE,
        "publication": "grouped",
        "confirmation_window": {"start": WINDOW[0], "end": WINDOW[1]},
        "start_dates": [START],
        "identification_first": True,
        "summary": {
            "partner_name": "identification.partenaire_nom",
            "partner_email": "identification.partenaire_email",
            "speciality": "identification.specialite",
            "candidate_name": ["candidat.nom", "candidat.prenom"],
        },
        "volets": [
            {
                "key": "identification",
                "title": "Identification",
                "fields": [
                    {
                        "key": "recruteur_finess",
                        "label": "FINESS du recruteur",
                        "type": "finess",
                        "required": True,
                    },
                    {
                        "key": "partenaire_nom",
                        "label": "Nom du partenaire",
                        "type": "text",
                        "required": True,
                    },
                    {
                        "key": "partenaire_email",
                        "label": "Email du partenaire",
                        "type": "email",
                        "required": True,
                    },
                    {"key": "specialite", "label": "Spécialité", "type": "text", "required": True},
                ],
            },
            {
                "key": "candidat",
                "title": "Candidat",
                "fields": [
                    {"key": "nom", "label": "Nom", "type": "text", "required": True},
                    {"key": "prenom", "label": "Prénom", "type": "text", "required": True},
                    {"key": "rpps", "label": "N° RPPS", "type": "rpps"},
                    {
                        "key": "date_inscription",
                        "label": "Date prévisionnelle d'inscription",
                        "type": "date",
                    },
                    {
                        "key": "temps_hopital",
                        "label": "Temps à l'hôpital",
                        "type": "percentage",
                        "required": True,
                    },
                    {
                        "key": "temps_partenaire",
                        "label": "Temps chez le partenaire",
                        "type": "percentage",
                        "required": True,
                    },
                ],
            },
        ],
        "rules": [
            {"kind": "one_of", "fields": ["candidat.rpps", "candidat.date_inscription"]},
            {
                "kind": "sum",
                "fields": ["candidat.temps_hopital", "candidat.temps_partenaire"],
                "total": 100,
            },
        ],
        "pieces": [{"key": "cv", "label": "CV du candidat"}],
        "attestations": [{"key": "complet", "text": "Je certifie que le dossier est complet."}],
        "consent": "J'accepte le traitement de mes données personnelles.",
    }
    data.update(overrides)
    return Definition.model_validate(data)


COMPLETE_VALUES = {
    "identification": {
        "recruteur_finess": "010000156",
        "partenaire_nom": "CHU La Pyte",
        "partenaire_email": "dam@chu-la-pyte.fr",
        "specialite": "Dermatologie",
    },
    "candidat": {
        "nom": "Lambourde",
        "prenom": "Peggy",
        "rpps": "10003456786",
        "date_inscription": None,
        "temps_hopital": 50,
        "temps_partenaire": 50,
    },
}


def luhn_completed(digits: str) -> str:
    """`digits` followed by the key digit that makes the whole pass Luhn (a valid FINESS)."""
    from workflow.plumbing.identifiers import luhn_valid

    return next(digits + str(key) for key in range(10) if luhn_valid(digits + str(key)))


class World:
    """Builds test data in one session; each test makes its own."""

    def __init__(self, session: Session):
        self.session = session
        self._n = 0

    def campaign(self, **overrides: Any) -> Campaign:
        with transaction(self.session):
            loaded = store_campaign(self.session, definition(**overrides))
        return loaded.campaign

    def organisation(self, finess: str | None = None, **extra: Any) -> Organisation:
        self._n += 1
        finess = finess or luhn_completed(f"75{self._n:06d}")
        with transaction(self.session):
            fields = {"type": "etablissement_sante", "name": f"CH {finess}", **extra}
            org = Organisation(finess=finess, **fields)
            self.session.add(org)
        return org

    def user(self, role: str, organisation: Organisation | None = None) -> User:
        self._n += 1
        with transaction(self.session):
            user = User(
                email=f"{role}{self._n}-{uuid.uuid4().hex[:6]}@example.fr",
                password_hash="x",
                role=role,
                organisation_id=organisation.id if organisation else None,
            )
            self.session.add(user)
        return user

    def actor(self, role: str, organisation: Organisation | None = None) -> Actor:
        return Actor.of(self.user(role, organisation))

    def dossier(
        self,
        campaign: Campaign,
        organisation: Organisation,
        state: str = "brouillon",
        complete: bool = True,
        published: bool | None = None,
    ) -> Dossier:
        """A dossier put straight into `state` (test set-up, not a transition)."""
        from workflow.campaigns.store import current_version

        with transaction(self.session):
            version = current_version(self.session, campaign)
            dossier = Dossier(
                campaign_id=campaign.id,
                campaign_version_id=version.id,
                organisation_id=organisation.id,
                state=state,
                values=COMPLETE_VALUES if complete else {},
                attestations=["complet"] if complete else [],
                consent=complete,
                partner_email="dam@chu-la-pyte.fr",
                partner_name="CHU La Pyte",
                candidate_name="Lambourde Peggy",
                speciality="Dermatologie",
            )
            if state != "brouillon":
                self._n += 1
                dossier.number = 90000 + self._n
                dossier.deposited_at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
            if complete:
                from workflow.models import Attachment

                dossier.attachments.append(
                    Attachment(
                        piece_key="cv",
                        filename="cv.pdf",
                        storage_name=uuid.uuid4().hex,
                        size=10,
                        sha256="0" * 64,
                    )
                )
            decided = ("accepte", "refuse", "sans_suite", "liste_complementaire")
            if state in (*decided, "confirme", "en_poste", "desiste"):
                kind = state if state in decided else "accepte"
                when = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
                dossier.decision = Decision(
                    kind=kind,
                    motivation="Projet solide.",
                    decided_at=when,
                    published_at=when if published else None,
                )
            self.session.add(dossier)
        return dossier

    def deposited(self, **campaign: Any) -> tuple[Dossier, Actor]:
        """A complete dossier deposited on 10 March 2026 by a déposant of its organisation;
        its accusé de réception waits in the outbox."""
        import time_machine

        from workflow.machine.operations import fire

        hospital = self.organisation()
        deposant = self.actor("deposant", hospital)
        dossier = self.dossier(self.campaign(**campaign), hospital)
        with time_machine.travel(at_paris(2026, 3, 10), tick=False), transaction(self.session):
            fire(self.session, dossier, "deposer", deposant)
        return dossier, deposant


@pytest.fixture
def world(session: Session) -> World:
    return World(session)


def at_paris(
    year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0
) -> dt.datetime:
    """An instant given in Paris wall-clock time."""
    from zoneinfo import ZoneInfo

    return dt.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo("Europe/Paris"))


# --- mail ----------------------------------------------------------------------------------


class MailCatcher:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives and refuses the
    addresses it is told to, with a permanent 550 like a real bounce."""

    def __init__(self) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.messages: list[Any] = []
        self.refused: set[str] = set()
        self.deferred: set[str] = set()
        self.controller: Any = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refused:
            return "550 5.1.1 Mailbox unavailable"
        if address in self.deferred:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp_server() -> Iterator[MailCatcher]:
    catcher = MailCatcher()
    catcher.start()
    yield catcher
    catcher.stop()


class SilentSmtpServer:
    """An SMTP server that hangs: it accepts connections on loopback and never answers, not
    even the greeting. `accepted` is set at the first connection."""

    def __init__(self) -> None:
        import socket
        import threading

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.accepted = threading.Event()
        self.connections: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(connection)
            self.accepted.set()

    def url(self, timeout: float) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout={timeout:g}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for connection in self.connections:
            connection.close()
        self.listener.close()


@pytest.fixture
def silent_smtp_server() -> Iterator[SilentSmtpServer]:
    server = SilentSmtpServer()
    yield server
    server.close()


# --- web -----------------------------------------------------------------------------------


# Long enough for production mode, which refuses a weak key.
TEST_SECRET_KEY = "test-secret-key-of-the-app-fixture-1234567890"


@pytest.fixture
def app(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The Flask app on the test's database; CSRF is tested on its own (test_web_security)."""
    from web import create_app

    app = create_app(
        {
            "DATABASE_URL": db_url,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": TEST_SECRET_KEY,
            "DEVELOPMENT": False,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "SMTP_URL": None,
        }
    )
    yield app
    app.extensions["db_sessions"].kw["bind"].dispose()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


class AuthActions:
    """Signs a test client in as a user (flaskr's AuthActions), without the password round
    trip: the session is written as Flask-Login writes it."""

    def __init__(self, client: Any, session: Session):
        self.client = client
        self.session = session
        self.user: User | None = None
        self.session_id: str | None = None

    def login(self, user: User) -> User:
        if user.email_confirmed_at is None:
            with transaction(self.session):
                user.email_confirmed_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        self.user = user
        self.refresh()
        return user

    def refresh(self) -> None:
        """Opens a new server-side session now and signs the cookie again: a cookie signed at
        a later instant than the one a test travels to is refused as coming from the future,
        and a session opened then would be idle or too old."""
        from workflow.people.sign_in_sessions import open_session

        self.session_id = None
        if self.user is not None:
            with transaction(self.session):
                self.session_id = open_session(self.session, self.user)
        with self.client.session_transaction() as cookie:
            cookie.clear()
            if self.session_id is not None:
                cookie["_user_id"] = self.session_id
                cookie["_fresh"] = True

    def logout(self) -> None:
        self.user = None
        self.refresh()

    @contextmanager
    def at(self, moment: dt.datetime) -> Iterator[None]:
        """Travels to `moment` (the clock stands still there), still signed in."""
        import time_machine

        with time_machine.travel(moment, tick=False):
            self.refresh()
            yield


@pytest.fixture
def auth(client, session: Session) -> AuthActions:  # type: ignore[no-untyped-def]
    return AuthActions(client, session)


def pdf_bytes(pages: int = 1, password: str | None = None, title: str = "Pièce") -> bytes:
    """A real PDF made with pypdf, optionally encrypted with a user password."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": title})
    if password is not None:
        writer.encrypt(user_password=password, owner_password="proprietaire", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback, at a free port, for the whole run."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_url(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """STORAGE_URL of a new, empty bucket on moto's server (credentials as AWS variables)."""
    import uuid

    import boto3

    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "eu-west-3"),
    ):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = f"pp-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="eu-west-3")
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
    )
    return f"s3://{bucket}/postes?endpoint_url={moto_endpoint}&region=eu-west-3"


# --- a déposant's scene, shared by the web tests of the déposant's pages -----------------


@pytest.fixture
def hospital(world):  # type: ignore[no-untyped-def]
    """An établissement de santé with a FINESS."""
    return world.organisation()


@pytest.fixture
def campaign(world):  # type: ignore[no-untyped-def]
    """A campaign open on the test's instants (see `World.campaign`)."""
    return world.campaign()


@pytest.fixture
def signed_in(world, auth, hospital):  # type: ignore[no-untyped-def]
    """A déposant of the hospital, signed in."""
    return auth.login(world.user("deposant", hospital))


@pytest.fixture
def at(auth):  # type: ignore[no-untyped-def]
    """`with at(moment):` — requests made at that instant, still signed in."""
    return auth.at
