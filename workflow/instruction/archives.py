"""ZIP archives of PDF pieces for the ARS: one dossier's pieces, or every piece of a campaign,
each file named by its dossier number so that the archive sorts like the dashboard.

PDFs are already compressed: entries are stored, not deflated, which keeps building the
archive of a whole campaign (hundreds of dossiers, a few files each) as fast as copying the
files. The archive is written to a temporary file, each file streamed from the storage.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workflow.campaigns.store import definition_of
from workflow.instruction.deposited import DEPOSITED
from workflow.models import Attachment, Avis, Dossier
from workflow.plumbing.storage import COPY_CHUNK, FileStore

MISSING_NOTE = "FICHIERS-MANQUANTS.txt"
# Dossiers read at a time for a campaign's archive.
BATCH = 500


@dataclass(frozen=True)
class Entry:
    """One file of an archive: its stored name, and the path it takes inside the ZIP."""

    storage_name: str
    arcname: str


def dossier_label(dossier: Dossier) -> str:
    """The name of a dossier in file names: its number, or its id while it is a brouillon."""
    return str(dossier.number) if dossier.number else f"brouillon-{dossier.id}"


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name part that every system accepts: no accents, folders nor odd characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("-.")
    return cleaned[:limit] or "document"


def dossier_entries(session: Session, dossier: Dossier, folder: str = "") -> list[Entry]:
    """The files of one dossier: its pieces, in the campaign's order, then the signed PDFs
    of its avis; each named "<number>-<piece>-<file name>.pdf"."""
    signed = session.scalars(
        select(Avis)
        .where(Avis.dossier_id == dossier.id, Avis.storage_name.is_not(None))
        .order_by(Avis.id)
    ).all()
    return _entries(session, dossier, dossier.attachments, signed, folder)


def campaign_entries(session: Session, campaign_id: int) -> Iterator[Entry]:
    """Every file of a campaign's deposited dossiers, one folder per dossier number; a few
    queries per batch of dossiers, read as the archive is written (memory stays flat)."""
    signed: dict[int, list[Avis]] = {}
    for avis in session.scalars(
        select(Avis)
        .join(Dossier, Dossier.id == Avis.dossier_id)
        .where(Dossier.campaign_id == campaign_id, Avis.storage_name.is_not(None))
        .order_by(Avis.id)
    ):
        signed.setdefault(avis.dossier_id, []).append(avis)
    dossiers = session.scalars(
        select(Dossier)
        .where(Dossier.campaign_id == campaign_id, DEPOSITED)
        .order_by(Dossier.number)
        .options(selectinload(Dossier.attachments))
        .execution_options(yield_per=BATCH)
    )
    for dossier in dossiers:
        folder = f"{dossier_label(dossier)}/"
        mine = signed.get(dossier.id, [])
        yield from _entries(session, dossier, dossier.attachments, mine, folder)


def _entries(
    session: Session,
    dossier: Dossier,
    attachments: Sequence[Attachment],
    signed: Sequence[Avis],
    folder: str,
) -> list[Entry]:
    label = dossier_label(dossier)
    definition = definition_of(session, dossier.campaign_version_id)
    order = {piece.key: index for index, piece in enumerate(definition.pieces)}
    entries = [
        Entry(a.storage_name, f"{folder}{label}-{safe_name(a.piece_key)}-{_stem(a.filename)}.pdf")
        for a in sorted(attachments, key=lambda a: (order.get(a.piece_key, len(order)), a.id))
    ]
    entries += [
        Entry(a.storage_name, f"{folder}{label}-avis-{safe_name(a.avis_key)}-{a.id}.pdf")
        for a in signed
        if a.storage_name
    ]
    return entries


def _stem(filename: str) -> str:
    stem = filename[:-4] if filename.lower().endswith(".pdf") else filename
    return safe_name(stem)


def write_zip(
    entries: Iterable[Entry], storage: FileStore, output: IO[bytes] | None = None
) -> IO[bytes]:
    """The archive of `entries`, in `output` (a new temporary file by default) opened at its
    start. Each file is streamed from the storage, never held whole. A file missing from the
    storage is listed in FICHIERS-MANQUANTS.txt instead of failing the whole archive."""
    if output is None:
        output = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    missing: list[str] = []
    used: set[str] = set()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for entry in entries:
            arcname = _unique(entry.arcname, used)
            try:
                source = storage.open(entry.storage_name)
            except (ValueError, FileNotFoundError):
                missing.append(arcname)
                continue
            info = zipfile.ZipInfo(arcname, date_time=time.localtime()[:6])
            with source, archive.open(info, "w") as target:
                shutil.copyfileobj(source, target, COPY_CHUNK)
        if missing:
            note = "Fichiers introuvables sur le serveur au moment de l'export :\n" + "".join(
                f"- {name}\n" for name in missing
            )
            archive.writestr(MISSING_NOTE, note)
    output.seek(0)
    return output


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate in used:
        n += 1
        stem, dot, ext = name.rpartition(".")
        candidate = f"{stem}-{n}{dot}{ext}" if dot else f"{name}-{n}"
    used.add(candidate)
    return candidate
