"""Serving stored files: only through views that have checked who may read them, streamed
from the storage (a local folder or a bucket) without holding them whole."""

from __future__ import annotations

from flask import Response, abort, current_app, send_file

from workflow.models import Dossier
from workflow.plumbing.storage import FileStore
from workflow.plumbing.storage_url import open_storage


def storage() -> FileStore:
    """The storage of uploaded files and exports (STORAGE_URL, by default UPLOAD_DIR): one
    per app, since an S3 client is costly to build and safe to share between threads."""
    found = current_app.extensions.get("storage")
    if found is None:
        found = current_app.extensions["storage"] = open_storage(current_app.config["STORAGE_URL"])
    return found


def send_stored(
    storage_name: str, name: str, mimetype: str, store: FileStore | None = None
) -> Response:
    """A stored file (of `store`, by default the app's storage) as a download, never cached
    by a shared proxy; 404 if the file is gone."""
    try:
        stream = (store or storage()).open(storage_name)
    except (ValueError, FileNotFoundError):
        abort(404)
    response = send_file(
        stream, mimetype=mimetype, as_attachment=True, download_name=name, max_age=0
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.call_on_close(stream.close)
    return response


def send_pdf(storage_name: str, name: str) -> Response:
    """A stored PDF as a download; 404 if the file is gone."""
    return send_stored(storage_name, name, "application/pdf")


def send_piece(dossier: Dossier, piece_key: str) -> Response:
    """The file of one piece of a dossier the caller may read; 404 if it has none."""
    attachment = next((a for a in dossier.attachments if a.piece_key == piece_key), None)
    if attachment is None:
        abort(404)
    return send_pdf(attachment.storage_name, attachment.filename)
