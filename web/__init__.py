"""The thin Flask UI. No app object at import time: `create_app()` builds one."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, g

from workflow.plumbing.db import ROOT, check_schema_current, make_engine, make_session_factory
from workflow.plumbing.storage import MAX_PDF_BYTES


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Builds the app from the environment (or `test_config`); refuses a database whose
    schema is behind the code's migrations."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="shared/templates",
        static_folder="shared/static",
    )
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("SECRET_KEY", "dev-only-secret-change-me"),
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        BASE_URL=os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        SMTP_URL=os.environ.get("SMTP_URL"),
        UPLOAD_DIR=os.environ.get("UPLOAD_DIR") or os.path.join(app.instance_path, "uploads"),
        CAMPAIGNS_DIR=os.environ.get("CAMPAIGNS_DIR") or str(ROOT / "campaigns"),
        # One PDF of at most 10 Mo plus the rest of the form; beyond it, a French 413 page.
        MAX_CONTENT_LENGTH=MAX_PDF_BYTES + 256 * 1024,
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

    from web.administration import views as administration
    from web.auth import views as auth
    from web.avis import views as avis
    from web.deposant import views as deposant
    from web.instruction import views as instruction
    from web.public import views as public
    from web.shared import dsfr, errors, formatting, parsing, security

    for module in (parsing, security, dsfr, errors, formatting):
        module.init_app(app)
    for blueprint in (
        public.bp,
        dsfr.bp,
        auth.bp,
        deposant.bp,
        instruction.bp,
        administration.bp,
        avis.bp,
    ):
        app.register_blueprint(blueprint)
    if not app.config["SMTP_URL"]:
        from web.dev import views as dev

        app.register_blueprint(dev.bp)
    return app
