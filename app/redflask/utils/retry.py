"""Retry policies (tenacity) for work that may meet a transient outage.

Only errors that a retry can fix are retried: a dropped connection or a deadlock, not a
constraint violation or a bug.
"""

from __future__ import annotations

import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError
from tenacity import (
    before_sleep_log,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

log = logging.getLogger("redflask.retry")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError, OperationalError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def transient_retry(attempts: int = 3, max_wait: float = 2.0):
    """Decorator: retry on transient errors with exponential backoff, then re-raise."""
    return retry(
        retry=retry_if_exception(is_transient),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.1, max=max_wait),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
