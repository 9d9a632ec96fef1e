"""Backups that restore: a consistent copy of the database and of the uploaded files, with a
manifest to check them against.

A backup directory holds `database.sqlite3` (SQLite's online backup API: one consistent
snapshot while the service keeps writing, WAL) or `database.dump` (`pg_dump
--format=custom`), `files/` (the upload store's layout, written through `Storage`), and
`manifest.json`: the schema revision, the row count of every table, every piece with its
size and SHA-256, the tool versions and the time.

Files are copied around the database snapshot: everything stored before it, then whatever
the snapshot names that was stored meanwhile; copies the snapshot does not name (uploads of
transactions not committed at the snapshot) are dropped. Pieces record their own SHA-256 in
`attachments.sha256`; an avis's signed PDF has none in the database, so its hash is the
manifest's (computed at backup time).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url

from workflow.plumbing import clock
from workflow.plumbing.db import alembic_config
from workflow.plumbing.storage import FileStore, Storage

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.dump"
FILES = "files"
# Where the database names stored files, and the hash it recorded for them (if any).
# Snapshots taken at most, while pieces named by one are removed before they are copied.
ATTEMPTS = 5
PIECE_COLUMNS = (
    ("attachments", "storage_name", "sha256"),
    ("avis", "storage_name", None),
    ("messages", "attachment_storage_name", "attachment_sha256"),
    # Generated letters and procès-verbaux, archived with their hash (workflow.documents).
    ("documents", "storage_name", "sha256"),
)


class BackupError(Exception):
    """A backup, restore or check that cannot be done; the message says why (English, CLI)."""


@dataclass
class CheckReport:
    """What `check` found: pieces the database names that are missing or differ."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.missing and not self.corrupt


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def backup(url: str, storage: FileStore, directory: str | Path) -> dict[str, Any]:
    """Writes a backup of the database at `url` and of `storage` into `directory` (new or
    empty); returns the manifest. Safe while the service runs."""
    target = Path(directory)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new directory")
    target.mkdir(parents=True, exist_ok=True)
    # Personal data: only the service's own user reads a backup.
    target.chmod(0o700)
    copies = Storage(target / FILES)
    files: dict[str, dict[str, Any]] = {}
    snapshots = 0
    while snapshots < ATTEMPTS:
        snapshots += 1
        # Copy what is stored now, then snapshot: a piece the snapshot names was stored
        # before it, so it is copied here or just after. A piece replaced and removed in
        # between is missing: snapshot again (the new snapshot names its replacement).
        for name in list(storage.names()):
            if name not in files:
                _copy(storage, copies, name, files)
        if _is_sqlite(url):
            snapshot = _sqlite_snapshot(url, target / SQLITE_FILE)
            database = {"dialect": "sqlite", "file": SQLITE_FILE}
        else:
            snapshot = _postgres_snapshot(url, target / POSTGRES_FILE)
            database = {"dialect": "postgresql", "file": POSTGRES_FILE}
        missing, corrupt = [], []
        for name, recorded in snapshot.pieces:
            if name not in files and not _copy(storage, copies, name, files):
                missing.append(name)
            elif recorded and files[name]["sha256"] != recorded:
                corrupt.append(name)
        if not missing:
            break
    named = {name for name, _ in snapshot.pieces}
    for name in set(files) - named:
        copies.delete(name)
        del files[name]
    manifest = {
        "format": FORMAT,
        "created_at": clock.now().isoformat(),
        "database": database,
        "schema_revision": snapshot.revision,
        "tables": snapshot.counts,
        "files": dict(sorted(files.items())),
        "snapshots": snapshots,
        "missing": sorted(missing),
        "corrupt": sorted(corrupt),
        "tools": {**snapshot.tools, "python": sys.version.split()[0]},
    }
    _write_json(target / MANIFEST, manifest)
    return manifest


def restore(directory: str | Path, url: str, storage: FileStore) -> dict[str, Any]:
    """Restores the backup in `directory` into the empty database at `url` and the empty
    `storage`; refuses a backup whose schema is newer than the code's. Returns the manifest
    once the restored row counts and file hashes are found equal to it."""
    source = Path(directory)
    manifest = read_manifest(source)
    revision = manifest["schema_revision"]
    if not _known_revision(revision):
        raise BackupError(
            f"the backup's schema revision {revision} is newer than this code's "
            f"({code_head()}): restore it with the version of the code that wrote it"
        )
    if not _database_empty(url):
        raise BackupError("the target database is not empty: restore into an empty one")
    if next(storage.names(), None) is not None:
        raise BackupError(f"the upload store {storage} is not empty")
    dialect = manifest["database"]["dialect"]
    if dialect != ("sqlite" if _is_sqlite(url) else "postgresql"):
        raise BackupError(f"this backup is of a {dialect} database")
    copies = Storage(source / FILES)
    for name, expected in manifest["files"].items():
        data = copies.read(name)
        if sha256(data) != expected["sha256"]:
            raise BackupError(f"the backup's copy of {name} does not match its manifest")
    if dialect == "sqlite":
        _sqlite_restore(source / SQLITE_FILE, url)
    else:
        _postgres_restore(source / POSTGRES_FILE, url)
    for name in manifest["files"]:
        storage.put(name, copies.read(name))
    with _connection(url) as connection:
        counts = _counts(connection)
    if counts != manifest["tables"]:
        raise BackupError(f"restored row counts {counts} differ from the manifest's")
    return manifest


def check(url: str, storage: FileStore, manifest: dict[str, Any] | None = None) -> CheckReport:
    """Every piece the database names is in `storage` with its hash: the one the database
    recorded, else the manifest's. Reports the missing and the corrupt ones."""
    hashes = {name: entry["sha256"] for name, entry in (manifest or {}).get("files", {}).items()}
    report = CheckReport()
    with _connection(url) as connection:
        pieces = _pieces(connection)
    for name, recorded in pieces:
        report.checked += 1
        if not storage.exists(name):
            report.missing.append(name)
            continue
        expected = recorded or hashes.get(name)
        if expected and sha256(storage.read(name)) != expected:
            report.corrupt.append(name)
    return report


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of a backup directory."""
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"{path} does not exist: not a backup directory") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a backup manifest this code reads")
    return manifest


def code_head() -> str:
    """The newest schema revision this code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("")).get_current_head() or ""


def _known_revision(revision: str | None) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    if revision is None:
        return False
    try:
        return ScriptDirectory.from_config(alembic_config("")).get_revision(revision) is not None
    except CommandError:
        return False


# --- snapshots ------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    revision: str | None
    counts: dict[str, int]
    pieces: list[tuple[str, str | None]]
    tools: dict[str, str]


def _sqlite_snapshot(url: str, target: Path) -> _Snapshot:
    source = sqlite3.connect(_sqlite_path(url), timeout=30)
    copy = sqlite3.connect(target)
    try:
        # One step (pages=-1): the copy is one read transaction's snapshot; writers go on (WAL).
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    with _connection(f"sqlite:///{target}") as connection:
        return _Snapshot(
            _revision(connection),
            _counts(connection),
            _pieces(connection),
            {"sqlite": sqlite3.sqlite_version},
        )


def _postgres_snapshot(url: str, target: Path) -> _Snapshot:
    """pg_dump of the snapshot exported by a REPEATABLE READ transaction that also counts
    the rows and reads the piece names: the manifest describes exactly the dump."""
    pg_dump = _tool("pg_dump")
    engine = create_engine(_sqlalchemy_url(url), isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as connection, connection.begin():
            server = int(connection.execute(text("SHOW server_version_num")).scalar_one())
            client = _major(pg_dump)
            if client != server // 10000:
                raise BackupError(
                    f"pg_dump is version {client} but the server is PostgreSQL "
                    f"{server // 10000}: install the client of the server's major version"
                )
            snapshot_id = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            command = [pg_dump, "--format=custom", f"--snapshot={snapshot_id}"]
            _run([*command, f"--file={target}", _libpq_url(url)], url)
            return _Snapshot(
                _revision(connection),
                _counts(connection),
                _pieces(connection),
                {"pg_dump": _version_text(pg_dump), "postgresql": str(server)},
            )
    finally:
        engine.dispose()


def _sqlite_restore(source: Path, url: str) -> None:
    path = _sqlite_path(url)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    backup_file = sqlite3.connect(source)
    target = sqlite3.connect(path)
    try:
        backup_file.backup(target)
    finally:
        backup_file.close()
        target.close()


def _postgres_restore(source: Path, url: str) -> None:
    pg_restore = _tool("pg_restore")
    options = ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
    _run([pg_restore, *options, f"--dbname={_libpq_url(url)}", str(source)], url)


# --- reading a database ---------------------------------------------------------------------


def _revision(connection: Connection) -> str | None:
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _counts(connection: Connection) -> dict[str, int]:
    names = sorted(inspect(connection).get_table_names())
    quote = connection.dialect.identifier_preparer.quote
    return {
        name: connection.execute(text(f"SELECT count(*) FROM {quote(name)}")).scalar_one()
        for name in names
    }


def _pieces(connection: Connection) -> list[tuple[str, str | None]]:
    pieces: list[tuple[str, str | None]] = []
    for table, column, digest in PIECE_COLUMNS:
        hashed = digest or "NULL"
        rows = connection.execute(
            text(f"SELECT {column}, {hashed} FROM {table} WHERE {column} IS NOT NULL")
        )
        pieces += [(name, recorded) for name, recorded in rows]
    return pieces


def _database_empty(url: str) -> bool:
    if _is_sqlite(url) and not Path(_sqlite_path(url)).exists():
        return True
    with _connection(url) as connection:
        return not inspect(connection).get_table_names()


@contextmanager
def _connection(url: str) -> Iterator[Connection]:
    engine = create_engine(_sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


# --- files and tools ------------------------------------------------------------------------


def _copy(
    storage: FileStore, copies: FileStore, name: str, files: dict[str, dict[str, Any]]
) -> bool:
    try:
        data = storage.read(name)
    except FileNotFoundError:
        return False  # removed since it was listed (its deletion committed)
    copies.put(name, data)
    files[name] = {"size": len(data), "sha256": sha256(data)}
    return True


def _write_json(path: Path, value: Any) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(path)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (apt-get install postgresql-client)")
    return found


def _version_text(tool: str) -> str:
    return subprocess.run(
        [tool, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _major(tool: str) -> int:
    match = re.search(r"(\d+)(?:\.\d+)?", _version_text(tool))
    if match is None:
        raise BackupError(f"cannot read the version of {tool}")
    return int(match.group(1))


def _run(command: list[str], url: str) -> None:
    password = make_url(_sqlalchemy_url(url)).password
    # The password goes through the environment, not the command line (`ps` shows that).
    env = {**os.environ, **({"PGPASSWORD": str(password)} if password else {})}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()}")


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> str:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return database


def _sqlalchemy_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _libpq_url(url: str) -> str:
    parsed = make_url(_sqlalchemy_url(url)).set(drivername="postgresql", password=None)
    return parsed.render_as_string(hide_password=False)
