"""Login, logout and the caller's own profile."""

from __future__ import annotations

from flask import request
from flask_openapi3 import APIBlueprint, Tag

from redflask.controllers.schemas.auth import LoginBody, TokenOut
from redflask.controllers.schemas.common import BEARER, COMMON_RESPONSES, ErrorResponse
from redflask.controllers.schemas.users import UserOut
from redflask.controllers.security import current_token, current_user, login_required
from redflask.services import auth

bp = APIBlueprint(
    "auth",
    __name__,
    url_prefix="/api/v1/auth",
    abp_tags=[Tag(name="auth")],
    abp_responses=COMMON_RESPONSES,
)


@bp.post(
    "/login",
    responses={200: TokenOut, 401: ErrorResponse, 403: ErrorResponse, 429: ErrorResponse},
)
def login(body: LoginBody):
    """Exchange username and password for a bearer token (rate-limited per IP and user)."""
    # remote_addr is the client's address once ProxyFix has read nginx's X-Forwarded-For.
    result = auth.login(body.username, body.password, request.remote_addr or "unknown")
    return TokenOut(
        access_token=result.token,
        expires_in=result.expires_in,
        user=UserOut.model_validate(result.user),
    ).model_dump(mode="json")


@bp.post("/logout", responses={204: None, 401: ErrorResponse}, security=BEARER)
@login_required
def logout():
    """Revoke the token used for this request."""
    auth.logout(current_token(), current_user())
    return "", 204


@bp.get("/me", responses={200: UserOut, 401: ErrorResponse}, security=BEARER)
@login_required
def me():
    """The user the bearer token belongs to."""
    return UserOut.model_validate(current_user()).model_dump(mode="json")
