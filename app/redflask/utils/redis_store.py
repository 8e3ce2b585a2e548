"""One Redis client per app, plus key naming under a configurable prefix.

The production ACL user may run only the commands the app sends, on keys under its prefix
(the redis role's redis_app_commands and redis_app_key_patterns): a new command here must
be added there, and every key must go through key().
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Flask, current_app

_EXT = "redflask.redis"


@dataclass
class _State:
    client: redis.Redis
    prefix: str


class RedisStore:
    def init_app(self, app: Flask, url: str, prefix: str) -> None:
        # redis-py's pool notices a fork by pid and reconnects, so preloading is safe.
        client = redis.Redis.from_url(
            url,
            # RESP2: with RESP3, redis-py authenticates through HELLO, which Redis 6.0
            # (Ubuntu 22.04) refuses when the default user is disabled, as the redis role
            # does. RESP2 authenticates with AUTH, which every supported server accepts.
            protocol=2,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=30,
        )
        app.extensions[_EXT] = _State(client, prefix)

    @property
    def r(self) -> redis.Redis:
        return current_app.extensions[_EXT].client

    def key(self, *parts: object) -> str:
        return current_app.extensions[_EXT].prefix + ":".join(str(part) for part in parts)


redis_store = RedisStore()
