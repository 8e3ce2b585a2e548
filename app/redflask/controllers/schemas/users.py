from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from redflask.controllers.schemas.common import StrictBody, UtcDatetime
from redflask.services import usernames

# Normalised (NFKC, case-folded, trimmed), then checked against the rule: the same one a
# login applies before looking a name up. No pattern in the schema: it would have to
# describe the raw input, which normalisation accepts more of.
Username = Annotated[
    str,
    Field(
        min_length=usernames.MIN_LENGTH,
        max_length=usernames.MAX_LENGTH,
        description=f"login name: {usernames.RULE_TEXT}",
    ),
    AfterValidator(usernames.validate),
]
NewPassword = Field(min_length=8, max_length=128)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    nickname: str
    role: Literal["admin", "user"]
    banned: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime
    last_login_at: UtcDatetime | None


class UserList(BaseModel):
    items: list[UserOut]
    page: int
    per_page: int
    total: int


class UserCreate(StrictBody):
    username: Username
    password: str = NewPassword
    nickname: str = Field("", max_length=50)
    role: Literal["admin", "user"] = "user"


class UserUpdate(StrictBody):
    nickname: str | None = Field(None, max_length=50)
    role: Literal["admin", "user"] | None = None
    banned: bool | None = None


class PasswordChange(StrictBody):
    current_password: str | None = Field(
        None, min_length=1, max_length=128, description="required when changing your own"
    )
    new_password: str = NewPassword


class UserPath(BaseModel):
    user_id: int = Field(ge=1, le=2**31 - 1)
