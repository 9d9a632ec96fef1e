"""The thin Flask UI. No app object at import time: `create_app()` builds one."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, g

from workflow.db import check_schema_current, make_engine, make_session_factory


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Builds the app from the environment (or `test_config`); refuses a database whose
    schema is behind the code's migrations."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY", "dev-only-secret-change-me"),
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        BASE_URL=os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        SMTP_URL=os.environ.get("SMTP_URL"),
    )
    if test_config:
        app.config.update(test_config)
    engine = make_engine(app.config["DATABASE_URL"])
    check_schema_current(engine)
    app.extensions["db_sessions"] = make_session_factory(engine)

    @app.teardown_appcontext
    def close_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    from web import public

    app.register_blueprint(public.bp)
    if not app.config["SMTP_URL"]:
        from web import dev

        app.register_blueprint(dev.bp)
    return app


def db_session():  # type: ignore[no-untyped-def]
    """The request's database session, opened on first use."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessions"]()
    return g.db_session
