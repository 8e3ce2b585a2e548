"""Bearer-token guards for controllers: who is calling, and may they.

The decorators only mark a view with the role it needs; enforce_auth (a before_request
hook) does the check. That way authentication runs before flask-openapi3 validates the
request, so an anonymous caller learns nothing about the input a route expects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from redflask.models import User
from redflask.services import auth
from redflask.utils.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "redflask_auth"
_MAX_TOKEN_LENGTH = 256


def login_required(view: F) -> F:
    setattr(view, _ATTRIBUTE, "login")
    return view


def admin_required(view: F) -> F:
    setattr(view, _ATTRIBUTE, "admin")
    return view


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_LENGTH:
        raise Unauthorized("a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return token


def enforce_auth() -> None:
    # CORS preflights carry no credentials by design; flask-cors answers them.
    if request.method == "OPTIONS" or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    # flask-openapi3 wraps views with functools.wraps, which copies the marker.
    level = getattr(view, _ATTRIBUTE, None)
    if level is None:
        return
    token = _bearer_token()
    g.current_user = auth.authenticate(token)
    g.current_token = token
    if level == "admin" and not g.current_user.is_admin:
        raise Forbidden("admin role required")


def current_user() -> User:
    return g.current_user


def current_token() -> str:
    return g.current_token
