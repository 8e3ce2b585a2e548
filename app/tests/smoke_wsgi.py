"""WSGI module for the gunicorn smoke test only: the real app plus one route that waits.

The waiting route lives here, not in the package, so production has no endpoint that
holds a connection open on request.
"""

from __future__ import annotations

import uuid

from redflask import create_app
from redflask.utils.redis_store import redis_store

app = create_app()
_NEVER_PUSHED = f"smoke-wait-{uuid.uuid4().hex}"


def wait_on_redis():
    # BLPOP on a list nobody pushes to: 0.5 s spent waiting on a Redis socket.
    redis_store.r.blpop([redis_store.key(_NEVER_PUSHED)], timeout=0.5)
    return {"waited": True}


app.add_url_rule("/_smoke/wait", "smoke_wait", wait_on_redis)
