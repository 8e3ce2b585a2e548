#!/usr/bin/env python3
"""Constant-rate (open-loop) HTTP load generator for redflask behind nginx.

Used to show that a rolling update drops no request: request ``i`` is due at
``t0 + i / rate`` whatever the server does, a pool of worker threads sends the
requests over persistent HTTP/1.1 keep-alive connections, and every request that
does not get a 2xx answer is reported as a failure.

Standard library only (Python 3.11).  Exit status: 0 when no request failed,
1 when at least one did (or a scheduled request could not be sent before the
drain time ran out, reported as ``unsent``), 2 for usage errors or when the
admin login fails.

Only one kind of error is retried: a request sent on a reused keep-alive connection
that the server had already closed while it sat idle (nothing came back: the send
failed with BrokenPipe/ConnectionReset, or the status line never came,
RemoteDisconnected).  nginx closes idle client connections whenever it reloads, so
such a request never reached it; it is sent once more on a fresh connection, as
browsers do for a reused connection that fails before any response byte, whatever
the method, and counted in ``stale_keepalive_retries``.  A request that fails on a
fresh connection, or after a byte of the response arrived, or on its retry, is a
failure.

All offsets in the result (failures, releases, release_timeline, series) are seconds since
t0, the instant request 0 was due; ``started_epoch`` is t0 as wall-clock time, so
a caller can line the run up with its own events.  Release offsets are taken when
the ``GET /`` answer arrived.

``series`` has one row per second of the run (``--series-csv`` writes the same rows as
CSV): requests sent in that second, the answers that arrived in it by status class (2xx,
3xx, 4xx, 5xx, and ``error`` for no answer), the failures among them, the p50/p95/p99
latency of its 2xx answers, and the share of its ``GET /`` answers that came from each
release id.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import math
import os
import queue
import secrets
import signal
import string
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce

USER_AGENT = "redflask-loadgen/1"
MAX_FAILURES_LISTED = 200
MAX_RETRIES_LISTED = 50
LATE_THRESHOLD_S = 0.1

# kind -> (method, path); bodies are built per request.
KINDS: dict[str, tuple[str, str]] = {
    "read": ("GET", "/"),
    "ready": ("GET", "/readyz"),
    "me": ("GET", "/api/v1/auth/me"),
    "list": ("GET", "/api/v1/users"),
    "write": ("POST", "/api/v1/users"),
    # Uploads overwrite one of UPLOAD_SLOTS names: a load run, however long, leaves at most
    # that many files (the app's per-user quota counts the admin's files too).
    "upload": ("POST", "/api/v1/files?overwrite=true"),
}
UPLOAD_SLOTS = 32
DEFAULT_MIX = "read=70,me=10,write=10,upload=10"

# Errors that show a reused idle keep-alive connection had been closed by the server.
STALE_ERRORS = (
    http.client.RemoteDisconnected,
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
)


class UsageError(Exception):
    """Bad command line or environment: exit 2."""


class LoginError(Exception):
    """The admin login failed: exit 2."""


# --------------------------------------------------------------------------- helpers


def parse_mix(text: str) -> dict[str, int]:
    """Parse ``read=70,me=10`` into ``{"read": 70, "me": 10}`` (zero weights dropped)."""
    mix: dict[str, int] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, weight = item.partition("=")
        name = name.strip()
        if not sep or name not in KINDS:
            raise UsageError(
                f"bad --mix entry {item!r}: expected KIND=WEIGHT with KIND one of "
                + ", ".join(KINDS)
            )
        try:
            value = int(weight)
        except ValueError:
            raise UsageError(f"bad weight in --mix entry {item!r}") from None
        if value < 0:
            raise UsageError(f"negative weight in --mix entry {item!r}")
        if name in mix:
            raise UsageError(f"kind {name!r} given twice in --mix")
        if value:
            mix[name] = value
    if not mix:
        raise UsageError("--mix has no kind with a positive weight")
    return mix


def mix_cycle(mix: dict[str, int]) -> list[str]:
    """One cycle of smooth weighted round robin over the mix.

    Weights are divided by their gcd, so the cycle is as short as possible; within
    every complete cycle each kind appears exactly ``weight`` times, and the kinds
    are interleaved as evenly as possible, so any run of N requests has counts
    within a request or so of ``N * weight / total``.
    """
    divisor = reduce(math.gcd, mix.values())
    weights = {kind: weight // divisor for kind, weight in mix.items()}
    total = sum(weights.values())
    current = dict.fromkeys(weights, 0)
    cycle: list[str] = []
    for _ in range(total):
        for kind, weight in weights.items():
            current[kind] += weight
        chosen = max(current, key=lambda k: current[k])  # first one wins ties
        current[chosen] -= total
        cycle.append(chosen)
    return cycle


def expected_counts(mix: dict[str, int], n: int) -> dict[str, int]:
    """Counts of each kind among the first ``n`` requests."""
    cycle = mix_cycle(mix)
    full, rest = divmod(n, len(cycle))
    counts = dict.fromkeys(mix, 0)
    for kind in cycle:
        counts[kind] += full
    for kind in cycle[:rest]:
        counts[kind] += 1
    return counts


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def utc_iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def random_password(length: int = 20) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def upload_name(n: int) -> str:
    """The file name of the n-th job's upload (one of UPLOAD_SLOTS)."""
    return f"load-{n % UPLOAD_SLOTS}.txt"


def upload_content(run_id: str, slot: int) -> bytes:
    """Deterministic file content, so a receiver can check it against the file name."""
    return f"redflask loadgen upload run={run_id} slot={slot}\n".encode() * 4


def multipart_body(field_name: str, filename: str, content: bytes, content_type: str):
    """Encode one file as multipart/form-data; returns (body, content-type header)."""
    boundary = "loadgen-" + secrets.token_hex(16)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n"
        "\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + content + tail, f"multipart/form-data; boundary={boundary}"


def write_json_atomic(path: str, payload: dict) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, sort_keys=False)
        fh.write("\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- target


class Target:
    """Where to send requests: scheme, host, port and an optional path prefix."""

    def __init__(self, url: str, timeout: float):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"--url must be http://HOST[:PORT][/PREFIX] or https://..., not {url!r}"
            )
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout

    def path(self, path: str) -> str:
        return (self.prefix + path) if self.prefix else path

    def connect(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.connect()
        return conn


def login(target: Target, username: str, password: str) -> tuple[str, float]:
    """Log in on a fresh connection; returns (access token, expires_in seconds)."""
    body = json.dumps({"username": username, "password": password}).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    try:
        conn = target.connect()
        try:
            conn.request("POST", target.path("/api/v1/auth/login"), body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as exc:
        raise LoginError(
            f"cannot reach {target.host}:{target.port}: {type(exc).__name__}: {exc}"
        ) from None
    rid = resp.getheader("X-Request-ID") or "-"
    if resp.status != 200:
        snippet = data[:200].decode("utf-8", "replace")
        raise LoginError(
            f"login as {username!r} got HTTP {resp.status} (X-Request-ID {rid}): {snippet}"
        )
    try:
        payload = json.loads(data)
        token = payload["access_token"]
        expires_in = float(payload.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError):
        raise LoginError(f"login answer has no access_token (X-Request-ID {rid})") from None
    if not isinstance(token, str) or not token:
        raise LoginError(f"login answer has an empty access_token (X-Request-ID {rid})")
    return token, expires_in


class TokenKeeper:
    """Holds the admin token and renews it (at half its lifetime) in a background thread."""

    def __init__(self, target: Target, username: str, password: str, token: str, expires_in: float):
        self._target = target
        self._username = username
        self._password = password
        self._lock = threading.Lock()
        self._token = token
        self._expires_in = expires_in
        self._obtained = time.monotonic()
        self.refreshes = 0
        self.refresh_errors: list[str] = []

    @property
    def token(self) -> str:
        with self._lock:
            return self._token

    def run(self, stop: threading.Event) -> None:
        while True:
            with self._lock:
                due = self._obtained + max(0.5, self._expires_in * 0.5)
            if stop.wait(max(0.0, due - time.monotonic())):
                return
            for _attempt in range(3):
                try:
                    token, expires_in = login(self._target, self._username, self._password)
                except LoginError as exc:
                    if len(self.refresh_errors) < 20:
                        self.refresh_errors.append(str(exc))
                    if stop.wait(1.0):
                        return
                    continue
                with self._lock:
                    self._token, self._expires_in = token, expires_in
                    self._obtained = time.monotonic()
                self.refreshes += 1
                break
            else:
                with self._lock:  # try again later rather than spin
                    self._obtained = time.monotonic()


# --------------------------------------------------------------------------- results


@dataclass
class Job:
    index: int
    kind: str
    due: float  # monotonic time the request is scheduled for


STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")


def status_class(status: int | None) -> str:
    return f"{status // 100}xx" if status is not None and 200 <= status < 600 else "error"


@dataclass
class Second:
    """What happened in one second of the run (requests by send time, answers by arrival)."""

    sent: int = 0
    failed: int = 0
    answered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_CLASSES, 0))
    latencies: list[float] = field(default_factory=list)
    releases: dict[str, int] = field(default_factory=dict)


@dataclass
class KindStats:
    sent: int = 0
    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)


class Results:
    """Thread-safe collector; offsets are seconds since t0 (the first scheduled request)."""

    def __init__(self, kinds: list[str]):
        self.lock = threading.Lock()
        self.t0 = 0.0
        self.closed = False
        self.kinds = {kind: KindStats() for kind in kinds}
        self.by_status: dict[str, int] = {}
        self.sent = self.ok = self.failed = self.unsent = 0
        self.failures: list[dict] = []
        self.max_lateness = 0.0
        self.lateness: list[float] = []
        self.stale_retries = 0
        self.stale_retry_samples: list[dict] = []
        self.releases: dict[str, dict] = {}
        self.timeline: list[list] = []
        self.in_flight: dict[int, tuple[Job, str, str, float]] = {}
        self.seconds: dict[int, Second] = {}

    def second(self, mono: float) -> Second:
        """The bucket of the second of the run ``mono`` falls in (the caller holds the lock)."""
        index = max(0, int(mono - self.t0))
        bucket = self.seconds.get(index)
        if bucket is None:
            bucket = self.seconds[index] = Second()
        return bucket

    def series(self) -> list[dict]:
        """One row per second from t0 to the last second anything happened in."""
        releases = list(self.releases)  # in the order they were first seen
        rows = []
        for index in range(max(self.seconds, default=-1) + 1):
            bucket = self.seconds.get(index, Second())
            latencies = sorted(bucket.latencies)
            tagged = sum(bucket.releases.values())
            rows.append(
                {
                    "t": index,
                    "sent": bucket.sent,
                    **{f"answered_{k}": v for k, v in bucket.answered.items()},
                    "failed": bucket.failed,
                    **{
                        f"p{pct}_s": None if not latencies else round(percentile(latencies, pct), 4)
                        for pct in (50, 95, 99)
                    },
                    "release_share": {
                        rid: round(bucket.releases.get(rid, 0) / tagged, 4) for rid in releases
                    }
                    if tagged
                    else {},
                }
            )
        return rows

    def offset(self, mono: float) -> float:
        return round(mono - self.t0, 4)

    def started(self, worker_id: int, job: Job, method: str, path: str, now: float) -> None:
        with self.lock:
            if self.closed:
                return
            self.in_flight[worker_id] = (job, method, path, now)
            lateness = max(0.0, now - job.due)
            self.lateness.append(lateness)
            self.max_lateness = max(self.max_lateness, lateness)
            self.sent += 1
            self.kinds[job.kind].sent += 1
            self.second(now).sent += 1

    def stale_retry(self, job: Job, now: float, idle: float, exc: BaseException) -> None:
        with self.lock:
            if self.closed:
                return
            self.stale_retries += 1
            if len(self.stale_retry_samples) < MAX_RETRIES_LISTED:
                self.stale_retry_samples.append(
                    {
                        "t": self.offset(now),
                        "kind": job.kind,
                        "idle_s": round(idle, 3),
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                )

    def finished(
        self,
        worker_id: int,
        job: Job,
        method: str,
        path: str,
        start: float,
        end: float,
        status: int | None,
        error: str | None,
        request_id: str | None,
        release: str | None,
    ) -> None:
        with self.lock:
            if self.closed:
                return
            self.in_flight.pop(worker_id, None)
            stats = self.kinds[job.kind]
            key = str(status) if status is not None else f"error:{error.split(':', 1)[0]}"
            self.by_status[key] = self.by_status.get(key, 0) + 1
            bucket = self.second(end)
            bucket.answered[status_class(status)] += 1
            if status is not None and 200 <= status < 300:
                self.ok += 1
                stats.ok += 1
                stats.latencies.append(end - start)
                bucket.latencies.append(end - start)
            else:
                self._fail(job, method, path, start, end, status, error, request_id)
            if release is not None:
                bucket.releases[release] = bucket.releases.get(release, 0) + 1
                at = self.offset(end)
                seen = self.releases.get(release)
                if seen is None:
                    self.releases[release] = {"count": 1, "first_seen": at, "last_seen": at}
                else:
                    seen["count"] += 1
                    seen["first_seen"] = min(seen["first_seen"], at)
                    seen["last_seen"] = max(seen["last_seen"], at)
                if not self.timeline or self.timeline[-1][1] != release:
                    self.timeline.append([at, release])

    def _fail(self, job, method, path, start, end, status, error, request_id) -> None:
        self.failed += 1
        self.kinds[job.kind].failed += 1
        self.second(end).failed += 1
        if len(self.failures) < MAX_FAILURES_LISTED:
            self.failures.append(
                {
                    "t": self.offset(start),
                    "elapsed_s": round(end - start, 4),
                    "index": job.index,
                    "kind": job.kind,
                    "method": method,
                    "path": path,
                    "status": status,
                    "error": error,
                    "request_id": request_id,
                }
            )

    def add_unsent(self, count: int = 1) -> None:
        with self.lock:
            self.unsent += count

    def close(self, now: float) -> int:
        """Stop recording; requests still in flight count as failures. Returns their number."""
        with self.lock:
            self.closed = True
            stuck = list(self.in_flight.values())
            self.in_flight.clear()
            for job, method, path, start in stuck:
                key = "error:StillInFlight"
                self.by_status[key] = self.by_status.get(key, 0) + 1
                self.second(now).answered["error"] += 1
                self._fail(
                    job, method, path, start, now, None, "StillInFlight: no answer at exit", None
                )
            return len(stuck)


# --------------------------------------------------------------------------- workers


class AttemptError(Exception):
    def __init__(self, exc: BaseException, phase: str, reused: bool, idle: float):
        super().__init__(str(exc))
        self.exc = exc
        self.phase = phase
        self.reused = reused
        self.idle = idle
        self.retried = False


class Worker(threading.Thread):
    """Sends jobs from the queue over one persistent keep-alive connection."""

    def __init__(self, worker_id: int, gen: LoadGen):
        super().__init__(name=f"loadgen-worker-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.gen = gen
        self.conn: http.client.HTTPConnection | None = None
        self.reused = False  # the connection already carried a complete exchange
        self.idle_since = 0.0

    def run(self) -> None:
        gen = self.gen
        while True:
            job = gen.jobs.get()
            if job is None:
                break
            if gen.abandon.is_set():
                gen.results.add_unsent()
                continue
            try:
                self.handle(job)
            except Exception as exc:  # a bug here must not silently lose a request
                now = time.monotonic()
                method, path = KINDS[job.kind]
                gen.results.finished(
                    self.worker_id, job, method, path, now, now, None,
                    f"LoadgenBug: {type(exc).__name__}: {exc}", None, None,
                )  # fmt: skip
        self.drop()

    def drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None
        self.reused = False

    def exchange(self, method: str, path: str, body: bytes | None, headers: dict[str, str]):
        reused = self.reused and self.conn is not None
        idle = time.monotonic() - self.idle_since if reused else 0.0
        phase = "connect"
        try:
            if self.conn is None:
                self.conn = self.gen.target.connect()
                self.reused = False
            phase = "send"
            self.conn.request(method, path, body=body, headers=headers)
            self.gen.request_went_out()
            phase = "status"
            resp = self.conn.getresponse()
            phase = "body"
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.drop()
            raise AttemptError(exc, phase, reused, idle) from exc
        if resp.will_close:
            self.drop()
        else:
            self.reused = True
            self.idle_since = time.monotonic()
        return resp, data

    def build(self, job: Job) -> tuple[str, str, bytes | None, dict[str, str]]:
        gen = self.gen
        method, path = KINDS[job.kind]
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        body: bytes | None = None
        if job.kind in ("me", "list", "write", "upload"):
            headers["Authorization"] = f"Bearer {gen.tokens.token}"
        if job.kind == "write":
            body = json.dumps(
                {
                    "username": f"load_{gen.run_id}_{job.index}",
                    "password": random_password(20),
                    "nickname": "load",
                    "role": "user",
                }
            ).encode()
            headers["Content-Type"] = "application/json"
        elif job.kind == "upload":
            body, ctype = multipart_body(
                "file",
                upload_name(job.index),
                upload_content(gen.run_id, job.index % UPLOAD_SLOTS),
                "text/plain",
            )
            headers["Content-Type"] = ctype
        return method, gen.target.path(path), body, headers

    def handle(self, job: Job) -> None:
        gen = self.gen
        method, path, body, headers = self.build(job)
        start = time.monotonic()
        gen.results.started(self.worker_id, job, method, path, start)
        status = request_id = release = error = None
        try:
            try:
                resp, data = self.exchange(method, path, body, headers)
            except AttemptError as first:
                stale = (
                    first.reused
                    and first.phase in ("send", "status")
                    and isinstance(first.exc, STALE_ERRORS)
                )
                if not stale:
                    raise
                gen.results.stale_retry(job, time.monotonic(), first.idle, first.exc)
                try:
                    resp, data = self.exchange(method, path, body, headers)
                except AttemptError as second:
                    second.retried = True
                    raise second from None
        except AttemptError as failed:
            retried = " (after a stale keep-alive retry)" if failed.retried else ""
            error = f"{type(failed.exc).__name__}: {failed.exc}{retried} [{failed.phase}]"
        else:
            status = resp.status
            request_id = resp.getheader("X-Request-ID")
            if job.kind == "read" and 200 <= status < 300:
                release = extract_release(data)
        gen.results.finished(
            self.worker_id, job, method, path, start, time.monotonic(),
            status, error, request_id, release,
        )  # fmt: skip


def extract_release(data: bytes) -> str:
    try:
        payload = json.loads(data)
    except ValueError:
        return "<not-json>"
    if isinstance(payload, dict) and payload.get("release_id") is not None:
        return str(payload["release_id"])
    return "<missing>"


# --------------------------------------------------------------------------- generator


class LoadGen:
    def __init__(self, args: argparse.Namespace, target: Target, tokens: TokenKeeper):
        self.args = args
        self.target = target
        self.tokens = tokens
        self.run_id = args.run_id or secrets.token_hex(4)
        self.mix = args.mix
        self.cycle = mix_cycle(self.mix)
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.stop = threading.Event()  # stop scheduling
        self.abandon = threading.Event()  # drain time is over: do not start queued jobs
        self.scheduling_done = threading.Event()
        self.results = Results(list(self.mix))
        self.scheduled = 0
        self.started_epoch = time.time()
        self._went_out = threading.Event()
        self._ready_lock = threading.Lock()

    def request_went_out(self) -> None:
        if self._went_out.is_set():
            return
        with self._ready_lock:
            if self._went_out.is_set():
                return
            self._went_out.set()
            if not self.args.ready_file:
                return
            try:
                write_json_atomic(
                    self.args.ready_file,
                    {
                        "pid": os.getpid(),
                        "run_id": self.run_id,
                        "url": self.args.url,
                        "rate": self.args.rate,
                        "started_epoch": self.started_epoch,
                    },
                )
            except OSError as exc:  # must not count as a failed request
                print(f"loadgen: cannot write --ready-file: {exc}", file=sys.stderr, flush=True)

    def schedule(self, t0: float, total: int | None) -> None:
        rate = self.args.rate
        cycle = self.cycle
        i = 0
        while total is None or i < total:
            due = t0 + i / rate
            delay = due - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            if self.stop.is_set():
                break
            self.jobs.put(Job(i, cycle[i % len(cycle)], due))
            i += 1
        self.scheduled = i
        self.scheduling_done.set()

    def run(self) -> dict:
        args = self.args
        workers = [Worker(n, self) for n in range(args.workers)]
        for worker in workers:
            worker.start()
        refresher_stop = threading.Event()
        refresher = threading.Thread(
            target=self.tokens.run, args=(refresher_stop,), name="loadgen-token", daemon=True
        )
        refresher.start()

        total = math.ceil(args.rate * args.duration - 1e-9) if args.duration else None
        self.started_epoch = time.time()
        t0 = time.monotonic()
        self.results.t0 = t0
        scheduler = threading.Thread(
            target=self.schedule, args=(t0, total), name="loadgen-scheduler", daemon=True
        )
        scheduler.start()

        stop_reason = "duration"
        while not self.scheduling_done.is_set():
            if self.stop.wait(0.1):
                stop_reason = "signal"
                break
            if args.stop_file and os.path.exists(args.stop_file):
                stop_reason = "stop-file"
                break
        self.stop.set()
        scheduler.join()
        stop_mono = time.monotonic()
        stop_epoch = time.time()

        # Drain: queued (late) and in-flight requests get up to --timeout to finish.
        for _ in workers:
            self.jobs.put(None)
        deadline = stop_mono + args.timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        self.abandon.set()
        leftover = 0
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                leftover += 1
        self.results.add_unsent(leftover)
        end_mono = time.monotonic()
        stuck = self.results.close(end_mono)
        # A renewal in progress finishes (bounded by the socket timeout) so the
        # reported count matches the logins the server saw.
        refresher_stop.set()
        refresher.join(args.timeout)
        return self.report(t0, stop_mono, stop_epoch, end_mono, stop_reason, stuck)

    def report(self, t0, stop_mono, stop_epoch, end_mono, stop_reason, stuck) -> dict:
        res = self.results
        args = self.args
        duration = stop_mono - t0
        latency: dict[str, dict] = {}
        everything: list[float] = []
        for kind, stats in res.kinds.items():
            values = sorted(stats.latencies)
            everything.extend(values)
            latency[kind] = summarize(values)
        latency["all"] = summarize(sorted(everything))
        lateness = sorted(res.lateness)
        return {
            "url": args.url,
            "run_id": self.run_id,
            "started": utc_iso(self.started_epoch),
            "ended": utc_iso(stop_epoch + (end_mono - stop_mono)),
            "started_epoch": round(self.started_epoch, 3),
            "stopped_epoch": round(stop_epoch, 3),
            "stop_reason": stop_reason,
            "duration_s": round(duration, 3),
            "drain_s": round(end_mono - stop_mono, 3),
            "offered_rate": args.rate,
            "achieved_rate": round(res.sent / duration, 2) if duration > 0 else None,
            "workers": args.workers,
            "timeout_s": args.timeout,
            "mix": self.mix,
            "scheduled": self.scheduled,
            "sent": res.sent,
            "ok": res.ok,
            "failed": res.failed,
            "unsent": res.unsent,
            "in_flight_at_exit": stuck,
            "by_kind": {
                kind: {"sent": s.sent, "ok": s.ok, "failed": s.failed}
                for kind, s in res.kinds.items()
            },
            "by_status": dict(sorted(res.by_status.items())),
            "failures": res.failures,
            "failures_not_listed": max(0, res.failed - len(res.failures)),
            "latency_s": latency,
            "max_lateness_s": round(res.max_lateness, 4),
            "lateness_p99_s": round(percentile(lateness, 99) or 0.0, 4),
            "late_over_100ms": sum(1 for v in lateness if v > LATE_THRESHOLD_S),
            "stale_keepalive_retries": res.stale_retries,
            "stale_keepalive_retry_samples": res.stale_retry_samples,
            "token_refreshes": self.tokens.refreshes,
            "token_refresh_errors": self.tokens.refresh_errors,
            "releases": res.releases,
            "release_timeline": res.timeline,
            "series": res.series(),
        }


def write_series_csv(path: str, rows: list[dict]) -> None:
    """The per-second rows as CSV, one ``share_<release>`` column per release id."""
    releases = sorted({rid for row in rows for rid in row["release_share"]})
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        plain = [k for k in rows[0] if k != "release_share"] if rows else ["t"]
        out.writerow(plain + [f"share_{rid}" for rid in releases])
        for row in rows:
            shares = [row["release_share"].get(rid, "") for rid in releases]
            out.writerow(["" if row[k] is None else row[k] for k in plain] + shares)
    os.replace(tmp, path)


def summarize(values: list[float]) -> dict:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 4)

    return {
        "count": len(values),
        "p50": r(percentile(values, 50)),
        "p95": r(percentile(values, 95)),
        "p99": r(percentile(values, 99)),
        "max": r(values[-1] if values else None),
    }


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Constant-rate (open-loop) load generator for redflask behind nginx.",
        epilog="Runs for --duration seconds, or until SIGTERM/SIGINT or until --stop-file exists. "
        "Exit status: 0 no failed request, 1 some failed, 2 usage or login error.",
    )
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (20)")
    parser.add_argument("--duration", type=float, help="seconds to run (default: until stopped)")
    parser.add_argument("--stop-file", help="stop once this file exists")
    parser.add_argument("--admin-user", default="admin")
    parser.add_argument(
        "--admin-password-file",
        help="file holding the admin password (else env LOADGEN_ADMIN_PASSWORD)",
    )
    parser.add_argument("--mix", default=DEFAULT_MIX, help=f"KIND=WEIGHT,... ({DEFAULT_MIX}); "
                        "kinds: " + ", ".join(KINDS))  # fmt: skip
    parser.add_argument("--workers", type=int, default=32, help="worker threads/connections (32)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout (10 s)")
    parser.add_argument("--output", help="write the JSON result here")
    parser.add_argument("--series-csv", help="write the per-second rows here as CSV")
    parser.add_argument("--ready-file", help="written once login worked and load is flowing")
    parser.add_argument("--run-id", help="tag for created users/files (default: random hex)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.rate <= 0:
            raise UsageError("--rate must be positive")
        if args.duration is not None and args.duration <= 0:
            raise UsageError("--duration must be positive")
        if args.workers < 1:
            raise UsageError("--workers must be at least 1")
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        if args.run_id is not None and not (
            args.run_id.isascii() and args.run_id.isalnum() and len(args.run_id) <= 16
        ):
            raise UsageError("--run-id must be 1-16 letters or digits")
        if args.stop_file and os.path.exists(args.stop_file):
            raise UsageError(f"--stop-file {args.stop_file} exists already; remove it first")
        args.mix = parse_mix(args.mix)
        target = Target(args.url, args.timeout)
        if args.admin_password_file:
            try:
                with open(args.admin_password_file, encoding="utf-8") as fh:
                    password = fh.read().rstrip("\r\n")
            except OSError as exc:
                raise UsageError(f"cannot read --admin-password-file: {exc}") from None
        else:
            password = os.environ.get("LOADGEN_ADMIN_PASSWORD", "")
        if not password:
            raise UsageError(
                "no admin password: use --admin-password-file or LOADGEN_ADMIN_PASSWORD"
            )
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"loadgen: error: {exc}", file=sys.stderr)
        return 2

    try:
        token, expires_in = login(target, args.admin_user, password)
    except LoginError as exc:
        print(f"loadgen: admin login failed: {exc}", file=sys.stderr)
        return 2

    gen = LoadGen(args, target, TokenKeeper(target, args.admin_user, password, token, expires_in))

    def on_signal(signum, _frame):
        gen.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    result = gen.run()
    if args.output:
        write_json_atomic(args.output, result)
    if args.series_csv:
        write_series_csv(args.series_csv, result["series"])
    releases = ",".join(f"{rid}({info['count']})" for rid, info in result["releases"].items())
    print(
        f"loadgen: sent={result['sent']} ok={result['ok']} failed={result['failed']} "
        f"unsent={result['unsent']} rate={args.rate:g}/s duration={result['duration_s']}s "
        f"p99={result['latency_s']['all']['p99']}s max_lateness={result['max_lateness_s']}s "
        f"stale_retries={result['stale_keepalive_retries']} releases={releases or '-'} "
        f"stop={result['stop_reason']}",
        flush=True,
    )
    if result["unsent"]:
        print(
            f"loadgen: {result['unsent']} scheduled requests were never sent "
            "(backlog left when the drain time ran out)",
            file=sys.stderr,
        )
    return 0 if result["failed"] == 0 and result["unsent"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
