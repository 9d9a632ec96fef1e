"""Production is the default: without a strong SECRET_KEY the service refuses to start and
says how to make one. Development mode is asked for explicitly (`make run` does) and keeps
its own random key under `instance/`. The old constant key signs nothing any more."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from tests.conftest import TEST_SECRET_KEY
from web import create_app
from web.shared.config import ConfigurationError, development_mode
from workflow.instruction.avis import avis_token, invite_avis
from workflow.people.accounts import CONFIRMATION, make_token
from workflow.plumbing.db import ROOT, transaction

OLD_CONSTANT = "dev-only-secret-change-me"


@pytest.fixture
def no_key_in_environment(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("POSTES_PARTAGES_ENV", raising=False)
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)


@pytest.fixture
def build(sqlite_url, tmp_path, no_key_in_environment):  # type: ignore[no-untyped-def]
    built = []

    def make(**config):  # type: ignore[no-untyped-def]
        app = create_app(
            {"DATABASE_URL": sqlite_url, "INSTANCE_PATH": str(tmp_path / "instance"), **config}
        )
        built.append(app)
        return app

    yield make
    for app in built:
        app.extensions["db_sessions"].kw["bind"].dispose()


def test_production_is_the_default_and_development_is_asked_for_explicitly():
    assert not development_mode({})
    assert not development_mode({"SMTP_URL": ""})
    assert not development_mode({"POSTES_PARTAGES_ENV": "production"})
    assert development_mode({"POSTES_PARTAGES_ENV": "development"})


def test_production_without_a_key_refuses_to_start_and_says_how_to_make_one(build):
    with pytest.raises(ConfigurationError) as refused:
        build()
    message = str(refused.value)
    assert "SECRET_KEY is not set" in message
    assert "secrets.token_urlsafe(48)" in message


@pytest.mark.parametrize(
    "weak",
    [OLD_CONSTANT, "short-key", "x" * 31, "  change-me  ", "a" * 64, " " * 40, "0123456789" * 4],
)
def test_production_with_a_weak_or_published_key_refuses_to_start(build, weak):
    with pytest.raises(ConfigurationError) as refused:
        build(SECRET_KEY=weak)
    assert "SECRET_KEY is too weak" in str(refused.value)


def test_production_reads_a_strong_key_from_the_environment(build, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "memory://")
    assert build().config["SECRET_KEY"] == TEST_SECRET_KEY


def test_production_refuses_to_count_attempts_in_each_workers_memory_unless_told(build):
    with pytest.raises(ConfigurationError) as refused:
        build(SECRET_KEY=TEST_SECRET_KEY)
    assert "RATELIMIT_STORAGE_URI is not set" in str(refused.value)
    assert "redis://" in str(refused.value)
    written_out = build(SECRET_KEY=TEST_SECRET_KEY, RATELIMIT_STORAGE_URI="memory://")
    assert written_out.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_development_mode_makes_a_private_key_once_and_reuses_it(build, tmp_path, monkeypatch):
    monkeypatch.setenv("POSTES_PARTAGES_ENV", "development")
    first = build()
    path = tmp_path / "instance" / "secret_key"
    assert first.config["DEVELOPMENT"] is True
    assert len(first.config["SECRET_KEY"]) >= 64
    assert path.read_text().strip() == first.config["SECRET_KEY"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert build().config["SECRET_KEY"] == first.config["SECRET_KEY"]
    path.unlink()
    assert build().config["SECRET_KEY"] != first.config["SECRET_KEY"]


def test_links_signed_with_the_old_constant_key_are_refused(app, client, world, session):
    avis_kinds = [
        {"key": "coordonnateur", "label": "Avis du coordonnateur", "giver": "coordonnateur"}
    ]
    dossier, _ = world.deposited(avis=avis_kinds)
    instructeur = world.actor("administrateur")
    with transaction(session):
        avis = invite_avis(
            session,
            dossier,
            "coordonnateur",
            "coordo@chu.fr",
            "",
            instructeur,
            secret_key=app.config["SECRET_KEY"],
            base_url="http://localhost",
        )
    assert client.get(f"/avis/{avis_token(avis.id, app.config['SECRET_KEY'])}").status_code == 200
    forged = client.get(f"/avis/{avis_token(avis.id, OLD_CONSTANT)}")
    assert forged.status_code == 404
    assert "Lambourde" not in forged.get_data(as_text=True)

    stranger = world.user("deposant", world.organisation())
    confirmed = client.get(f"/compte/confirmer/{make_token(OLD_CONSTANT, CONFIRMATION, stranger)}")
    assert confirmed.status_code == 400
    session.expire_all()
    assert stranger.email_confirmed_at is None


def without_key(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "POSTES_PARTAGES_ENV")}
    return {**env, **extra}


@pytest.mark.parametrize("command", ["scheduler", "serve"])
def test_the_commands_refuse_to_start_in_production_without_a_key(sqlite_url, command):
    done = subprocess.run(
        [sys.executable, "run.py", command],
        cwd=ROOT,
        env=without_key(DATABASE_URL=sqlite_url, SCHEDULER="off"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "SECRET_KEY is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_scheduler_refuses_a_weak_key(sqlite_url):
    done = subprocess.run(
        [sys.executable, "run.py", "scheduler"],
        cwd=ROOT,
        env=without_key(DATABASE_URL=sqlite_url, SECRET_KEY=OLD_CONSTANT),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "SECRET_KEY is too weak" in done.stderr
