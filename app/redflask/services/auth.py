"""Login, logout and the identity behind a bearer token."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update

from redflask.config import get_settings
from redflask.models import User
from redflask.models.base import utcnow
from redflask.services import rate_limit, tokens
from redflask.utils.background import run_in_background
from redflask.utils.db import db
from redflask.utils.errors import ApiError, TooManyRequests, Unauthorized
from redflask.utils.passwords import hash_password, needs_rehash, verify_password
from redflask.utils.retry import transient_retry

log = logging.getLogger("redflask.auth")


class Banned(ApiError):
    status, code = 403, "user_banned"


@dataclass(frozen=True)
class Login:
    token: str
    expires_in: int
    user: User


def _throttled(window: rate_limit.Window) -> TooManyRequests:
    return TooManyRequests(
        "too many login attempts, try again later",
        headers={"Retry-After": str(window.retry_after)},
    )


def login(username: str, password: str, client_ip: str) -> Login:
    settings = get_settings()
    ip_window = rate_limit.hit(f"login:ip:{client_ip}", settings.login_rate_window)
    if ip_window.count > settings.login_rate_limit_ip:
        raise _throttled(ip_window)
    user_bucket = f"login:user:{username.lower()}"
    user_window = rate_limit.peek(user_bucket)
    if user_window.count >= settings.login_rate_limit_user:
        raise _throttled(user_window)

    session = db.session
    user = session.scalar(select(User).where(User.username == username))
    # Verify even for an unknown user (against a dummy hash) so timing does not tell.
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok:
        rate_limit.hit(user_bucket, settings.login_rate_window)
        log.info("login failed for %r from %s", username, client_ip)
        raise Unauthorized("invalid username or password")
    if user.banned:
        raise Banned("this account is banned")

    rate_limit.reset(user_bucket)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.commit()
    token = tokens.issue(user.id, settings.token_ttl)
    # Bookkeeping must not slow down or fail the login: it runs off the request path.
    run_in_background(record_last_login, user.id)
    return Login(token=token, expires_in=settings.token_ttl, user=user)


@transient_retry()
def record_last_login(user_id: int) -> None:
    with db.transaction() as session:
        session.execute(
            update(User)
            .where(User.id == user_id)
            # Keep updated_at: it tracks profile changes, not sign-ins.
            .values(last_login_at=utcnow(), updated_at=User.updated_at)
        )


def logout(token: str, user: User) -> None:
    tokens.revoke(token, user.id)


def authenticate(token: str) -> User:
    """The active user a bearer token belongs to, or Unauthorized."""
    user_id = tokens.resolve(token)
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None or user.banned:
        raise Unauthorized("invalid or expired token", headers={"WWW-Authenticate": "Bearer"})
    return user
