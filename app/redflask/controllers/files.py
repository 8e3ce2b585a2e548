"""File upload, listing, download and deletion, whichever backend stores the files.

Files are owned: the caller's own by default, another owner's with ?owner=<id> (admins;
reads also with APP_UPLOAD_SHARED_READ). To anyone else another owner's file is 404.
"""

from __future__ import annotations

from flask import send_file, url_for
from flask_openapi3 import APIBlueprint, Tag

from redflask.controllers.schemas.common import BEARER, COMMON_RESPONSES, ErrorResponse
from redflask.controllers.schemas.files import (
    FileList,
    FileOut,
    FilePath,
    FileQuery,
    ListQuery,
    UploadForm,
    UploadQuery,
)
from redflask.controllers.security import current_user, login_required
from redflask.services import files

bp = APIBlueprint(
    "files",
    __name__,
    url_prefix="/api/v1/files",
    abp_tags=[Tag(name="files")],
    abp_security=BEARER,
    abp_responses={**COMMON_RESPONSES, 401: ErrorResponse},
)


@bp.get("", responses={200: FileList, 403: ErrorResponse})
@login_required
def list_files(query: ListQuery):
    """List your files; admins: everyone's (or one owner's with ?owner=)."""
    items = files.list_files(current_user(), query.owner)
    return FileList(items=[FileOut.model_validate(f) for f in items]).model_dump(mode="json")


@bp.post(
    "",
    responses={
        201: FileOut,
        400: ErrorResponse,
        404: ErrorResponse,
        409: ErrorResponse,
        413: ErrorResponse,
        415: ErrorResponse,
    },
)
@login_required
def upload_file(form: UploadForm, query: UploadQuery):
    """Upload a file (multipart field 'file') into your namespace (admins: ?owner=); an
    existing name needs overwrite=true. Over the owner's quota: 409 (files), 413 (bytes)."""
    stored = files.save(
        current_user(), form.file.filename or "", form.file.stream, query.overwrite, query.owner
    )
    location = url_for("files.download_file", name=stored.name, owner=stored.owner_id)
    return FileOut.model_validate(stored).model_dump(mode="json"), 201, {"Location": location}


@bp.get(
    "/<name>",
    responses={
        200: {
            "description": "the file, as an attachment",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        },
        400: ErrorResponse,
        404: ErrorResponse,
    },
)
@login_required
def download_file(path: FilePath, query: FileQuery):
    """Download one of your files (admins: ?owner=) as an attachment."""
    download = files.open_download(current_user(), path.name, query.owner)
    # A path (filesystem) or an in-memory copy (database). Always octet-stream: a browser
    # must never render an uploaded file inline.
    return send_file(
        download.source,
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=download.name,
        last_modified=download.last_modified,
    )


@bp.delete("/<name>", responses={204: None, 400: ErrorResponse, 404: ErrorResponse})
@login_required
def delete_file(path: FilePath, query: FileQuery):
    """Delete one of your files (admins: anyone's, with ?owner=)."""
    files.delete(current_user(), path.name, query.owner)
    return "", 204
