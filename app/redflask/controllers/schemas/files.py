from __future__ import annotations

from flask_openapi3 import FileStorage
from pydantic import BaseModel, ConfigDict, Field

from redflask.controllers.schemas.common import UtcDatetime


class FileOut(BaseModel):
    model_config = {"from_attributes": True}

    name: str
    size: int
    modified_at: UtcDatetime


class FileList(BaseModel):
    items: list[FileOut]


class UploadForm(BaseModel):
    file: FileStorage


class UploadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overwrite: bool = Field(False, description="replace an existing file of the same name")


class FilePath(BaseModel):
    name: str = Field(min_length=1, max_length=255)
