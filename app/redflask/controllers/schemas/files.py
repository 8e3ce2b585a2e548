from __future__ import annotations

from flask_openapi3 import FileStorage
from pydantic import BaseModel, ConfigDict, Field

from redflask.controllers.schemas.common import UtcDatetime


class FileOut(BaseModel):
    model_config = {"from_attributes": True}

    owner_id: int = Field(description="id of the user the file belongs to")
    name: str
    size: int
    modified_at: UtcDatetime


class FileList(BaseModel):
    items: list[FileOut]


class UploadForm(BaseModel):
    file: FileStorage


class FileQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="the owner's user id; default: you. Other owners: admins (and, with "
        "shared reading, everyone for reads)",
    )


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="only this owner's files; default: yours, or everyone's for admins",
    )


class UploadQuery(FileQuery):
    overwrite: bool = Field(False, description="replace an existing file of the same name")


class FilePath(BaseModel):
    name: str = Field(min_length=1, max_length=255)
