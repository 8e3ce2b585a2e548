"""User administration (admin only), plus changing one's own password."""

from __future__ import annotations

from flask import request, url_for
from flask_openapi3 import APIBlueprint, Tag

from redflask.controllers.schemas.common import (
    BEARER,
    COMMON_RESPONSES,
    ErrorResponse,
    Pagination,
)
from redflask.controllers.schemas.users import (
    PasswordChange,
    UserCreate,
    UserList,
    UserOut,
    UserPath,
    UserUpdate,
)
from redflask.controllers.security import (
    admin_required,
    current_token,
    current_user,
    login_required,
)
from redflask.services import users

bp = APIBlueprint(
    "users",
    __name__,
    url_prefix="/api/v1/users",
    abp_tags=[Tag(name="users")],
    abp_security=BEARER,
    abp_responses={**COMMON_RESPONSES, 401: ErrorResponse, 403: ErrorResponse},
)


def _out(user) -> dict:
    return UserOut.model_validate(user).model_dump(mode="json")


@bp.get("", responses={200: UserList})
@admin_required
def list_users(query: Pagination):
    """List users, oldest first."""
    page = users.list_users(query.page, query.per_page)
    return UserList(
        items=[UserOut.model_validate(u) for u in page.items],
        page=query.page,
        per_page=query.per_page,
        total=page.total,
    ).model_dump(mode="json")


@bp.post("", responses={201: UserOut, 409: ErrorResponse})
@admin_required
def create_user(body: UserCreate):
    """Create a user. The username is stored normalised (NFKC, lower case, trimmed)."""
    user = users.create_user(body.username, body.password, body.nickname, body.role)
    return _out(user), 201, {"Location": url_for("users.get_user", user_id=user.id)}


@bp.get("/<int:user_id>", responses={200: UserOut, 404: ErrorResponse})
@admin_required
def get_user(path: UserPath):
    """Read one user."""
    return _out(users.get_user(path.user_id))


@bp.patch("/<int:user_id>", responses={200: UserOut, 404: ErrorResponse, 409: ErrorResponse})
@admin_required
def update_user(path: UserPath, body: UserUpdate):
    """Change nickname, role or ban flag. The last active admin cannot be demoted or banned."""
    user = users.update_user(path.user_id, body.nickname, body.role, body.banned)
    return _out(user)


@bp.delete("/<int:user_id>", responses={204: None, 404: ErrorResponse, 409: ErrorResponse})
@admin_required
def delete_user(path: UserPath):
    """Delete a user. The last active admin cannot be deleted."""
    users.delete_user(path.user_id)
    return "", 204


@bp.put(
    "/<int:user_id>/password",
    responses={204: None, 404: ErrorResponse, 429: ErrorResponse},
)
@login_required
def change_password(path: UserPath, body: PasswordChange):
    """Change a password: your own (with current_password, throttled like a login), or
    anyone's as an admin."""
    users.change_password(
        current_user(),
        path.user_id,
        body.new_password,
        body.current_password,
        current_token(),
        request.remote_addr or "unknown",
    )
    return "", 204
