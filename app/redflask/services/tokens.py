"""Opaque bearer tokens kept in Redis: expiring, and revocable one by one or per user.

Only a SHA-256 of the token is stored, so a Redis dump does not hand out live sessions.
"""

from __future__ import annotations

import hashlib
import secrets

from redflask.utils.redis_store import redis_store


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_key(digest: str) -> str:
    return redis_store.key("token", digest)


def _user_key(user_id: int) -> str:
    return redis_store.key("user-tokens", user_id)


def issue(user_id: int, ttl: int) -> str:
    token = secrets.token_urlsafe(32)
    digest = _digest(token)
    with redis_store.r.pipeline(transaction=True) as pipe:
        pipe.set(_token_key(digest), user_id, ex=ttl)
        pipe.sadd(_user_key(user_id), digest)
        # The index lives as long as the newest token, so it outlives every older one;
        # members whose token already expired are harmless.
        pipe.expire(_user_key(user_id), ttl)
        pipe.execute()
    return token


def resolve(token: str) -> int | None:
    value = redis_store.r.get(_token_key(_digest(token)))
    return int(value) if value is not None else None


def revoke(token: str, user_id: int) -> None:
    digest = _digest(token)
    with redis_store.r.pipeline(transaction=True) as pipe:
        pipe.delete(_token_key(digest))
        pipe.srem(_user_key(user_id), digest)
        pipe.execute()


def revoke_all(user_id: int, keep: str | None = None) -> None:
    """Revoke every token of a user (ban, delete, password change), optionally sparing one."""
    kept = _digest(keep) if keep else None
    digests = [d for d in redis_store.r.smembers(_user_key(user_id)) if d != kept]
    if not digests:
        return
    with redis_store.r.pipeline(transaction=True) as pipe:
        pipe.delete(*(_token_key(d) for d in digests))
        pipe.srem(_user_key(user_id), *digests)
        pipe.execute()
