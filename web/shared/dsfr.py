"""The French State design system (DSFR), served from `node_modules/` where the Makefile's
`npm install` puts it. Pages link to it only when it is there: without it they work,
unstyled."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_from_directory
from werkzeug.wrappers import Response

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "node_modules" / "@gouvfr" / "dsfr" / "dist"
# The State's chart components (statistics pages), served the same way; without them the
# pages show their tables only.
CHART_DIR = ROOT / "node_modules" / "@gouvfr" / "dsfr-chart" / "dist"

bp = Blueprint("dsfr", __name__)


@bp.get("/dsfr/<path:filename>")
def asset(filename: str) -> Response:
    directory = current_app.config["DSFR_DIR"]
    if not directory:
        abort(404)
    return send_from_directory(directory, filename, max_age=7 * 24 * 3600)


@bp.get("/dsfr-chart/<path:filename>")
def chart_asset(filename: str) -> Response:
    directory = current_app.config["DSFR_CHART_DIR"]
    if not directory:
        abort(404)
    return send_from_directory(directory, filename, max_age=7 * 24 * 3600)


def init_app(app: Flask) -> None:
    """DSFR_DIR: the design system's `dist/` folder, or None when it is not installed;
    DSFR_CHART_DIR: the same for the chart components (`@gouvfr/dsfr-chart`)."""
    directory = Path(app.config.get("DSFR_DIR") or DEFAULT_DIR)
    app.config["DSFR_DIR"] = str(directory) if (directory / "dsfr.min.css").is_file() else None
    charts = Path(app.config.get("DSFR_CHART_DIR") or CHART_DIR)
    found = (charts / "BarChart" / "BarChart.js").is_file() and app.config["DSFR_DIR"]
    app.config["DSFR_CHART_DIR"] = str(charts) if found else None

    @app.context_processor
    def design_system() -> dict[str, bool]:
        return {
            "dsfr_available": app.config["DSFR_DIR"] is not None,
            "dsfr_chart_available": app.config["DSFR_CHART_DIR"] is not None,
        }
