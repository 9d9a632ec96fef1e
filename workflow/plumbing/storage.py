"""PDF pieces on disk: checked by their content, stored outside the web root under random
names, and removed only once the database change that drops them is committed."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


class Storage:
    """Files under one directory (UPLOAD_DIR), never served directly by the web server."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        """The file of a stored name; refuses anything that is not one of our names."""
        if not name or not all(c in "0123456789abcdef" for c in name):
            raise ValueError(f"not a storage name: {name!r}")
        return self.root / name[:2] / name

    def save(self, data: bytes) -> str:
        """Writes `data` under a new random name (written whole, then renamed into place)."""
        name = secrets.token_hex(32)
        self.put(name, data)
        return name

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def names(self) -> Iterator[str]:
        """Every stored name, in no particular order (files being written are skipped)."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and len(folder.name) == 2:
                for file in sorted(folder.iterdir()):
                    if file.suffix != ".partial" and file.name.startswith(folder.name):
                        yield file.name

    def put(self, name: str, data: bytes) -> None:
        """Writes `data` under a name given (a restore puts each file back under its own)."""
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, 0o600)
        partial.replace(target)

    def delete(self, name: str) -> None:
        """Removes a file; one already gone is not an error."""
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()

    def save_in(self, session: Session, data: bytes) -> str:
        """Saves a file for the session's current transaction: removed again if it rolls back."""
        name = self.save(data)
        session.info.setdefault(_ON_ROLLBACK, []).append((self, name))
        return name

    def delete_after_commit(self, session: Session, name: str) -> None:
        """Removes a file once the transaction that stops referring to it commits."""
        session.info.setdefault(_ON_COMMIT, []).append((self, name))


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
