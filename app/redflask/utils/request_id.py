"""Request ids and one structured log line per request.

A sane incoming X-Request-ID (nginx sets one) is kept so a request can be followed from
nginx to gunicorn to the app; otherwise a new id is made. Either way it is returned in
exactly one X-Request-ID response header (set, never added) and attached to every log
line of the request.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

HEADER = "X-Request-ID"
# Bounded and restricted so a client cannot inject log lines or oversized values.
_SANE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

log = logging.getLogger("redflask.request")


def _assign_request_id() -> None:
    g.request_started = time.perf_counter()
    incoming = request.headers.get(HEADER, "")
    g.request_id = incoming if _SANE.match(incoming) else uuid.uuid4().hex


def _finish_request(response: Response) -> Response:
    response.headers[HEADER] = g.get("request_id", "")
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
    log.info(
        "request",
        extra={
            "fields": {
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "remote_addr": request.remote_addr,
            }
        },
    )
    return response


def init_request_id(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.after_request(_finish_request)
