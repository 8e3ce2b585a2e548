from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from redflask.controllers.schemas.common import StrictBody
from redflask.controllers.schemas.users import UserOut


class LoginBody(StrictBody):
    username: str = Field(min_length=1, max_length=50)
    password: str = Field(min_length=1, max_length=128)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name
    expires_in: int = Field(description="seconds until the token expires")
    user: UserOut
