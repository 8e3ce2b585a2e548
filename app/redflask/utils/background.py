"""Fire-and-forget work off the request path, bounded so it can never pile up.

The seed started one thread per call. Here a fixed pool runs the work and a semaphore caps
work in flight (running plus queued); when full, new work is dropped and logged rather than
blocking the request. concurrent.futures is built on threading and queue, which gevent's
monkey-patching turns into greenlets, so the same code is safe under the gevent worker.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app

log = logging.getLogger("redflask.background")
_EXT = "redflask.background"


class BoundedExecutor:
    def __init__(self, max_workers: int, max_pending: int) -> None:
        self.max_workers = max_workers
        self.max_pending = max_pending
        self._slots = threading.BoundedSemaphore(max_workers + max_pending)
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        # Threads do not survive fork: a preloaded master's pool is rebuilt in each worker.
        with self._lock:
            if self._executor is None or self._pid != os.getpid():
                self._executor = ThreadPoolExecutor(
                    max_workers=self.max_workers, thread_name_prefix="redflask-bg"
                )
                self._slots = threading.BoundedSemaphore(self.max_workers + self.max_pending)
                self._pid = os.getpid()
            return self._executor

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any] | None:
        """Schedule fn; returns None (and logs) when the executor is saturated."""
        pool = self._pool()
        if not self._slots.acquire(blocking=False):
            log.warning("background queue full, dropping %s", getattr(fn, "__name__", fn))
            return None
        try:
            future = pool.submit(fn, *args, **kwargs)
        except RuntimeError:
            self._slots.release()
            log.warning("background executor shut down, dropping %s", fn)
            return None
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: Future[Any]) -> None:
        self._slots.release()
        exc = future.exception()
        if exc is not None:
            log.error("background task failed", exc_info=exc)

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=wait)
                self._executor = None


def init_background(app: Flask, max_workers: int, max_pending: int) -> None:
    app.extensions[_EXT] = BoundedExecutor(max_workers, max_pending)


def executor_for(app: Flask) -> BoundedExecutor:
    return app.extensions[_EXT]


def run_in_background(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any] | None:
    """Run fn(*args, **kwargs) later inside an app context of the current app."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def task() -> Any:
        with app.app_context():
            return fn(*args, **kwargs)

    task.__name__ = getattr(fn, "__name__", "task")
    return executor_for(app).submit(task)
