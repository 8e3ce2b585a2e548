from __future__ import annotations

from pydantic import BaseModel


class Greeting(BaseModel):
    name: str
    message: str
    version: str
    release_id: str | None


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
