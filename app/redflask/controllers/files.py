"""File upload, listing, download and deletion, whichever backend stores the files."""

from __future__ import annotations

from flask import send_file, url_for
from flask_openapi3 import APIBlueprint, Tag

from redflask.controllers.schemas.common import BEARER, COMMON_RESPONSES, ErrorResponse
from redflask.controllers.schemas.files import (
    FileList,
    FileOut,
    FilePath,
    UploadForm,
    UploadQuery,
)
from redflask.controllers.security import admin_required, login_required
from redflask.services import files

bp = APIBlueprint(
    "files",
    __name__,
    url_prefix="/api/v1/files",
    abp_tags=[Tag(name="files")],
    abp_security=BEARER,
    abp_responses={**COMMON_RESPONSES, 401: ErrorResponse},
)


@bp.get("", responses={200: FileList})
@login_required
def list_files():
    """List stored files."""
    return FileList(items=[FileOut.model_validate(f) for f in files.list_files()]).model_dump(
        mode="json"
    )


@bp.post(
    "",
    responses={
        201: FileOut,
        400: ErrorResponse,
        409: ErrorResponse,
        413: ErrorResponse,
        415: ErrorResponse,
    },
)
@login_required
def upload_file(form: UploadForm, query: UploadQuery):
    """Upload a file (multipart field 'file'); an existing name needs overwrite=true."""
    stored = files.save(form.file.filename or "", form.file.stream, query.overwrite)
    location = url_for("files.download_file", name=stored.name)
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
def download_file(path: FilePath):
    """Download a file as an attachment."""
    download = files.open_download(path.name)
    # A path (filesystem) or an in-memory copy (database). Always octet-stream: a browser
    # must never render an uploaded file inline.
    return send_file(
        download.source,
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=download.name,
        last_modified=download.last_modified,
    )


@bp.delete("/<name>", responses={204: None, 400: ErrorResponse, 403: ErrorResponse})
@admin_required
def delete_file(path: FilePath):
    """Delete a file (admin only)."""
    files.delete(path.name)
    return "", 204
