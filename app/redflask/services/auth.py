"""Login, logout and the identity behind a bearer token.

A login counts the attempt first (services/rate_limit.py: per client address, and per
account and address, before the password is checked), then normalises and validates the
name (services/usernames.py) and only then looks it up. Failures are logged with a short
hash of the name, never the name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update

from redflask.config import get_settings
from redflask.models import User
from redflask.models.base import utcnow
from redflask.services import rate_limit, tokens, usernames
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


def _throttled(verdict: rate_limit.Verdict) -> TooManyRequests:
    if verdict.code == rate_limit.ADDRESS_LIMITED:
        message = "too many login attempts from this address, try again later"
    else:
        message = "too many failed attempts for this account from this address, wait and retry"
    return TooManyRequests(message, headers={"Retry-After": str(verdict.retry_after)})


def guard_attempt(account: str, client: str) -> None:
    """Count a password attempt for account (a throttle name) from client before the
    password is checked; 429 with Retry-After when it has to wait."""
    verdict = rate_limit.attempt(account, client, get_settings())
    if not verdict.allowed:
        log.info(
            "password attempt throttled for account %s from %s",
            usernames.digest(account),
            client,
            extra={"fields": {"account": usernames.digest(account), "client": client}},
        )
        raise _throttled(verdict)


def log_failure(account: str, client: str, user_id: int | None, reason: str) -> None:
    # Never the submitted name: people type their password into the username field.
    hashed = usernames.digest(account)
    log.info(
        "password check failed for account %s from %s",
        hashed,
        client,
        extra={
            "fields": {"account": hashed, "client": client, "user_id": user_id, "reason": reason}
        },
    )


def login(username: str, password: str, client: str) -> Login:
    settings = get_settings()
    account = usernames.throttle_name(username)
    guard_attempt(account, client)
    try:
        name = usernames.validate(username)
    except usernames.InvalidUsername:
        # No account can have this name: nothing to look up, nothing to verify.
        log_failure(account, client, None, "invalid_username")
        raise Unauthorized("invalid username or password") from None

    session = db.session
    user = session.scalar(select(User).where(User.username == name))
    # Hand the connection back before hashing: the hash waits for a CPU slot.
    session.commit()
    # Verify even for an unknown user (against a dummy hash) so timing does not tell.
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok:
        log_failure(account, client, user.id if user else None, "wrong_password")
        raise Unauthorized("invalid username or password")
    if user.banned:
        raise Banned("this account is banned")

    rate_limit.succeeded(account, client)
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
