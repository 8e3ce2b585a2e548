"""Password hashing: argon2id parameters, and the work kept off the gevent loop."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gevent
import pytest

from redflask.utils import passwords
from redflask.utils.passwords import HashRunner, hash_password, verify_password

APP_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def hub():
    """gevent's hub of this thread, destroyed afterwards (the suite is not patched)."""
    yield gevent.get_hub()
    gevent.get_hub().destroy(destroy_loop=True)


def test_default_parameters_are_argon2id_above_owasps_minimum(make_app) -> None:
    # The defaults, not the suite's cheap ones.
    app = make_app(argon2_time_cost=3, argon2_memory_kib=65536, argon2_parallelism=4)
    with app.app_context():
        stored = hash_password("correct horse battery staple")
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert verify_password(stored, "correct horse battery staple")
        assert not verify_password(stored, "wrong")
        assert not verify_password("not-a-hash", "x")
        # One slot per CPU this process may use.
        assert passwords.runner().size == len(os.sched_getaffinity(0))


def test_lone_surrogates_are_hashed_not_a_server_error(app) -> None:
    with app.app_context():
        stored = hash_password("pass\ud800word")
        assert verify_password(stored, "pass\ud800word")
        assert not verify_password(stored, "pass\ud801word")
        assert not verify_password(None, "\udfff")


def _stall(app, cooperative: bool) -> tuple[list[float], float]:
    """Three hashes on this greenlet while another ticks every 5 ms: the gaps between its
    ticks while the hashes ran, and how long the hashes took."""
    gaps: list[float] = []
    done = threading.Event()

    def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            gevent.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    with app.app_context():
        passwords.runner()._cooperative = lambda: cooperative
        greenlet = gevent.spawn(ticker)
        gevent.sleep(0.02)
        del gaps[:]  # only the gaps while hashing
        started = time.perf_counter()
        for _ in range(3):
            hash_password("x" * 20)
        took = time.perf_counter() - started
        done.set()
        greenlet.join()
    return gaps, took


def test_hashing_under_gevent_leaves_the_loop_running(make_app, hub) -> None:
    # Costly enough (~0.15 s a hash here) that a stalled loop is unmistakable.
    app = make_app(argon2_time_cost=3, argon2_memory_kib=65536, argon2_parallelism=1)
    on_loop, on_loop_took = _stall(app, cooperative=False)
    off_loop, off_loop_took = _stall(app, cooperative=True)
    # The control: hashing on the loop freezes every other greenlet for a whole hash, so
    # the other greenlet ticks about once per hash.
    assert max(on_loop) > on_loop_took / 3 * 0.8, (max(on_loop), on_loop_took)
    assert len(on_loop) <= 6, on_loop
    # In the thread pool the other greenlet keeps ticking: many ticks, most of them short.
    # (Not the longest gap: on a machine busy with other work one late wake-up of this
    # process can last most of a hash; 2026-12-04, 0.19 s against 0.24 s a hash.)
    assert len(off_loop) >= 10, (len(off_loop), off_loop_took)
    assert statistics.median(off_loop) < off_loop_took / 3 / 6, (off_loop, off_loop_took)


class _Overlap:
    """work(n) takes 0.05 s and returns n; records the most calls running at once and the
    threads they ran on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self.peak = 0
        self.threads: set[int] = set()

    def work(self, n: int) -> int:
        self.threads.add(threading.get_ident())
        with self._lock:
            self._active += 1
            self.peak = max(self.peak, self._active)
        time.sleep(0.05)
        with self._lock:
            self._active -= 1
        return n


def test_the_semaphore_bounds_hashes_in_threads() -> None:
    runner = HashRunner(2, cooperative=lambda: False)
    overlap = _Overlap()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda n: runner.run(overlap.work, n), range(6)))
    assert results == list(range(6))
    assert overlap.peak == 2


def test_the_semaphore_bounds_hashes_in_the_gevent_pool(hub) -> None:
    runner = HashRunner(2, cooperative=lambda: True)
    overlap = _Overlap()

    greenlets = [gevent.spawn(runner.run, overlap.work, n) for n in range(6)]
    gevent.joinall(greenlets, timeout=10, raise_error=True)
    assert [g.value for g in greenlets] == list(range(6))
    assert overlap.peak == 2  # two at once: in parallel, and no more
    assert threading.get_ident() not in overlap.threads  # never on the loop's thread


def test_exceptions_come_back_from_the_pool(hub) -> None:
    runner = HashRunner(1, cooperative=lambda: True)

    def boom() -> None:
        raise ValueError("from the pool")

    with pytest.raises(ValueError, match="from the pool"):
        runner.run(boom)


def test_gevent_is_detected_only_when_patched() -> None:
    assert passwords.gevent_active() is False
    script = (
        "from gevent import monkey; monkey.patch_all()\n"
        "from redflask.utils.passwords import gevent_active\n"
        "print(gevent_active())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "True"
