from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


def _utc_iso(value: datetime) -> str:
    # Stored naive in UTC (MySQL DATETIME); clients get an explicit RFC 3339 'Z' time.
    return value.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


UtcDatetime = Annotated[
    datetime,
    PlainSerializer(_utc_iso, return_type=str),
    Field(json_schema_extra={"format": "date-time"}),
]


class StrictBody(BaseModel):
    """JSON bodies: no type coercion ("yes" is not a bool) and no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ErrorBody(BaseModel):
    status: int
    code: str = Field(description="machine-readable error code, e.g. not_found")
    message: str
    request_id: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class Pagination(BaseModel):
    # Unknown query parameters are rejected too: a typo must not silently mean "default".
    model_config = ConfigDict(extra="forbid")

    page: int = Field(1, ge=1, le=100000)
    per_page: int = Field(20, ge=1, le=100)


COMMON_RESPONSES: dict[Any, Any] = {
    422: ErrorResponse,
    # Anything else (401, 429, 503 ...) still has the one error shape.
    "default": ErrorResponse,
}

BEARER = [{"bearerAuth": []}]
