"""Uploaded files kept flat in APP_UPLOAD_DIR, which lives outside any release.

Every name is checked twice: it must already be in werkzeug's secure_filename form (no
separators, no '..', no NUL, no leading dot), and the resolved path must stay inside the
upload directory even if someone planted a symlink.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from werkzeug.utils import secure_filename

from redflask.config import get_settings
from redflask.utils.errors import ApiError, Conflict, NotFound

MAX_NAME_LENGTH = 200
_CHUNK = 1024 * 1024


class InvalidFilename(ApiError):
    status, code = 400, "invalid_filename"


class ExtensionNotAllowed(ApiError):
    status, code = 415, "extension_not_allowed"


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    modified_at: datetime


def _upload_dir() -> Path:
    directory = get_settings().upload_dir
    directory.mkdir(parents=True, exist_ok=True)
    return directory.resolve()


def _check_extension(name: str) -> None:
    allowed = get_settings().allowed_extensions
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in allowed:
        raise ExtensionNotAllowed(
            f"extension {extension!r} is not allowed", details={"allowed": sorted(allowed)}
        )


def resolve(name: str) -> Path:
    """The path of an existing or future file called name, or InvalidFilename."""
    if not name or len(name) > MAX_NAME_LENGTH or secure_filename(name) != name:
        raise InvalidFilename("invalid file name")
    directory = _upload_dir()
    path = (directory / name).resolve()
    if path.parent != directory:
        raise InvalidFilename("invalid file name")
    return path


def clean_name(client_name: str) -> str:
    """Turn a client-supplied file name into a safe one, or refuse it."""
    name = secure_filename(client_name or "")
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidFilename("the uploaded file needs a usable name")
    _check_extension(name)
    return name


def _describe(path: Path) -> StoredFile:
    stat = path.stat()
    return StoredFile(
        name=path.name,
        size=stat.st_size,
        modified_at=datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc).replace(tzinfo=None),
    )


def save(client_name: str, stream: BinaryIO, overwrite: bool) -> StoredFile:
    name = clean_name(client_name)
    target = resolve(name)
    # Write to a temporary file in the same directory, then link or rename it into place:
    # readers never see a half-written file and a refused upload leaves nothing behind.
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
                raise Conflict(
                    f"{name} already exists; pass overwrite=true to replace it",
                    code="file_exists",
                ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return _describe(target)


def list_files() -> list[StoredFile]:
    directory = _upload_dir()
    entries = [
        _describe(entry)
        for entry in directory.iterdir()
        # Symlinks are skipped: their target may be outside the directory.
        if entry.is_file() and not entry.is_symlink() and not entry.name.startswith(".")
    ]
    return sorted(entries, key=lambda item: item.name)


def existing(name: str) -> Path:
    path = resolve(name)
    if not path.is_file():
        raise NotFound(f"file {name} not found")
    return path


def delete(name: str) -> None:
    existing(name).unlink()
