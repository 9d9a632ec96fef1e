"""The storage the configuration names (STORAGE_URL): a local folder or an S3 bucket."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from workflow.plumbing.storage import FileStore, Storage


def open_storage(url: str | Path) -> FileStore:
    """The storage named by STORAGE_URL: `s3://bucket/prefix?endpoint_url=…&region=…`
    (credentials from the standard AWS variables), or `file:///folder` or a bare folder."""
    text = str(url)
    if text.startswith("s3://"):
        # boto3 is only imported by the hosts configured for it.
        from workflow.plumbing.s3 import S3Storage

        return S3Storage.from_url(text)
    if text.startswith("file://"):
        return Storage(unquote(urlsplit(text).path))
    if "://" in text:
        raise ValueError(f"unknown storage URL (file:// or s3:// expected): {text}")
    return Storage(text)


def environment_storage() -> FileStore:
    """The service's storage as the environment names it: STORAGE_URL, else the folder
    UPLOAD_DIR, else `instance/uploads` (what `run.py` and the web use)."""
    root = Path(__file__).resolve().parents[2]
    return open_storage(
        os.environ.get("STORAGE_URL")
        or os.environ.get("UPLOAD_DIR")
        or root / "instance" / "uploads"
    )
