"""One JSON error shape for every failure, and the handlers that produce it.

Shape: {"error": {"status": 404, "code": "not_found", "message": "...",
"request_id": "...", "details": ...}}. Nothing from a traceback, a driver message or
SQL is ever put in it; unexpected failures are logged server-side with the request id.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pymysql
from flask import Flask, Response, g, jsonify
from pydantic import ValidationError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from redflask.utils.metrics import count_dependency_error

log = logging.getLogger("redflask.errors")

# Can't connect, server gone away, lost connection: the client should retry, not report a bug.
_MYSQL_CONNECTION_ERRORS = frozenset({2003, 2006, 2013})


class ApiError(Exception):
    """An expected failure a service or controller reports to the client."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status or self.status
        self.code = code or self.code
        self.details = details
        self.headers = headers or {}


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "status": status,
        "code": code,
        "message": message,
        "request_id": g.get("request_id", ""),
    }
    if details is not None:
        body["details"] = details
    response = jsonify(error=body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def handle_api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    # Keep protocol headers such as Allow (405) but never werkzeug's HTML content type.
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    code = "payload_too_large" if status == 413 else _snake(exc.name)
    return error_response(status, code, exc.description or exc.name, headers=headers)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    # Only location, message and type: echoing the input could reflect a password back.
    return [
        {"loc": [str(part) for part in err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def handle_validation_error(exc: ValidationError) -> Response:
    return error_response(
        422, "validation_error", "request validation failed", validation_details(exc)
    )


def handle_database_error(exc: SQLAlchemyError) -> Response:
    log.exception("database error")
    count_dependency_error("mysql")
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or _is_connect_error(exc)):
        return error_response(503, "database_unavailable", "the database is unavailable")
    return error_response(500, "internal_error", "internal server error")


def _is_connect_error(exc: DBAPIError) -> bool:
    return (
        isinstance(exc.orig, pymysql.err.OperationalError)
        and bool(exc.orig.args)
        and exc.orig.args[0] in _MYSQL_CONNECTION_ERRORS
    )


def handle_redis_error(_exc: RedisError) -> Response:
    log.exception("redis error")
    count_dependency_error("redis")
    return error_response(503, "cache_unavailable", "the cache service is unavailable")


def handle_unexpected(_exc: Exception) -> Response:
    log.exception("unhandled exception")
    return error_response(500, "internal_error", "internal server error")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(ValidationError, handle_validation_error)
    app.register_error_handler(SQLAlchemyError, handle_database_error)
    app.register_error_handler(RedisError, handle_redis_error)
    app.register_error_handler(Exception, handle_unexpected)
