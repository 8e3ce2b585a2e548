"""Unexpected failures still produce the one error shape and leak nothing."""

from __future__ import annotations

import json
import logging
import sys

import pymysql
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from redflask.utils.db import db
from redflask.utils.logging import JsonFormatter, RequestIdFilter
from tests.conftest import assert_error

SQL = "SELECT password_hash FROM sys_user WHERE id = 1"


def _raiser(exc: Exception):
    def view():
        raise exc

    return view


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (RuntimeError("secret internals"), 500, "internal_error"),
        (KeyError("password_hash"), 500, "internal_error"),
        (IntegrityError(SQL, {}, Exception("dup")), 500, "internal_error"),
        (
            OperationalError(SQL, {}, pymysql.err.OperationalError(2003, "Can't connect")),
            503,
            "database_unavailable",
        ),
        (
            OperationalError(SQL, {}, pymysql.err.OperationalError(1213, "Deadlock")),
            500,
            "internal_error",
        ),
        (RedisConnectionError("redis://:pw@cache:6379 refused"), 503, "cache_unavailable"),
    ],
)
def test_failures_map_to_the_error_shape(make_app, app_logs, exc, status, code) -> None:
    app = make_app()
    app.add_url_rule("/boom", "boom", _raiser(exc))
    response = app.test_client().get("/boom", headers={"X-Request-ID": "trace-me-0001"})
    error = assert_error(response, status, code)
    text = response.get_data(as_text=True)
    for leak in ("secret internals", "password_hash", "sys_user", "pw@cache", "Traceback"):
        assert leak not in text
    assert error["request_id"] == "trace-me-0001"
    # The details stay in the server log, tied to the request id.
    logged = [r for r in app_logs if r.name == "redflask.errors"]
    assert logged and logged[-1].exc_info is not None
    assert logged[-1].request_id == "trace-me-0001"


def test_json_log_lines_carry_the_request_id(app) -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("redflask.test", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    with app.test_request_context(headers={"X-Request-ID": "req-abcdef-123"}):
        app.preprocess_request()
        RequestIdFilter().filter(record)
    line = json.loads(formatter.format(record))
    assert line["message"] == "hello x"
    assert line["level"] == "INFO" and line["logger"] == "redflask.test"
    assert line["request_id"] == "req-abcdef-123"
    assert line["ts"].endswith("+00:00")


def test_json_log_lines_include_exceptions_outside_requests() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("redflask", logging.ERROR, __file__, 1, "oops", (), exc_info)
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert "request_id" not in line
    assert "ValueError: bad" in line["exc_info"]


def test_each_request_is_logged_as_one_structured_line(client, app_logs) -> None:
    client.get(
        "/healthz", headers={"X-Request-ID": "req-logged-0001", "X-Forwarded-For": "192.0.2.4"}
    )
    (record,) = [r for r in app_logs if r.name == "redflask.request"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-logged-0001"
    assert line["method"] == "GET" and line["path"] == "/healthz" and line["status"] == 200
    assert line["remote_addr"] == "192.0.2.4"
    assert line["duration_ms"] >= 0


def test_logged_database_errors_hide_bound_parameters(make_app, app_logs) -> None:
    app = make_app()

    def view():
        db.session.execute(
            text("SELECT * FROM no_such_table WHERE secret = :secret"), {"secret": "s3cr3t-Value"}
        )

    app.add_url_rule("/dberror", "dberror", view)
    assert_error(app.test_client().get("/dberror"), 500, "internal_error")
    (record,) = [r for r in app_logs if r.name == "redflask.errors"]
    line = JsonFormatter().format(record)
    assert "no_such_table" in line  # the statement stays, to debug with
    assert "s3cr3t-Value" not in line
    assert "hide_parameters" in line
