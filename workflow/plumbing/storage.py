"""Stored files: PDF pieces checked by their content, kept outside the web root under random
names (a local folder or an S3 bucket, one interface), and removed only once the database
change that drops them is committed."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import secrets
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfReader
from sqlalchemy import event
from sqlalchemy.orm import Session

from workflow.plumbing.errors import InvalidInput
from workflow.plumbing.pdf_safety import PDF_LIMITS, PdfLimits, check_objects, refuse_active_raw

MAX_PDF_BYTES = 10 * 1024 * 1024
MAX_PDF_LABEL = "10 Mo"
PDF_MAGIC = b"%PDF-"
# PDF writers may put a few bytes (a BOM, blank lines) before the header; readers accept the
# header within the first kilobyte.
HEADER_WINDOW = 1024

COPY_CHUNK = 1024 * 1024
_ON_COMMIT = "storage_on_commit"
_ON_ROLLBACK = "storage_on_rollback"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckedPdf:
    """A PDF that opens: its size, digest and page count."""

    size: int
    sha256: str
    pages: int


def check_pdf(data: bytes, filename: str = "", limits: PdfLimits = PDF_LIMITS) -> CheckedPdf:
    """Accepts only a real PDF that opens without a password and carries no active content;
    the file name is not trusted.

    Raises InvalidInput with a French message naming the file: empty, too large, not a PDF
    (no `%PDF-` header), carrying JavaScript, automatic actions, embedded files, rich media
    or an XFA form (`pdf_safety`), more than `limits.max_pages` pages, too complex to check
    within `limits`, protected by a password, or damaged (pypdf cannot read its pages).
    """
    name = f"« {filename} » " if filename else ""
    if not data:
        raise InvalidInput(f"Le fichier {name}est vide.")
    if len(data) > MAX_PDF_BYTES:
        size = f"{len(data) / 1024 / 1024:.1f}".replace(".", ",")
        raise InvalidInput(
            f"Le fichier {name}fait {size} Mo : la taille maximale est de {MAX_PDF_LABEL}."
        )
    if PDF_MAGIC not in data[:HEADER_WINDOW]:
        raise InvalidInput(
            f"Le fichier {name}n'est pas un PDF (son contenu n'en est pas un, quel que soit "
            "son nom) : seuls les fichiers PDF sont acceptés. Enregistrez ou imprimez votre "
            "document au format PDF, puis déposez-le."
        )
    refuse_active_raw(data, name)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInput(
                f"Le fichier PDF {name}est protégé par un mot de passe : l'ARS ne pourrait pas "
                "l'ouvrir. Enregistrez-le sans protection, puis déposez-le à nouveau."
            )
        count = check_objects(reader, name, limits)
    except InvalidInput:
        raise
    # A hostile file can make pypdf fail in many ways (deep nesting, bad streams, odd
    # numbers): whatever it is, the file is refused as damaged, never a server error.
    except Exception as exc:
        log.info("PDF refused as damaged: %s", exc)
        raise InvalidInput(
            f"Le fichier PDF {name}est endommagé ou illisible : ouvrez-le pour vérifier, "
            "enregistrez-le à nouveau au format PDF, puis déposez-le."
        ) from exc
    if count == 0:
        raise InvalidInput(f"Le fichier PDF {name}ne contient aucune page.")
    return CheckedPdf(len(data), hashlib.sha256(data).hexdigest(), count)


class FileStore(ABC):
    """Where stored files live, by name: pieces, signed avis, exports. Two backends: a local
    folder (`Storage`) and S3-compatible object storage (`workflow.plumbing.s3`), so that web
    hosts share nothing but the database and the bucket. Names are ours only (lowercase hex):
    a name from a request can never reach another file."""

    @abstractmethod
    def put(self, name: str, data: bytes) -> None:
        """Writes `data` under a name given (a restore puts each file back under its own)."""

    @abstractmethod
    def put_file(self, name: str, source: BinaryIO) -> None:
        """Writes the rest of the open file `source` under `name`, without holding it whole
        in memory (exports of a large campaign)."""

    @abstractmethod
    def open(self, name: str) -> BinaryIO:
        """The file for reading as a stream (the caller closes it); FileNotFoundError if it
        is not stored."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether `name` is stored."""

    @abstractmethod
    def size(self, name: str) -> int:
        """The size in bytes; FileNotFoundError if it is not stored."""

    @abstractmethod
    def names(self) -> Iterator[str]:
        """Every stored name, in no particular order (files being written are skipped)."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Removes a file; one already gone is not an error."""

    @abstractmethod
    def child(self, folder: str) -> FileStore:
        """A storage of its own inside this one (exports live in `exports`): the names of
        this one never include the child's, so backups leave them out."""

    def save(self, data: bytes) -> str:
        """Writes `data` under a new random name; returns the name."""
        name = new_name()
        self.put(name, data)
        return name

    def save_file(self, source: BinaryIO) -> str:
        """Writes the open file `source` under a new random name; returns the name."""
        name = new_name()
        self.put_file(name, source)
        return name

    def read(self, name: str) -> bytes:
        """The whole file (pieces are 10 Mo at most); FileNotFoundError if it is not stored."""
        with self.open(name) as handle:
            return handle.read()

    def save_in(self, session: Session, data: bytes) -> str:
        """Saves a file for the session's current transaction: removed again if it rolls back."""
        name = self.save(data)
        session.info.setdefault(_ON_ROLLBACK, []).append((self, name))
        return name

    def delete_after_commit(self, session: Session, name: str) -> None:
        """Removes a file once the transaction that stops referring to it commits."""
        session.info.setdefault(_ON_COMMIT, []).append((self, name))


def new_name() -> str:
    """A fresh random storage name (64 hex digits)."""
    return secrets.token_hex(32)


def check_name(name: str) -> str:
    """`name` if it is one of our names; ValueError otherwise."""
    if not name or len(name) > 128 or not all(c in "0123456789abcdef" for c in name):
        raise ValueError(f"not a storage name: {name!r}")
    return name


class Storage(FileStore):
    """Files under one directory (UPLOAD_DIR), never served directly by the web server."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __str__(self) -> str:
        return str(self.root)

    def child(self, folder: str) -> FileStore:
        return Storage(self.root / folder)

    def path(self, name: str) -> Path:
        """The file of a stored name; refuses anything that is not one of our names."""
        check_name(name)
        return self.root / name[:2] / name

    def open(self, name: str) -> BinaryIO:
        return open(self.path(name), "rb")  # noqa: SIM115 - the caller closes it

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def size(self, name: str) -> int:
        return self.path(name).stat().st_size

    def names(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and len(folder.name) == 2:
                for file in sorted(folder.iterdir()):
                    if file.suffix != ".partial" and file.name.startswith(folder.name):
                        yield file.name

    def put(self, name: str, data: bytes) -> None:
        self.put_file(name, io.BytesIO(data))

    def put_file(self, name: str, source: BinaryIO) -> None:
        # Written whole under a temporary name, then renamed: a reader never sees half a file.
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with open(partial, "wb") as handle:
            shutil.copyfileobj(source, handle, COPY_CHUNK)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, 0o600)
        partial.replace(target)

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_ON_ROLLBACK, None)
    for storage, name in session.info.pop(_ON_COMMIT, []):
        storage.delete(name)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: object) -> None:
    session.info.pop(_ON_COMMIT, None)
    for storage, name in session.info.pop(_ON_ROLLBACK, []):
        storage.delete(name)
