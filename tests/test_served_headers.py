"""The servers themselves name no software: neither gunicorn with the repository's
`gunicorn.conf.py` (the README's production command) nor `python run.py serve` sends a
`Server` header, and both carry the app's security headers."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.test_production import ROOT, free_port, gunicorn, wait_for


def headers_of(url: str):  # type: ignore[no-untyped-def]
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.headers
    except OSError:
        return None


@pytest.fixture
def serve(tmp_path) -> Iterator:  # type: ignore[type-arg]
    started: list[subprocess.Popen] = []

    def start(args: list[str], database: str, port: int):  # type: ignore[no-untyped-def]
        env = {
            **os.environ,
            "DATABASE_URL": database,
            "SECRET_KEY": TEST_SECRET_KEY,
            "SCHEDULER": "off",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            # Written out, as production requires: one process's own counts are enough here.
            "RATELIMIT_STORAGE_URI": "memory://",
        }
        env.pop("POSTES_PARTAGES_ENV", None)
        log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed with the process
        started.append(
            subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        )
        url = f"http://127.0.0.1:{port}/connexion"
        wait_for(lambda: headers_of(url) is not None, timeout=60, what="the server")
        return headers_of(url)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def assert_no_banner_and_protected(headers) -> None:  # type: ignore[no-untyped-def]
    assert "Server" not in headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_gunicorn_with_the_repository_config_sends_no_server_header(serve, sqlite_url):
    port = free_port()
    headers = serve(gunicorn(port, 1), sqlite_url, port)
    assert_no_banner_and_protected(headers)


def test_run_py_serve_sends_no_server_header(serve, sqlite_url):
    port = free_port()
    args = [sys.executable, "run.py", "serve", "--port", str(port)]
    assert_no_banner_and_protected(serve(args, sqlite_url, port))
