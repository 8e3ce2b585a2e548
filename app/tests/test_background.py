"""The bounded fire-and-forget executor and the tenacity retry policy."""

from __future__ import annotations

import logging
import threading

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import IntegrityError, OperationalError

from redflask.utils.background import BoundedExecutor, executor_for, run_in_background
from redflask.utils.retry import is_transient, transient_retry


def test_work_runs_off_the_calling_thread() -> None:
    executor = BoundedExecutor(max_workers=2, max_pending=2)
    seen: list[str] = []
    future = executor.submit(lambda: seen.append(threading.current_thread().name))
    assert future is not None
    future.result(timeout=5)
    executor.shutdown()
    assert seen and seen[0].startswith("redflask-bg")


def test_saturated_executor_drops_instead_of_blocking(app_logs) -> None:
    executor = BoundedExecutor(max_workers=1, max_pending=1)
    release = threading.Event()
    accepted = [executor.submit(release.wait, 5) for _ in range(2)]
    dropped = executor.submit(release.wait, 5)
    assert all(accepted) and dropped is None
    assert any("queue full" in r.getMessage() for r in app_logs)
    release.set()
    for future in accepted:
        assert future.result(timeout=5) is True
    # Capacity comes back once work finishes.
    again = executor.submit(lambda: "ran")
    assert again is not None and again.result(timeout=5) == "ran"
    executor.shutdown()


def test_failures_are_logged_not_raised(app_logs) -> None:
    executor = BoundedExecutor(max_workers=1, max_pending=1)

    def boom() -> None:
        raise ValueError("kaboom")

    future = executor.submit(boom)
    executor.shutdown(wait=True)
    assert future is not None and isinstance(future.exception(), ValueError)
    failed = [r for r in app_logs if r.getMessage() == "background task failed"]
    assert failed and failed[0].levelno == logging.ERROR and failed[0].exc_info


def test_submit_after_shutdown_is_dropped_on_a_fresh_pool() -> None:
    executor = BoundedExecutor(max_workers=1, max_pending=1)
    executor.shutdown()
    # A shut-down pool is replaced on next use (the same happens after a fork).
    future = executor.submit(lambda: 42)
    assert future is not None and future.result(timeout=5) == 42
    executor.shutdown()


def test_run_in_background_has_an_app_context(app) -> None:
    from flask import current_app

    with app.app_context():
        future = run_in_background(lambda: current_app.name)
    assert future is not None and future.result(timeout=5) == app.name
    executor_for(app).shutdown()


def _operational_error() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("server has gone away"))


def test_transient_errors_are_retried_until_success() -> None:
    calls = []

    @transient_retry(attempts=3, max_wait=0.01)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise _operational_error()
        return "done"

    assert flaky() == "done"
    assert len(calls) == 3


def test_retries_give_up_and_reraise() -> None:
    calls = []

    @transient_retry(attempts=2, max_wait=0.01)
    def down() -> None:
        calls.append(1)
        raise RedisConnectionError("connection refused")

    with pytest.raises(RedisConnectionError):
        down()
    assert len(calls) == 2


def test_permanent_errors_are_not_retried() -> None:
    calls = []

    @transient_retry(attempts=5, max_wait=0.01)
    def broken() -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("duplicate"))

    with pytest.raises(IntegrityError):
        broken()
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_operational_error(), True),
        (RedisConnectionError("x"), True),
        (IntegrityError("x", {}, Exception("dup")), False),
        (ValueError("x"), False),
    ],
)
def test_is_transient(exc, expected) -> None:
    assert is_transient(exc) is expected
