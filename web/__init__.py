"""The thin Flask UI. No app object at import time: `create_app()` builds one."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_openapi3 import OpenAPI

from web.api import openapi as api_openapi
from web.shared import config
from workflow.plumbing.db import check_schema_current, make_engine, make_session_factory


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Builds the app from the environment (or `test_config`); refuses to start in
    production without a strong SECRET_KEY, and on a database whose schema is behind the
    code's migrations."""
    # flask-openapi3's app class: a Flask app that also builds the API's OpenAPI document
    # from the pydantic models its routes validate (web/api/); its own pages are off.
    app = OpenAPI(
        __name__,
        info=api_openapi.INFO,
        security_schemes=api_openapi.SECURITY_SCHEMES,
        validation_error_status=422,
        validation_error_model=api_openapi.ValidationProblem,
        validation_error_callback=api_openapi.validation_problem,
        doc_ui=False,
        instance_relative_config=True,
        template_folder="shared/templates",
        static_folder="shared/static",
        # Tests keep their development key and uploads in a folder of their own.
        instance_path=(test_config or {}).get("INSTANCE_PATH"),
    )
    config.configure(app, test_config)
    engine = make_engine(app.config["DATABASE_URL"])
    check_schema_current(engine)
    app.extensions["db_sessions"] = make_session_factory(engine)

    @app.teardown_appcontext
    def close_session(exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    from web.administration import integrations as administration_integrations
    from web.administration import privacy as administration_privacy
    from web.administration import views as administration
    from web.api import docs as api_docs
    from web.api import views as api
    from web.auth import views as auth
    from web.avis import views as avis
    from web.commission import views as commission
    from web.deposant import avis_views as deposant_avis
    from web.deposant import views as deposant
    from web.instruction import views as instruction
    from web.partenaire import views as partenaire
    from web.public import views as public
    from web.shared import (
        dsfr,
        errors,
        formatting,
        headers,
        parsing,
        proconnect,
        security,
        throttling,
    )

    for module in (parsing, security, headers, throttling, dsfr, errors, formatting, proconnect):
        module.init_app(app)
    for blueprint in (
        public.bp,
        dsfr.bp,
        auth.bp,
        deposant.bp,
        deposant_avis.bp,
        instruction.bp,
        administration.bp,
        administration_privacy.bp,
        avis.bp,
        partenaire.bp,
        administration_integrations.bp,
        api_docs.bp,
        commission.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_api(api.bp)
    if app.config["DEVELOPMENT"]:
        from web.dev import views as dev

        app.register_blueprint(dev.bp)
    return app
