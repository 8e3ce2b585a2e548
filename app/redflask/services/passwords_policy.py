"""What makes a new password acceptable, beyond the length the schema already enforces."""

from __future__ import annotations

from redflask.resources import get_resources
from redflask.utils.errors import ApiError


class WeakPassword(ApiError):
    status, code = 422, "weak_password"


def check_new_password(password: str, username: str) -> None:
    lowered = password.lower()
    if lowered in get_resources().common_passwords:
        raise WeakPassword("this password is too common; choose another")
    if lowered == username.lower():
        raise WeakPassword("the password must not equal the username")
