"""The baseline of bench/dashboard.py: a bare Flask app whose one page runs one indexed
`SELECT … LIMIT 50` on the benchmark's table and writes the rows as text. Served by the
same gunicorn as the application, it measures what HTTP, WSGI and one query cost.

It reads the first 50 numbers through the unique index on `number`, which every schema has
had since the first migration (the benchmark's database holds one campaign): the baseline
stays the same query plan before and after the dashboard's own indexes."""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import select

from workflow.models import Dossier
from workflow.plumbing.db import make_engine


def create_app() -> Flask:
    app = Flask(__name__)
    engine = make_engine(os.environ["DATABASE_URL"])
    query = (
        select(Dossier.id, Dossier.number, Dossier.candidate_name, Dossier.state)
        .where(Dossier.number.is_not(None))
        .order_by(Dossier.number)
        .limit(50)
    )

    @app.get("/")
    def page() -> str:
        with engine.connect() as connection:
            rows = connection.execute(query).all()
        return "\n".join(f"{i} {n} {c} {s}" for i, n, c, s in rows)

    return app
