"""argon2id password hashing (argon2-cffi), off the event loop.

An argon2 hash takes a tenth of a second or more of CPU. Run on a gevent worker's loop it
would stall every other request of that worker for as long, so under gevent each hash
and verification runs in gevent's native thread pool (argon2-cffi releases the GIL while
it computes) and the calling greenlet waits cooperatively. A semaphore, one slot per
CPU by default (APP_PASSWORD_HASH_THREADS), bounds how many run at once per process so a
burst of logins queues instead of oversubscribing the cores. Without gevent (sync or
gthread workers, the tests, the CLI) the work runs in the calling thread, bounded by the
same kind of semaphore.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app

_EXT = "redflask.passwords"
T = TypeVar("T")


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def gevent_active() -> bool:
    """True in a process gevent has monkey-patched (gunicorn's gevent worker)."""
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("threading"))


class HashRunner:
    """Runs CPU-heavy calls off the event loop (under gevent), at most `size` at once."""

    def __init__(self, size: int, cooperative: Callable[[], bool] = gevent_active) -> None:
        self.size = size
        self._cooperative = cooperative
        self._pid = 0
        self._gevent_slots: Any = None
        self._thread_slots = threading.BoundedSemaphore(size)

    def _gevent_semaphore(self) -> Any:
        # A gevent semaphore belongs to the process's hub: make one per (forked) worker.
        if self._gevent_slots is None or self._pid != os.getpid():
            from gevent.lock import BoundedSemaphore

            self._gevent_slots = BoundedSemaphore(self.size)
            self._pid = os.getpid()
        return self._gevent_slots

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._cooperative():
            import gevent

            pool = gevent.get_hub().threadpool
            if pool.maxsize < self.size:
                pool.maxsize = self.size
            with self._gevent_semaphore():
                return pool.apply(fn, args)
        with self._thread_slots:
            return fn(*args)


def init_passwords(
    app: Flask,
    time_cost: int,
    memory_kib: int,
    parallelism: int = 4,
    threads: int = 0,
) -> None:
    hasher = PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )
    app.extensions[_EXT] = {
        "hasher": hasher,
        "runner": HashRunner(threads or cpu_count()),
        # Verified when the username is unknown, so a miss costs as much as a hit.
        "dummy": hasher.hash("redflask-timing-equaliser"),
    }


def _state() -> dict[str, Any]:
    return current_app.extensions[_EXT]


def runner() -> HashRunner:
    return _state()["runner"]


def _encode(password: str) -> bytes:
    # UTF-8, keeping a lone surrogate (valid JSON, invalid UTF-8) instead of failing on it.
    return password.encode("utf-8", "surrogatepass")


def hash_password(password: str) -> str:
    state = _state()
    return state["runner"].run(state["hasher"].hash, _encode(password))


def _verify(hasher: PasswordHasher, password_hash: str, password: bytes) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_password(password_hash: str | None, password: str) -> bool:
    state = _state()
    if password_hash is None:
        # Same work as a real check, so response time does not reveal unknown users.
        state["runner"].run(_verify, state["hasher"], state["dummy"], _encode(password))
        return False
    return state["runner"].run(_verify, state["hasher"], password_hash, _encode(password))


def needs_rehash(password_hash: str) -> bool:
    return _state()["hasher"].check_needs_rehash(password_hash)
