"""The baseline of bench/dashboard.py: a bare Flask app whose one page runs one indexed
`SELECT … LIMIT 50` on the benchmark's campaign and writes the rows as text. Served by the
same gunicorn as the application, it measures what HTTP, WSGI and one query cost."""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import select

from workflow.models import Dossier
from workflow.plumbing.db import make_engine


def create_app() -> Flask:
    app = Flask(__name__)
    engine = make_engine(os.environ["DATABASE_URL"])
    campaign_id = int(os.environ["BENCH_CAMPAIGN_ID"])
    query = (
        select(Dossier.id, Dossier.number, Dossier.candidate_name, Dossier.state)
        .where(Dossier.campaign_id == campaign_id)
        .order_by(Dossier.number)
        .limit(50)
    )

    @app.get("/")
    def page() -> str:
        with engine.connect() as connection:
            rows = connection.execute(query).all()
        return "\n".join(f"{i} {n} {c} {s}" for i, n, c, s in rows)

    return app
