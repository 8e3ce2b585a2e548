"""Uploaded files: owned, per-owner namespaces, quotas, on the backend APP_UPLOAD_BACKEND names.

- filesystem: APP_UPLOAD_DIR/<owner id>/<name>; APP_UPLOAD_DIR lives outside any release.
  Right for one app host, or for several that mount the same directory.
- database: the stored_file table (owner_id, name unique together), so every app host
  behind the load balancer sees every upload. The content goes to MySQL in one statement,
  as hex: max_allowed_packet must be above twice APP_MAX_UPLOAD_MB.

Every file has an owner, the user who uploaded it, and every owner has a namespace of their
own: alice's report.txt and bob's report.txt are two files. A file is addressed by its name
and its owner (`?owner=<id>`, default: the caller). Reading, overwriting and deleting need
the owner or an admin (APP_UPLOAD_SHARED_READ=true lets every authenticated user read).
To anyone else another owner's files do not exist: 404, exactly as for a missing file, so
nobody learns which names (or users) exist.

Uploads count against the owner's quota (APP_UPLOAD_QUOTA_FILES, APP_UPLOAD_QUOTA_MB):
more files is 409 quota_files_exceeded, more bytes 413 quota_bytes_exceeded. The check
and the write happen while the owner's sys_user row is locked (SELECT ... FOR UPDATE), so
parallel uploads, from any app host, cannot together exceed it.

Names are checked before a backend sees them: an upload's name is made safe with werkzeug's
secure_filename and needs an allowed extension; a requested name must already be in that
form (no separators, no '..', no NUL, no leading dot). The filesystem backend also checks
that the resolved path stays inside the owner's directory even if someone planted a symlink.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, text
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.utils import secure_filename

from redflask.config import ConfigError, Settings, get_settings
from redflask.models import StoredFile, User
from redflask.models.base import utcnow
from redflask.utils.db import db
from redflask.utils.errors import ApiError, Conflict, Forbidden, NotFound

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
    owner_id: int
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
    def stat(self, owner: int, name: str) -> FileInfo | None: ...

    def usage(self, owner: int) -> tuple[int, int]: ...

    def save(self, owner: int, name: str, stream: BinaryIO, overwrite: bool) -> FileInfo: ...

    def list_files(self, owner: int | None) -> list[FileInfo]: ...

    def open_download(self, owner: int, name: str) -> Download: ...

    def delete(self, owner: int, name: str) -> None: ...

    def delete_owner(self, owner: int) -> None: ...


def _already_exists(name: str) -> Conflict:
    return Conflict(f"{name} already exists; pass overwrite=true to replace it", code="file_exists")


def _not_found(name: str) -> NotFound:
    return NotFound(f"file {name} not found")


def _sorted(items: list[FileInfo]) -> list[FileInfo]:
    return sorted(items, key=lambda item: (item.name, item.owner_id))


class FilesystemBackend:
    """APP_UPLOAD_DIR/<owner id>/<name>: one directory per owner, flat inside."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _root(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory.resolve()

    def _owner_dir(self, owner: int) -> Path:
        return self._root() / str(owner)

    def _path(self, owner: int, name: str) -> Path:
        """The path of an existing or future file called name (already a checked name)."""
        directory = self._owner_dir(owner)
        path = (directory / name).resolve()
        # A symlinked owner directory or file resolves elsewhere and is refused.
        if path.parent != directory:
            raise InvalidFilename("invalid file name")
        return path

    def _existing(self, owner: int, name: str) -> Path:
        path = self._path(owner, name)
        if not path.is_file():
            raise _not_found(name)
        return path

    @staticmethod
    def _describe(owner: int, path: Path) -> FileInfo:
        stat = path.stat()
        return FileInfo(
            owner_id=owner,
            name=path.name,
            size=stat.st_size,
            modified_at=datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc).replace(tzinfo=None),
        )

    @staticmethod
    def _entries(directory: Path) -> list[Path]:
        if directory.is_symlink() or not directory.is_dir():
            return []
        return [
            entry
            for entry in directory.iterdir()
            # Symlinks are skipped: their target may be outside the directory.
            if entry.is_file() and not entry.is_symlink() and not entry.name.startswith(".")
        ]

    def stat(self, owner: int, name: str) -> FileInfo | None:
        path = self._path(owner, name)
        return self._describe(owner, path) if path.is_file() else None

    def usage(self, owner: int) -> tuple[int, int]:
        entries = self._entries(self._owner_dir(owner))
        return len(entries), sum(entry.stat().st_size for entry in entries)

    def save(self, owner: int, name: str, stream: BinaryIO, overwrite: bool) -> FileInfo:
        target = self._path(owner, name)
        target.parent.mkdir(exist_ok=True)
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
        return self._describe(owner, target)

    def _owners(self) -> list[int]:
        root = self._root()
        return [
            int(entry.name)
            for entry in root.iterdir()
            # Anything else in the root (files of the release before owners, junk) is ignored.
            if entry.name.isdecimal() and entry.is_dir() and not entry.is_symlink()
        ]

    def list_files(self, owner: int | None) -> list[FileInfo]:
        owners = self._owners() if owner is None else [owner]
        return _sorted(
            [
                self._describe(each, entry)
                for each in owners
                for entry in self._entries(self._owner_dir(each))
            ]
        )

    def open_download(self, owner: int, name: str) -> Download:
        path = self._existing(owner, name)
        return Download(name=path.name, source=path)

    def delete(self, owner: int, name: str) -> None:
        self._existing(owner, name).unlink()

    def delete_owner(self, owner: int) -> None:
        directory = self._owner_dir(owner)
        if directory.is_symlink():
            directory.unlink()
        elif directory.is_dir():
            shutil.rmtree(directory)


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

    def stat(self, owner: int, name: str) -> FileInfo | None:
        row = db.session.execute(
            select(StoredFile.size, StoredFile.modified_at).where(
                StoredFile.owner_id == owner, StoredFile.name == name
            )
        ).one_or_none()
        if row is None:
            return None
        return FileInfo(owner_id=owner, name=name, size=row.size, modified_at=row.modified_at)

    def usage(self, owner: int) -> tuple[int, int]:
        count, total = db.session.execute(
            select(func.count(), func.coalesce(func.sum(StoredFile.size), 0)).where(
                StoredFile.owner_id == owner
            )
        ).one()
        return int(count), int(total)

    def save(self, owner: int, name: str, stream: BinaryIO, overwrite: bool) -> FileInfo:
        """Stores in the caller's transaction; the caller commits."""
        # In memory at once: MAX_CONTENT_LENGTH (APP_MAX_UPLOAD_MB) bounds it.
        content = stream.read()
        session = db.session
        self._check_packet_size(session, name, content)
        # DATETIME keeps whole seconds: answer with what a later listing will show.
        info = FileInfo(
            owner_id=owner,
            name=name,
            size=len(content),
            modified_at=utcnow().replace(microsecond=0),
        )
        statement = mysql_insert(StoredFile).values(
            owner_id=owner,
            name=info.name,
            size=info.size,
            content=content,
            modified_at=info.modified_at,
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
        except IntegrityError:
            # The unique (owner, name) is the atomic no-overwrite check, across every host.
            session.rollback()
            raise _already_exists(name) from None
        return info

    def list_files(self, owner: int | None) -> list[FileInfo]:
        query = select(
            StoredFile.owner_id, StoredFile.name, StoredFile.size, StoredFile.modified_at
        ).order_by(StoredFile.name, StoredFile.owner_id)
        if owner is not None:
            query = query.where(StoredFile.owner_id == owner)
        return [
            FileInfo(
                owner_id=row.owner_id, name=row.name, size=row.size, modified_at=row.modified_at
            )
            for row in db.session.execute(query)
        ]

    def open_download(self, owner: int, name: str) -> Download:
        row = db.session.execute(
            select(StoredFile.content, StoredFile.modified_at).where(
                StoredFile.owner_id == owner, StoredFile.name == name
            )
        ).one_or_none()
        if row is None:
            raise _not_found(name)
        return Download(name=name, source=io.BytesIO(row.content), last_modified=row.modified_at)

    def delete(self, owner: int, name: str) -> None:
        session = db.session
        result = session.execute(
            sql_delete(StoredFile).where(StoredFile.owner_id == owner, StoredFile.name == name)
        )
        session.commit()
        if result.rowcount == 0:
            raise _not_found(name)

    def delete_owner(self, owner: int) -> None:
        # The foreign key (ON DELETE CASCADE) removed the rows with the user.
        return None


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


def _may_read_all(actor: User) -> bool:
    return actor.is_admin or get_settings().upload_shared_read


def _owner(actor: User, owner: int | None, name: str, *, read: bool) -> int:
    """Whose file the caller addresses; another owner's files do not exist for them."""
    if owner is None or owner == actor.id:
        return actor.id
    allowed = _may_read_all(actor) if read else actor.is_admin
    if not allowed:
        raise _not_found(name)
    return owner


def _stream_size(stream: BinaryIO) -> tuple[BinaryIO, int]:
    """The upload and its size. werkzeug spools uploads into a SpooledTemporaryFile, which
    seeks but, before Python 3.11, has no seekable(): try the seek, copy only on failure."""
    try:
        size = stream.seek(0, os.SEEK_END)
    except (AttributeError, OSError):  # pragma: no cover - werkzeug always gives a seekable one
        stream = io.BytesIO(stream.read())
        size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    return stream, size


def _check_quota(backend: FileBackend, owner: int, existing: FileInfo | None, size: int) -> None:
    """Refuse an upload that would take the owner over a quota (existing: the file it
    replaces, if any). Runs with the owner's row locked."""
    settings = get_settings()
    files, used = backend.usage(owner)
    if existing is None and files + 1 > settings.upload_quota_files:
        raise ApiError(
            f"the file quota ({settings.upload_quota_files} files) is used up",
            status=409,
            code="quota_files_exceeded",
            details={"limit_files": settings.upload_quota_files, "files": files},
        )
    after = used - (existing.size if existing else 0) + size
    if after > settings.upload_quota_bytes:
        raise ApiError(
            f"the storage quota ({settings.upload_quota_mb} MiB) would be exceeded",
            status=413,
            code="quota_bytes_exceeded",
            details={
                "limit_bytes": settings.upload_quota_bytes,
                "used_bytes": used,
                "file_bytes": size,
            },
        )


def save(
    actor: User, client_name: str, stream: BinaryIO, overwrite: bool, owner: int | None = None
) -> FileInfo:
    """Store an upload in owner's namespace (default: the caller's; another's: admins
    only); 409 file_exists if the name is taken there and overwrite is false."""
    name = clean_name(client_name)
    owner_id = _owner(actor, owner, name, read=False)
    stream, size = _stream_size(stream)
    backend = _backend()
    session = db.session
    # End the request's transaction first: the checks below must read what is committed
    # now (REPEATABLE READ keeps the snapshot of a transaction's first read).
    session.commit()
    locked = session.scalar(select(User.id).where(User.id == owner_id).with_for_update())
    if locked is None:
        raise NotFound(f"user {owner_id} not found")
    try:
        existing = backend.stat(owner_id, name)
        if existing is not None and not overwrite:
            raise _already_exists(name)
        _check_quota(backend, owner_id, existing, size)
        info = backend.save(owner_id, name, stream, overwrite)
        session.commit()
    finally:
        session.rollback()  # releases the lock when anything above failed (no-op otherwise)
    return info


def list_files(actor: User, owner: int | None = None) -> list[FileInfo]:
    """The caller's files; admins (and, with shared reading, everyone): every file, or
    one owner's. Sorted by name, then owner."""
    if owner is None:
        return _backend().list_files(None if _may_read_all(actor) else actor.id)
    if owner != actor.id and not _may_read_all(actor):
        raise Forbidden("listing another user's files needs the admin role")
    return _backend().list_files(owner)


def open_download(actor: User, name: str, owner: int | None = None) -> Download:
    """What send_file needs to serve owner's file called name; 404 if there is none (or
    the caller may not read it)."""
    name = check_name(name)
    return _backend().open_download(_owner(actor, owner, name, read=True), name)


def delete(actor: User, name: str, owner: int | None = None) -> None:
    """Remove owner's file called name; 404 if there is none (or the caller may not)."""
    name = check_name(name)
    _backend().delete(_owner(actor, owner, name, read=False), name)


def delete_owner_files(owner: int) -> None:
    """Remove what the backend keeps of a deleted user's files."""
    try:
        _backend().delete_owner(owner)
    except OSError:
        # The user is gone either way; leftovers are not served to anyone (no user has the id).
        log.warning("could not remove the files of deleted user %d", owner, exc_info=True)
