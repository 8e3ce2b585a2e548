"""Uploaded files, kept by the backend APP_UPLOAD_BACKEND names.

- filesystem: flat files in APP_UPLOAD_DIR, which lives outside any release. Right for one
  app host, or for several that mount the same directory.
- database: the stored_file table, so every app host behind the load balancer sees every
  upload. The content goes to MySQL in one statement, as hex: max_allowed_packet must be
  above twice APP_MAX_UPLOAD_MB.

Both behave the same to callers. Names are checked before a backend sees them: an upload's
name is made safe with werkzeug's secure_filename and needs an allowed extension; a
requested name must already be in that form (no separators, no '..', no NUL, no leading
dot). The filesystem backend also checks that the resolved path stays inside the upload
directory even if someone planted a symlink.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app
from sqlalchemy import delete as sql_delete
from sqlalchemy import select, text
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.utils import secure_filename

from redflask.config import ConfigError, Settings, get_settings
from redflask.models import StoredFile
from redflask.models.base import utcnow
from redflask.utils.db import db
from redflask.utils.errors import ApiError, Conflict, NotFound

log = logging.getLogger("redflask.files")

MAX_NAME_LENGTH = 200
_CHUNK = 1024 * 1024
_EXT = "redflask.files"


class InvalidFilename(ApiError):
    status, code = 400, "invalid_filename"


class ExtensionNotAllowed(ApiError):
    status, code = 415, "extension_not_allowed"


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int
    modified_at: datetime  # naive UTC


@dataclass(frozen=True)
class Download:
    name: str
    source: Path | BinaryIO
    # None: send_file reads it from the file itself.
    last_modified: datetime | None = None


class FileBackend(Protocol):
    def save(self, name: str, stream: BinaryIO, overwrite: bool) -> FileInfo: ...

    def list_files(self) -> list[FileInfo]: ...

    def open_download(self, name: str) -> Download: ...

    def delete(self, name: str) -> None: ...


def _already_exists(name: str) -> Conflict:
    return Conflict(f"{name} already exists; pass overwrite=true to replace it", code="file_exists")


def _not_found(name: str) -> NotFound:
    return NotFound(f"file {name} not found")


class FilesystemBackend:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _root(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory.resolve()

    def _path(self, name: str) -> Path:
        """The path of an existing or future file called name (already a checked name)."""
        root = self._root()
        path = (root / name).resolve()
        if path.parent != root:
            raise InvalidFilename("invalid file name")
        return path

    def _existing(self, name: str) -> Path:
        path = self._path(name)
        if not path.is_file():
            raise _not_found(name)
        return path

    @staticmethod
    def _describe(path: Path) -> FileInfo:
        stat = path.stat()
        return FileInfo(
            name=path.name,
            size=stat.st_size,
            modified_at=datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc).replace(tzinfo=None),
        )

    def save(self, name: str, stream: BinaryIO, overwrite: bool) -> FileInfo:
        target = self._path(name)
        # Write to a temporary file in the same directory, then link or rename it into
        # place: readers never see a half-written file and a refused upload leaves nothing.
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    out.write(chunk)
            if overwrite:
                os.replace(tmp, target)
            else:
                try:
                    # link() fails if the name exists: an atomic no-overwrite check.
                    os.link(tmp, target)
                except FileExistsError:
                    raise _already_exists(name) from None
        finally:
            tmp.unlink(missing_ok=True)
        return self._describe(target)

    def list_files(self) -> list[FileInfo]:
        entries = [
            self._describe(entry)
            for entry in self._root().iterdir()
            # Symlinks are skipped: their target may be outside the directory.
            if entry.is_file() and not entry.is_symlink() and not entry.name.startswith(".")
        ]
        return sorted(entries, key=lambda item: item.name)

    def open_download(self, name: str) -> Download:
        path = self._existing(name)
        return Download(name=path.name, source=path)

    def delete(self, name: str) -> None:
        self._existing(name).unlink()


class DatabaseBackend:
    # Room for the rest of the INSERT statement: SQL text, the file name, the other values.
    STATEMENT_OVERHEAD = 64 * 1024

    @classmethod
    def statement_size(cls, content: bytes) -> int:
        """An upper bound of the bytes of the INSERT statement that carries content.

        PyMySQL puts the content into the statement as a hex literal, two bytes per byte
        (older releases escape it instead, which never takes more).
        """
        return 2 * len(content) + cls.STATEMENT_OVERHEAD

    def _check_packet_size(self, session: Session, name: str, content: bytes) -> None:
        # A statement above max_allowed_packet makes the server drop the connection, which
        # would look like an outage (503): refuse the file with a clear 413 instead.
        limit = int(session.scalar(text("SELECT @@max_allowed_packet")))
        needed = self.statement_size(content)
        if needed > limit:
            log.warning(
                "upload %r refused: needs a %d-byte statement, max_allowed_packet is %d; "
                "raise max_allowed_packet above twice APP_MAX_UPLOAD_MB (see app/README.md)",
                name,
                needed,
                limit,
            )
            raise ApiError(
                "the file is larger than the database accepts",
                status=413,
                code="payload_too_large",
            )

    def save(self, name: str, stream: BinaryIO, overwrite: bool) -> FileInfo:
        # In memory at once: MAX_CONTENT_LENGTH (APP_MAX_UPLOAD_MB) bounds it.
        content = stream.read()
        session = db.session
        self._check_packet_size(session, name, content)
        # DATETIME keeps whole seconds: answer with what a later listing will show.
        info = FileInfo(name=name, size=len(content), modified_at=utcnow().replace(microsecond=0))
        statement = mysql_insert(StoredFile).values(
            name=info.name, size=info.size, content=content, modified_at=info.modified_at
        )
        if overwrite:
            # One statement: no window in which another host could slip in between.
            statement = statement.on_duplicate_key_update(
                size=statement.inserted.size,
                content=statement.inserted.content,
                modified_at=statement.inserted.modified_at,
            )
        try:
            session.execute(statement)
            session.commit()
        except IntegrityError:
            # The unique name is the atomic no-overwrite check, across every host.
            session.rollback()
            raise _already_exists(name) from None
        return info

    def list_files(self) -> list[FileInfo]:
        rows = db.session.execute(
            select(StoredFile.name, StoredFile.size, StoredFile.modified_at).order_by(
                StoredFile.name
            )
        )
        return [FileInfo(name=row.name, size=row.size, modified_at=row.modified_at) for row in rows]

    def open_download(self, name: str) -> Download:
        row = db.session.execute(
            select(StoredFile.content, StoredFile.modified_at).where(StoredFile.name == name)
        ).one_or_none()
        if row is None:
            raise _not_found(name)
        return Download(name=name, source=io.BytesIO(row.content), last_modified=row.modified_at)

    def delete(self, name: str) -> None:
        session = db.session
        result = session.execute(sql_delete(StoredFile).where(StoredFile.name == name))
        session.commit()
        if result.rowcount == 0:
            raise _not_found(name)


def backend_for(settings: Settings) -> FileBackend:
    if settings.upload_backend == "database":
        return DatabaseBackend()
    if settings.upload_dir is None:
        raise ConfigError("APP_UPLOAD_DIR is required when APP_UPLOAD_BACKEND=filesystem")
    return FilesystemBackend(settings.upload_dir)


def init_files(app: Flask, settings: Settings) -> None:
    """Choose the app's backend once, at start-up, so a bad combination fails the boot."""
    app.extensions[_EXT] = backend_for(settings)


def _backend() -> FileBackend:
    return current_app.extensions[_EXT]


def _check_extension(name: str) -> None:
    allowed = get_settings().allowed_extensions
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in allowed:
        raise ExtensionNotAllowed(
            f"extension {extension!r} is not allowed", details={"allowed": sorted(allowed)}
        )


def clean_name(client_name: str) -> str:
    """Turn a client-supplied file name into a safe one, or refuse it."""
    name = secure_filename(client_name or "")
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidFilename("the uploaded file needs a usable name")
    _check_extension(name)
    return name


def check_name(name: str) -> str:
    """A requested name, which must already be in the form clean_name produces."""
    if not name or len(name) > MAX_NAME_LENGTH or secure_filename(name) != name:
        raise InvalidFilename("invalid file name")
    return name


def save(client_name: str, stream: BinaryIO, overwrite: bool) -> FileInfo:
    """Store an upload; 409 file_exists if the name is taken and overwrite is false."""
    return _backend().save(clean_name(client_name), stream, overwrite)


def list_files() -> list[FileInfo]:
    """Every stored file, sorted by name."""
    return _backend().list_files()


def open_download(name: str) -> Download:
    """What send_file needs to serve the file called name; 404 if there is none."""
    return _backend().open_download(check_name(name))


def delete(name: str) -> None:
    """Remove the file called name; 404 if there is none."""
    _backend().delete(check_name(name))
