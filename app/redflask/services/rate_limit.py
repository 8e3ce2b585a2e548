"""Fixed-window counters in Redis for login throttling.

SET NX EX followed by INCR works on every Redis version the roles install (EXPIRE NX needs
7.0), and the window starts with the first hit, so it can never be extended by retrying.
"""

from __future__ import annotations

from dataclasses import dataclass

from redflask.utils.redis_store import redis_store


@dataclass(frozen=True)
class Window:
    count: int
    retry_after: int


def hit(name: str, window: int) -> Window:
    key = redis_store.key("rl", name)
    with redis_store.r.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, count, ttl = pipe.execute()
    return Window(int(count), max(int(ttl), 1))


def peek(name: str) -> Window:
    key = redis_store.key("rl", name)
    with redis_store.r.pipeline(transaction=False) as pipe:
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
    return Window(int(count or 0), max(int(ttl), 1))


def reset(name: str) -> None:
    redis_store.r.delete(redis_store.key("rl", name))
