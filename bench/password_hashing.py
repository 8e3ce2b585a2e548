"""Benchmark (not a test): does password hashing stall a gevent worker's other requests?

One gunicorn gevent worker on the controller, against the local MariaDB and Redis. While
16 clients send password changes with a wrong current password (each one an argon2
verification), one client sends GET / every 50 ms and records how long each took. The
variants, alternated round by round in one run:

- before: the app as of BENCH_BEFORE_REF (hashing on the worker's event loop; the
  password change has no throttle);
- after: the working tree's app with its defaults (hashing in gevent's thread pool behind
  a semaphore; the current-password check throttled like a login);
- after-unthrottled: the same with the throttle out of the way (APP_LOGIN_FREE_FAILURES
  and APP_LOGIN_RATE_LIMIT_PER_IP at 100000), so every attempt is hashed: the thread
  pool's effect alone.

Usage: bench/password_hashing.sh (it prepares the virtualenv and the source trees).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pymysql

ATTACKERS = 16
PROBE_INTERVAL = 0.05
ADMIN = "benchadmin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, body=None, token=None, timeout=30.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, json.loads(data) if data else None
    finally:
        conn.close()


class Server:
    """One gunicorn gevent worker serving the app from `source` with `env`."""

    def __init__(self, venv: Path, source: Path, env: dict[str, str], log: Path) -> None:
        self.venv, self.source, self.env, self.log = venv, source, env, log
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def run(self, *args: str) -> None:
        with self.log.open("a") as out:
            # The venv's own flask with fixed arguments.
            subprocess.run(  # noqa: S603
                args, cwd=self.source, env=self.env, stdout=out, stderr=out, check=True
            )

    def start(self) -> None:
        flask = str(self.venv / "bin" / "flask")
        self.run(flask, "--app", "redflask", "db", "upgrade")
        self.run(flask, "--app", "redflask", "create-admin", "--username", ADMIN)
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - the venv's gunicorn, fixed arguments
                [
                    str(self.venv / "bin" / "gunicorn"),
                    "-k",
                    "gevent",
                    "-w",
                    "1",
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "redflask.wsgi:app",
                ],
                cwd=self.source,
                env=self.env,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if request(self.port, "GET", "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer on {self.port}; see {self.log}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


def reset_database(root_url: str, name: str) -> None:
    parts = urlsplit(root_url)
    conn = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username,
        password=parts.password or "",
        autocommit=True,
    )
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()


def need(ok: bool, what: object) -> None:
    if not ok:
        raise RuntimeError(f"unexpected answer: {what}")


def login(port: int, username: str, password: str) -> str:
    status, body = request(
        port, "POST", "/api/v1/auth/login", {"username": username, "password": password}
    )
    need(status == 200, (status, body))
    return body["access_token"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(port: int, admin_password: str, seconds: float) -> dict:
    """The load: 16 wrong-password changers and the GET / probe, for `seconds`."""
    admin_token = login(port, ADMIN, admin_password)
    victim_password = secrets.token_urlsafe(18)
    status, body = request(
        port,
        "POST",
        "/api/v1/users",
        {
            "username": "benchvictim",
            "password": victim_password,
            "nickname": "victim",
            "role": "user",
        },
        admin_token,
    )
    need(status == 201, (status, body))
    victim_id = body["id"]
    victim_token = login(port, "benchvictim", victim_password)

    stop = threading.Event()
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def attack() -> None:
        change = {
            "current_password": "wrong-" + secrets.token_hex(8),
            "new_password": secrets.token_urlsafe(18),
        }
        while not stop.is_set():
            try:
                code = request(
                    port, "PUT", f"/api/v1/users/{victim_id}/password", change, victim_token
                )[0]
            except OSError:
                code = -1
            with lock:
                statuses[code] = statuses.get(code, 0) + 1

    threads = [threading.Thread(target=attack, daemon=True) for _ in range(ATTACKERS)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # the attack is flowing before the probe starts
    latencies: list[float] = []
    failed = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            ok = request(port, "GET", "/", timeout=30)[0] == 200
        except OSError:
            ok = False
        latencies.append(time.monotonic() - started)
        failed += not ok
        time.sleep(max(0.0, PROBE_INTERVAL - (time.monotonic() - started)))
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return {
        "probes": len(latencies),
        "probe_failed": failed,
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "changes": dict(sorted(statuses.items())),
        "seconds": seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, required=True)
    parser.add_argument("--before", type=Path, required=True, help="the before app's source")
    parser.add_argument("--after", type=Path, required=True, help="the after app's source")
    parser.add_argument("--before-ref", required=True)
    parser.add_argument(
        "--mysql", default=os.environ.get("BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306")
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--uploads", type=Path, required=True, help="an empty directory")
    args = parser.parse_args()

    database = "redflask_bench_hashing"
    admin_password = secrets.token_urlsafe(18)
    parts = urlsplit(args.mysql)
    base_env = {
        "PATH": f"{args.venv / 'bin'}:{os.environ['PATH']}",
        "HOME": os.environ["HOME"],
        "APP_ENV": "production",
        "APP_SECRET_KEY": secrets.token_hex(32),
        "APP_DATABASE_URL": (
            f"mysql+pymysql://{parts.username}@{parts.hostname}:{parts.port or 3306}"
            f"/{database}?charset=utf8mb4"
        ),
        "APP_REDIS_URL": args.redis,
        "APP_UPLOAD_DIR": str(args.uploads),
        "APP_ADMIN_PASSWORD": admin_password,
        "APP_LOG_LEVEL": "WARNING",
    }
    unthrottled = {"APP_LOGIN_FREE_FAILURES": "100000", "APP_LOGIN_RATE_LIMIT_PER_IP": "100000"}
    variants = {
        "before": (args.before, {}),
        "after": (args.after, {}),
        "after-unthrottled": (args.after, unthrottled),
    }
    results: dict[str, list[dict]] = {name: [] for name in variants}
    for round_no in range(1, args.rounds + 1):
        for name, (source, extra) in variants.items():
            reset_database(args.mysql, database)
            env = {
                **base_env,
                **extra,
                "PYTHONPATH": str(source),
                "APP_REDIS_PREFIX": f"bench-hashing-{secrets.token_hex(4)}",
            }
            server = Server(args.venv, source, env, args.log)
            try:
                server.start()
                result = measure(server.port, admin_password, args.seconds)
            finally:
                server.stop()
            results[name].append(result)
            print(
                f"[bench] round {round_no} {name:<18} GET / p50 {result['p50'] * 1000:7.1f} ms"
                f"  p99 {result['p99'] * 1000:7.1f} ms  max {result['max'] * 1000:7.1f} ms"
                f"  ({result['probes']} probes, {result['probe_failed']} failed;"
                f" password changes by status {result['changes']})",
                flush=True,
            )
    reset_database(args.mysql, database)

    print()
    print(f"GET / while {ATTACKERS} clients send wrong-password changes (one gevent worker)")
    print(
        f"before = {args.before_ref}, after = the working tree; {args.rounds} alternated rounds"
        f" of {args.seconds:.0f} s each"
    )
    print(f"{'variant':<18} {'median p99':>11} {'p99 of each round':>34} {'hashes/s':>9}")
    for name, runs in results.items():
        p99s = [r["p99"] * 1000 for r in runs]
        # Every answer other than a 429 went through an argon2 verification.
        hashed = [
            sum(n for code, n in r["changes"].items() if code not in (429, -1)) / r["seconds"]
            for r in runs
        ]
        each = ", ".join(f"{p:.1f}" for p in p99s)
        print(
            f"{name:<18} {statistics.median(p99s):8.1f} ms {each:>31} ms"
            f" {statistics.median(hashed):9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
