"""Serving stored PDF files: only through views that have checked who may read them."""

from __future__ import annotations

from flask import Response, abort, current_app, send_file

from workflow.models import Dossier
from workflow.plumbing.storage import Storage


def storage() -> Storage:
    """The storage of uploaded files (UPLOAD_DIR, outside the web root)."""
    return Storage(current_app.config["UPLOAD_DIR"])


def send_pdf(storage_name: str, name: str) -> Response:
    """A stored PDF as a download, never cached by a shared proxy; 404 if the file is gone."""
    path = storage().path(storage_name)
    if not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype="application/pdf", as_attachment=True, download_name=name, max_age=0
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def send_piece(dossier: Dossier, piece_key: str) -> Response:
    """The file of one piece of a dossier the caller may read; 404 if it has none."""
    attachment = next((a for a in dossier.attachments if a.piece_key == piece_key), None)
    if attachment is None:
        abort(404)
    return send_pdf(attachment.storage_name, attachment.filename)
