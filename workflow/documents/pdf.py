"""HTML to PDF with WeasyPrint, offline: the templates of this package's `templates/`
folder, fonts from the system's fontconfig (Debian's fonts-dejavu-core), and a fetcher that
refuses every URL but the files of that folder, so that a value typed by a déposant (an
`<img src="http://…">` would be escaped anyway) can never make the server fetch anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetchingError

from workflow.plumbing.dates import format_date

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


class LocalFilesOnly(URLFetcher):
    """Fetches `file:` URLs inside `TEMPLATES_DIR` (the stylesheet) and nothing else: no
    network, no other file of the machine."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        parts = urlsplit(url)
        if parts.scheme == "file":
            path = Path(unquote(parts.path)).resolve()
            if path.is_relative_to(TEMPLATES_DIR) and path.is_file():
                return super().fetch(url, headers)
        raise URLFetchingError(f"refused to fetch {url!r}: documents are rendered offline")


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["date_fr"] = format_date
    return environment


ENVIRONMENT = _environment()


def render_html(template: str, **context: Any) -> str:
    """The HTML of one template of `templates/` (autoescaped)."""
    return ENVIRONMENT.get_template(template).render(**context)


def html_to_pdf(html: str) -> bytes:
    """The PDF of `html`, whose relative URLs (the stylesheet) resolve in `templates/`."""
    document = HTML(
        string=html, base_url=TEMPLATES_DIR.as_uri() + "/", url_fetcher=LocalFilesOnly()
    )
    return document.write_pdf()


def render_pdf(template: str, **context: Any) -> bytes:
    """Renders a template of `templates/` to PDF."""
    return html_to_pdf(render_html(template, **context))
