"""The two apps `bench/rush.py` serves under gunicorn: the project itself, configured for a
rush of sign-ins from one address, and the baseline it is compared with.

    gunicorn -c gunicorn.conf.py --pythonpath bench "rush_apps:project()"
    gunicorn -c gunicorn.conf.py --pythonpath bench "rush_apps:baseline()"

Both read DATABASE_URL; the project also reads SECRET_KEY and RATELIMIT_STORAGE_URI like in
production (it is started in production mode).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from flask import Flask, Response, request
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from web import create_app  # noqa: E402
from web.shared.parsing import parse_int  # noqa: E402
from workflow.plumbing.db import make_engine  # noqa: E402

# The 50 clients all sign in from 127.0.0.1 within a few seconds: the per-address limit of
# the sign-in (20 a minute) is raised through configuration, the throttling stays on.
RUSH_LIMITS = {"connexion": ("1000 per minute", "5 per 15 minutes")}


def project() -> Flask:
    """The project's app in production mode, with the sign-in limits of a benchmark."""
    return create_app({"THROTTLE_LIMITS": RUSH_LIMITS})


def baseline() -> Flask:
    """A bare Flask endpoint: one UPDATE of the dossier row and a commit per POST, the least
    that saving a volet can cost on the same database, server and workers."""
    app = Flask(__name__)
    engine = make_engine(os.environ["DATABASE_URL"])
    statement = text(
        "UPDATE dossiers SET updated_at = :now, version = version + 1 "
        "WHERE id = :id AND version = :version"
    )

    @app.post("/dossiers/<int:dossier_id>/volets/<volet_key>")
    def save(dossier_id: int, volet_key: str) -> Response:
        version = parse_int(request.form.get("version"))
        with engine.begin() as connection:
            changed = connection.execute(
                statement, {"now": dt.datetime.now(dt.UTC), "id": dossier_id, "version": version}
            ).rowcount
        if not changed:
            return Response("conflit", status=409)
        page = f"/dossiers/{dossier_id}/volets/{volet_key}"
        return Response(status=302, headers={"Location": page})

    return app
