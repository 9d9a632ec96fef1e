"""The French State design system (DSFR), served from `node_modules/` where the Makefile's
`npm install` puts it. Pages link to it only when it is there: without it they work,
unstyled."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_from_directory
from werkzeug.wrappers import Response

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "node_modules" / "@gouvfr" / "dsfr" / "dist"

bp = Blueprint("dsfr", __name__)


@bp.get("/dsfr/<path:filename>")
def asset(filename: str) -> Response:
    directory = current_app.config["DSFR_DIR"]
    if not directory:
        abort(404)
    return send_from_directory(directory, filename, max_age=7 * 24 * 3600)


def init_app(app: Flask) -> None:
    """DSFR_DIR: the design system's `dist/` folder, or None when it is not installed."""
    directory = Path(app.config.get("DSFR_DIR") or DEFAULT_DIR)
    app.config["DSFR_DIR"] = str(directory) if (directory / "dsfr.min.css").is_file() else None

    @app.context_processor
    def design_system() -> dict[str, bool]:
        return {"dsfr_available": app.config["DSFR_DIR"] is not None}
